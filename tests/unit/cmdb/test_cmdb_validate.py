"""Validation: the example is valid, and every malformed case is refused with its messages.

Each file in ``cases/`` (other than the ``base`` CMDB) adds or replaces files of a copy
of ``cases/base`` and lists every message, in order, that validation must print. The
same messages come out of ``opskeeper cmdb validate``, which then exits 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from runner.cli_cmdb import cmdb as cmdb_group
from runner.cmdb import CmdbInvalid, check_cmdb, inventory_hosts, load_cmdb
from tests.unit.cmdb.cmdb_support import EXAMPLE, HERE, TODAY

CASES = sorted((HERE / "cases").glob("*.yml"))


def _case(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def _apply(case: dict[str, Any], root: Path) -> list[str]:
    for relative, text in case["files"].items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return [line.replace("{root}", str(root)) for line in case["expect"]]


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 30
    for path in CASES:
        case = _case(path)
        assert case["description"] and case["files"] and case["expect"], path.name


def test_the_base_of_the_cases_is_valid(base: Path) -> None:
    assert check_cmdb(base, today=TODAY)[1] == []


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_malformed_cmdb_is_refused_with_every_message(path: Path, base: Path) -> None:
    expected = _apply(_case(path), base)

    found, problems = check_cmdb(base, today=TODAY)

    assert found is None
    assert [str(problem) for problem in problems] == expected
    with pytest.raises(CmdbInvalid) as raised:
        load_cmdb(base, today=TODAY)
    assert str(raised.value).splitlines() == expected


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_validate_command_prints_every_message_and_exits_1(path: Path, base: Path) -> None:
    expected = _apply(_case(path), base)

    result = CliRunner().invoke(cmdb_group, ["validate", str(base)])

    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == expected
    count = f"{len(expected)} problem{'s' if len(expected) != 1 else ''}"
    assert f"{base}: {count}; the CMDB is not valid" in result.stderr


def test_example_is_valid() -> None:
    cmdb = load_cmdb(EXAMPLE, today=TODAY)

    assert len(cmdb.assets) == 29
    assert len(cmdb.spares) == 5
    kinds = {item.record.kind for item in cmdb.assets}
    assert kinds == {
        "server",
        "vm",
        "switch",
        "router",
        "firewall",
        "pc",
        "printer",
        "copier",
        "storage",
        "service",
    }


def test_validate_command_on_the_example() -> None:
    result = CliRunner().invoke(cmdb_group, ["validate", str(EXAMPLE)])

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "inventory/example: valid (29 assets, 22 inventory hosts, 5 spare parts, 7 files)\n"
    )


def test_validate_defaults_to_the_repository_inventories() -> None:
    result = CliRunner().invoke(cmdb_group, ["validate"])

    assert result.exit_code == 0, result.output
    assert "valid (" in result.stdout


def test_validate_checks_every_folder_given(base: Path) -> None:
    (base / "assets" / "empty.yml").write_text("", encoding="utf-8")

    result = CliRunner().invoke(cmdb_group, ["validate", str(EXAMPLE), str(base)])

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "inventory/example: valid (29 assets, 22 inventory hosts, 5 spare parts, 7 files)",
        f"{base}/assets/empty.yml:1: the file is empty; add an 'assets:' or 'spares:' list, "
        "or delete the file",
    ]


def test_a_folder_without_cmdb_yml_is_one_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cmdb_group, ["validate", str(tmp_path)])

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {tmp_path} has no cmdb.yml; create one with the line "
        "'plugin: opskeeper_cmdb' (see docs/CMDB.md), or give another folder\n"
    )


def test_a_validated_edit_sees_the_new_text(base: Path) -> None:
    """``texts`` lets a change be validated before it is written."""
    target = (base / "assets" / "base.yml").resolve()
    broken = target.read_text(encoding="utf-8").replace("criticality: medium", "criticality: hi")

    found, problems = check_cmdb(base, today=TODAY, texts={target: broken})

    assert found is None
    assert [problem.text for problem in problems] == [
        "asset 'vm1' (B-2): field 'criticality' is 'hi'; expected one of: low, medium, high, "
        "critical"
    ]
    assert load_cmdb(base, today=TODAY).get("vm1") is not None


def test_inventory_targets_no_spare_retired_or_service() -> None:
    cmdb = load_cmdb(EXAMPLE, today=TODAY)
    hosts = {host.name: host for host in inventory_hosts(cmdb)}

    states = {item.record.name: item.record.state for item in cmdb.assets}
    assert states["pc-0103"] == "spare" and "pc-0103" not in hosts
    assert states["sw-old01"] == "retired" and "sw-old01" not in hosts
    assert not any(name.startswith("svc-") for name in hosts)
    assert "lifecycle_maintenance" in hosts["bkp01"].groups
    assert "lifecycle_planned" in hosts["srv-br02"].groups
    assert hosts["ops01"].variables["ansible_connection"] == "local"
    assert "ansible_host" not in hosts["ops01"].variables
    assert hosts["vm-db01"].groups == [
        "criticality_critical",
        "kind_vm",
        "lifecycle_in_use",
        "linux",
        "platform_linux",
        "site_hq",
    ]
    assert hosts["vm-db01"].variables["cmdb"]["site"] == "hq"
