from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest

from runner import config
from runner.cmdb import load_cmdb
from runner.cmdb.load import Cmdb
from runner.reports import assets
from runner.store import Store
from runner.store.db import ResultRow

TODAY = date(2026, 12, 3)


@pytest.fixture(scope="module")
def example() -> Cmdb:
    return load_cmdb(config.REPO_ROOT / "inventory" / "example", today=TODAY)


def _drift(store: Store, run_id: str, status: str, found: object) -> None:
    store.start_run(run_id, "census", "playbooks/census.yml", "manual", "t", "inv", None, ["hv01"])
    store.add_results(
        run_id,
        [
            ResultRow(
                "hv01",
                "cmdb.drift",
                "cpus",
                status,
                found,
                None,
                {"expect": 32, "status_if_not": "warn"},
                f"cpus found {found}",
            ),
            ResultRow(
                "hv01",
                "cmdb.drift",
                "os",
                "ok",
                "debian",
                None,
                {"expect": "debian", "status_if_not": "warn"},
                "os matches the record",
            ),
        ],
    )
    store.finish_run(run_id, "finished", 0, {"hv01": ("ok", None)})


def test_without_a_census_the_report_says_so(example: Cmdb, store: Store) -> None:
    report = assets.build(example, store, today=TODAY)
    assert report["census_run"] is None and report["drift"] == []
    assert report["summary"]["assets"] == len(example.assets)
    assert "no census in the store yet" in assets.render_html(report)


def test_drift_comes_first_from_the_newest_census(example: Cmdb, store: Store) -> None:
    _drift(store, "old", "warn", 8)
    _drift(store, "new", "warn", 16)
    report = assets.build(example, store, today=TODAY)
    assert report["census_run"]["id"] == "new"
    assert [(d["name"], d["field"], d["recorded"], d["found"]) for d in report["drift"]] == [
        ("hv01", "cpus", 32, 16)
    ]
    assert report["assets"][0]["name"] == "hv01"
    assert report["summary"]["with_drift"] == 1 and report["summary"]["compared"] == 1


def test_expiring_contracts_and_low_stock(example: Cmdb, store: Store) -> None:
    report = assets.build(example, store, today=TODAY)
    days = [e["days_left"] for e in report["expiring"]]
    assert days == sorted(days) and all(d <= report["expiry_warn_days"] for d in days)
    assert any(d < 0 for d in days)  # srv-br01's warranty ended in May 2026
    low = [s["part_number"] for s in report["spares"] if s["below_minimum"]]
    assert low == ["SFP-10G-SR"]


def test_csv_has_one_row_per_asset_with_its_drift(
    example: Cmdb, store: Store, tmp_path: Path
) -> None:
    _drift(store, "new", "warn", 16)
    html_path, csv_path = assets.write(assets.build(example, store, today=TODAY), tmp_path)
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    assert len(rows) == len(example.assets)
    assert list(rows[0]) == assets.CSV_COLUMNS
    hv01 = next(row for row in rows if row["name"] == "hv01")
    assert hv01["drift"] == "cpus found 16"
    assert html_path.name == "assets-2026-12-03.html" and "hv01" in html_path.read_text()
