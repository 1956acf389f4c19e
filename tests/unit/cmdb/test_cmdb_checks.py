"""The CMDB's nightly checks, in the check contract's shape."""

from __future__ import annotations

from datetime import date

import pytest
from click.testing import CliRunner

from runner.cli_cmdb import cmdb as cmdb_group
from runner.cmdb import CheckRow, Cmdb, cmdb_checks, load_cmdb
from tests.unit.cmdb.cmdb_support import EXAMPLE, TODAY

KEYS = {"check_id", "subject", "status", "value", "unit", "thresholds", "message", "host"}


@pytest.fixture(scope="module")
def example_cmdb() -> Cmdb:
    return load_cmdb(EXAMPLE, today=TODAY)


def _by(rows: list[CheckRow], check_id: str, host: str) -> list[CheckRow]:
    return [row for row in rows if row["check_id"] == check_id and row["host"] == host]


def test_every_row_has_the_contract_shape(example_cmdb: Cmdb) -> None:
    rows = cmdb_checks(example_cmdb, today=TODAY)

    assert rows and all(set(row) == KEYS for row in rows)
    assert {row["status"] for row in rows} <= {"ok", "warn"}


def test_stock_below_minimum_warns(example_cmdb: Cmdb) -> None:
    rows = cmdb_checks(example_cmdb, today=TODAY)

    stock = [row for row in rows if row["check_id"] == "cmdb.spares.stock"]
    assert len(stock) == 5
    assert [row for row in stock if row["status"] == "warn"] == [
        {
            "check_id": "cmdb.spares.stock",
            "subject": "SFP-10G-SR",
            "status": "warn",
            "value": 1,
            "unit": None,
            "thresholds": {"warn": 4, "worse": "lower"},
            "message": "1 in stock at hq/B0, minimum 4: re-order at least 3",
            "host": "cmdb",
        }
    ]
    at_minimum = [row for row in stock if row["subject"] == "PSU-R740-750W"]
    assert at_minimum[0]["status"] == "ok" and at_minimum[0]["value"] == 2


def test_warranty_ending_within_the_window_warns(example_cmdb: Cmdb) -> None:
    rows = cmdb_checks(example_cmdb, today=TODAY)

    assert _by(rows, "cmdb.warranty.end", "nas01") == [
        {
            "check_id": "cmdb.warranty.end",
            "subject": "",
            "status": "warn",
            "value": 33,
            "unit": "days",
            "thresholds": {"warn": 90, "worse": "lower"},
            "message": "the warranty ends on 2027-01-05, in 33 days",
            "host": "nas01",
        }
    ]
    assert _by(rows, "cmdb.warranty.end", "hv02")[0]["status"] == "ok"


def test_an_ended_warranty_is_a_warning_not_a_failure(example_cmdb: Cmdb) -> None:
    [row] = _by(cmdb_checks(example_cmdb, today=TODAY), "cmdb.warranty.end", "hv01")

    assert (row["status"], row["value"]) == ("warn", -277)
    assert row["message"] == "the warranty ended on 2026-03-01 (277 days ago)"


def test_support_contract_check_names_the_contract(example_cmdb: Cmdb) -> None:
    [row] = _by(cmdb_checks(example_cmdb, today=TODAY), "cmdb.support.end", "hv01")

    assert row["subject"] == "PS-55123"
    assert row["status"] == "warn" and row["value"] == 43
    assert row["message"] == "the support contract Dell PS-55123 ends on 2027-01-15, in 43 days"


def test_the_window_is_configurable(example_cmdb: Cmdb) -> None:
    rows = cmdb_checks(example_cmdb, today=TODAY, days=30)

    assert _by(rows, "cmdb.warranty.end", "nas01")[0]["status"] == "ok"
    assert _by(rows, "cmdb.warranty.end", "pc-0201")[0]["status"] == "warn"  # 12 days
    assert _by(rows, "cmdb.warranty.end", "nas01")[0]["thresholds"]["warn"] == 30


def test_the_last_day_is_inside_the_window(example_cmdb: Cmdb) -> None:
    day = date(2027, 1, 5)
    rows = cmdb_checks(example_cmdb, today=day, days=0)

    [row] = _by(rows, "cmdb.warranty.end", "nas01")
    assert (row["status"], row["message"]) == ("warn", "the warranty ends today (2027-01-05)")


def test_assets_out_of_service_are_not_checked(example_cmdb: Cmdb) -> None:
    rows = cmdb_checks(example_cmdb, today=TODAY)

    hosts = {row["host"] for row in rows}
    assert "pc-0103" not in hosts  # spare
    assert "sw-old01" not in hosts  # retired
    assert "bkp01" in hosts  # maintenance is still in service


def test_checks_command_lists_the_warnings() -> None:
    result = CliRunner().invoke(cmdb_group, ["checks", "-i", str(EXAMPLE)])

    assert result.exit_code == 0, result.output
    assert "warn  cmdb: cmdb.spares.stock SFP-10G-SR: 1 in stock at hq/B0" in result.stdout
    assert result.stdout.splitlines()[-1].endswith(" warn")
