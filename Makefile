# Opskeeper's two commands: `make demo` and `make test`. Both do all set-up on a fresh
# Debian 12 machine (as root, or as a user with sudo), are idempotent, and are quick the
# second time: each step leaves a stamp and runs again only when its inputs change.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STATE := var
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

# Debian packages the controller needs: the lab (debootstrap, unshare and mount from
# util-linux, ssh), the venv, git, and Graphviz for `opskeeper cmdb graph`.
DEBS := debootstrap util-linux mount openssh-client python3-venv git ca-certificates graphviz
# What only the tests need: a PostgreSQL server they start themselves.
TEST_DEBS := postgresql

.PHONY: help demo test lint unit integration debs test-debs install-debs venv dev lab-up lab-down clean switches-venv bench

help:
	@echo "make demo   bring the lab up, run the nightly inspection, write its report"
	@echo "make test   lint and run the whole test suite (unit, integration, molecule)"
	@echo "make lab-down   stop the lab"

debs:
	@$(MAKE) --no-print-directory install-debs PACKAGES="$(DEBS)"

test-debs:
	@$(MAKE) --no-print-directory install-debs PACKAGES="$(DEBS) $(TEST_DEBS)"

install-debs:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: $(BIN)/activate requirements.txt pyproject.toml
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# fake-switches (the lab's simulated IOS switches) pins a Twisted that does not build on
# Python 3.11: it gets its own venv, without its pins, next to current Twisted and friends.
SWITCH_VENV := .venv-switches
$(SWITCH_VENV)/.stamp:
	$(PYTHON) -m venv $(SWITCH_VENV)
	$(SWITCH_VENV)/bin/pip install -q --disable-pip-version-check --no-deps fake-switches
	$(SWITCH_VENV)/bin/pip install -q --disable-pip-version-check "twisted[conch]" netaddr lxml tftpy
	touch $@

switches-venv: $(SWITCH_VENV)/.stamp

venv: debs $(VENV)/.runtime
dev: test-debs $(VENV)/.dev

$(STATE):
	mkdir -p -m 700 $(STATE)

lab-up: venv switches-venv | $(STATE)
	$(SUDO) $(BIN)/opskeeper lab up

lab-down:
	$(SUDO) $(BIN)/opskeeper lab down

# The inspection exits 3, 4 or 5 when it finds failures or unreachable hosts: that is a
# report, not a broken demo.
demo: lab-up
	@rc=0; $(BIN)/opskeeper inspect || rc=$$?; \
	if [ $$rc -ne 0 ] && [ $$rc -lt 3 ]; then exit $$rc; fi

# The inspection benchmark (bench/, README "Performance"): its own lab on 127.0.11.N over the
# built-in lab's base, so it runs beside the lab. BENCH_ARGS="--sizes 10 --repeats 1" shrinks it.
bench: venv | $(STATE)
	$(SUDO) env "PATH=$(abspath $(BIN)):$$PATH" $(BIN)/python -m bench $(BENCH_ARGS)

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/ansible-lint --profile production playbooks/ roles/

unit: dev
	$(BIN)/pytest tests/unit

integration: dev switches-venv | $(STATE)
	$(SUDO) env "PATH=$(abspath $(BIN)):$$PATH" $(BIN)/pytest tests/integration

test: lint switches-venv | $(STATE)
	$(SUDO) env "PATH=$(abspath $(BIN)):$$PATH" $(BIN)/pytest tests

clean: lab-down
	rm -rf $(VENV) $(SWITCH_VENV) .mypy_cache .ruff_cache .pytest_cache
