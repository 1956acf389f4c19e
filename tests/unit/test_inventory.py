from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import ConfigError
from runner.inventory import check_numeric_variables, numeric_options, resolve_targets

INVENTORY = """\
all:
  children:
    linux:
      hosts:
        web01: {ansible_host: 127.0.0.1}
        db01: {ansible_host: 127.0.0.1, demo_disk_warn: "eighty"}
    other:
      hosts:
        sw01: {}
"""

SPECS = """\
argument_specs:
  main:
    options:
      demo_disk_warn: {type: float, default: 80}
      demo_retries: {type: int, default: 3}
      demo_paths: {type: list, default: []}
"""


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "hosts.yml"
    path.write_text(INVENTORY)
    return path


@pytest.fixture
def roles(tmp_path: Path) -> Path:
    meta = tmp_path / "roles" / "demo" / "meta"
    meta.mkdir(parents=True)
    (meta / "argument_specs.yml").write_text(SPECS)
    return tmp_path / "roles"


def test_pattern_and_limit_select_hosts(inventory: Path) -> None:
    assert sorted(resolve_targets(inventory, "linux", None).hosts) == ["db01", "web01"]
    assert resolve_targets(inventory, "linux", "web01").hosts == ["web01"]


def test_unknown_host_in_limit_names_it_and_the_known_hosts(inventory: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"--limit: 'web99' matches no host in .*hosts\.yml; "
        r"known hosts: db01, sw01, web01",
    ):
        resolve_targets(inventory, "linux", "web01,web99")


def test_limit_outside_the_play_is_refused(inventory: Path) -> None:
    with pytest.raises(ConfigError, match=r"no host of .* is in 'linux' within --limit 'sw01'"):
        resolve_targets(inventory, "linux", "sw01")


def test_missing_inventory(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"inventory .*nowhere\.yml does not exist; pass "
        r"--inventory",
    ):
        resolve_targets(tmp_path / "nowhere.yml", "linux", None)


def test_unparsable_inventory(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("all:\n  hosts: [unclosed\n")
    with pytest.raises(ConfigError) as caught:
        resolve_targets(broken, "linux", None)
    message = str(caught.value)
    assert "broken.yml cannot be parsed: Completely failed to parse" in message
    assert "did not find expected ',' or ']'" in message
    assert message.endswith("check it with `ansible-inventory -i PATH --list`")


def test_numeric_options_come_from_argument_specs(roles: Path) -> None:
    assert numeric_options(roles) == {
        "demo_disk_warn": ("demo", "float"),
        "demo_retries": ("demo", "int"),
    }


def test_a_threshold_that_is_not_a_number_is_refused(inventory: Path, roles: Path) -> None:
    targets = resolve_targets(inventory, "linux", None)
    with pytest.raises(ConfigError) as caught:
        check_numeric_variables(targets, roles)
    assert str(caught.value) == (
        f"{inventory}: host 'db01': variable 'demo_disk_warn' (role demo) is 'eighty'; "
        "expected a number (float): set it in the host's or group's vars"
    )


def test_numbers_as_strings_and_templates_pass(inventory: Path, roles: Path) -> None:
    inventory.write_text(INVENTORY.replace('"eighty"', '"85.5"'))
    check_numeric_variables(resolve_targets(inventory, "linux", None), roles)
    inventory.write_text(INVENTORY.replace('"eighty"', '"{{ 80 + 5 }}"'))
    check_numeric_variables(resolve_targets(inventory, "linux", None), roles)
