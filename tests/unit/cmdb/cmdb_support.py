"""Paths and helpers shared by the CMDB tests (fixtures are in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
EXAMPLE = REPO / "inventory" / "example"
BASE = HERE / "cases" / "base"
VENV_BIN = Path(sys.executable).parent

#: The day the tests are judged on, so that ages and expiries do not move with the clock.
TODAY = date(2026, 12, 3)


def ansible_env(tmp_path: Path, fail_unparsed: bool = True) -> dict[str, str]:
    """The environment the runner gives Ansible: the repo's config, where an inventory
    source that cannot be parsed is an error; ``fail_unparsed=False`` restores Ansible's
    own default (a warning), to show the plugin yields no partial inventory even then."""
    env = dict(
        os.environ,
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
    )
    flag = str(fail_unparsed)
    env["ANSIBLE_INVENTORY_UNPARSED_FAILED"] = flag
    env["ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED"] = flag
    return env


def ansible_inventory(
    source: Path | str, tmp_path: Path, fail_unparsed: bool = True
) -> subprocess.CompletedProcess[str]:
    """``ansible-inventory -i SOURCE --list`` from the repository root."""
    return subprocess.run(
        [str(VENV_BIN / "ansible-inventory"), "-i", str(source), "--list"],
        cwd=REPO,
        env=ansible_env(tmp_path, fail_unparsed),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def ansible_playbook(
    source: Path | str, playbook: Path, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """``ansible-playbook -i SOURCE PLAYBOOK`` from the repository root."""
    return subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(source), str(playbook)],
        cwd=REPO,
        env=ansible_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
