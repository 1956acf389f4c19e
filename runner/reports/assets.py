"""The asset report for the quarterly review: every record of the CMDB beside what the
newest census said about it, drift first, with warranty and support ends and spare stock;
then what the census could not compare: assets in use that no census play covers, and the
addresses the discovery sweep found without a record.

Rendered from the CMDB files and the store (the newest run that compared them), as HTML
for people and CSV for spreadsheets.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from runner import config
from runner.cmdb.load import Cmdb
from runner.cmdb.reconcile import coverage_gap
from runner.fsutil import write_atomic
from runner.reports.render import environment
from runner.store import Store
from runner.store.db import as_utc
from runner.store.models import CheckResult, Host, Run

DRIFT_CHECK = "cmdb.drift"
COVERAGE_CHECK = "cmdb.coverage"
UNRECORDED_CHECK = "cmdb.unrecorded"

CSV_COLUMNS = [
    "tag",
    "name",
    "kind",
    "platform",
    "state",
    "criticality",
    "owner",
    "department",
    "site",
    "room",
    "rack",
    "vendor",
    "model",
    "serial",
    "management_address",
    "purchase_date",
    "warranty_end",
    "warranty_days_left",
    "support_end",
    "support_days_left",
    "last_seen",
    "drift",
    "census",
]

#: The ``census`` column of an address the discovery sweep found without a record.
UNRECORDED = "found but not recorded"


def _drift_run(store: Store, names: set[str]) -> tuple[Run | None, dict[str, list[dict[str, Any]]]]:
    """The newest ended run that compared these assets with a census, and its drift rows."""
    with store.session() as session:
        run = session.scalars(
            select(Run)
            .join(CheckResult, CheckResult.run_id == Run.id)
            .join(Host, Host.id == CheckResult.host_id)
            .where(
                CheckResult.check_id == DRIFT_CHECK, Host.name.in_(names), Run.status == "finished"
            )
            .order_by(Run.started_at.desc())
            .limit(1)
        ).first()
        drift: dict[str, list[dict[str, Any]]] = {}
        if run is None:
            return None, drift
        rows = session.execute(
            select(Host.name, CheckResult)
            .join(Host, Host.id == CheckResult.host_id)
            .where(CheckResult.run_id == run.id, CheckResult.check_id == DRIFT_CHECK)
        )
        for name, result in rows:
            drift.setdefault(name, []).append(
                {
                    "field": result.subject,
                    "status": result.status,
                    "recorded": (result.thresholds or {}).get("expect"),
                    "found": result.value,
                    "message": result.message,
                }
            )
        return run, drift


def _gaps(store: Store, run: Run | None) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """What that run could not compare: asset name -> why it was not covered, and the
    addresses its discovery sweep found without a record."""
    if run is None:
        return {}, []
    with store.session() as session:
        rows = session.execute(
            select(Host.name, CheckResult)
            .join(Host, Host.id == CheckResult.host_id)
            .where(
                CheckResult.run_id == run.id,
                CheckResult.check_id.in_((COVERAGE_CHECK, UNRECORDED_CHECK)),
            )
        )
        uncovered: dict[str, str] = {}
        unrecorded: list[dict[str, Any]] = []
        for name, result in rows:
            if result.check_id == COVERAGE_CHECK:
                uncovered[name] = result.message or ""
                continue
            found = result.value if isinstance(result.value, dict) else {}
            unrecorded.append(
                {
                    "address": name,
                    "ports": list(found.get("ports") or []),
                    "banner": found.get("banner"),
                    "message": result.message,
                }
            )
    return uncovered, unrecorded


def _last_seen(store: Store, names: set[str]) -> dict[str, str]:
    with store.session() as session:
        rows = session.execute(select(Host.name, Host.last_seen).where(Host.name.in_(names)))
        return {name: as_utc(seen).isoformat(timespec="seconds") for name, seen in rows}


def _days(end: date | None, today: date) -> int | None:
    return (end - today).days if end else None


def build(cmdb: Cmdb, store: Store, today: date | None = None) -> dict[str, Any]:
    """The asset report as a dictionary: summary, drift, expiring contracts, stock, assets."""
    today = today or date.today()
    window = cmdb.settings.expiry_warn_days
    names = {item.record.name for item in cmdb.assets}
    run, drift = _drift_run(store, names)
    uncovered, unrecorded = _gaps(store, run)
    seen = _last_seen(store, names)

    assets: list[dict[str, Any]] = []
    for item in cmdb.assets:
        record = item.record
        support_end = record.support_contract.end if record.support_contract else None
        findings = [d for d in drift.get(record.name, []) if d["status"] != "ok"]
        assets.append(
            {
                "tag": record.tag,
                "name": record.name,
                "kind": record.kind,
                "platform": record.platform,
                "state": record.state,
                "criticality": record.criticality,
                "owner": record.owner,
                "department": record.department,
                "site": record.location.site if record.location else None,
                "room": record.location.room if record.location else None,
                "rack": record.location.rack if record.location else None,
                "vendor": record.vendor,
                "model": record.model,
                "serial": record.serial,
                "management_address": record.management_address,
                "purchase_date": str(record.purchase_date) if record.purchase_date else None,
                "warranty_end": str(record.warranty_end) if record.warranty_end else None,
                "warranty_days_left": _days(record.warranty_end, today),
                "support_end": str(support_end) if support_end else None,
                "support_days_left": _days(support_end, today),
                "host": record.is_host(),
                "last_seen": seen.get(record.name),
                "compared": record.name in drift,
                "drift": findings,
                "not_covered": coverage_gap(record) if record.name in uncovered else None,
                "file": str(item.entry.file),
            }
        )
    assets.sort(key=lambda a: (not a["drift"], a["kind"], a["name"]))

    expiring = sorted(
        (
            {
                "name": a["name"],
                "tag": a["tag"],
                "what": what,
                "end": a[f"{key}_end"],
                "days_left": a[f"{key}_days_left"],
            }
            for a in assets
            for key, what in (("warranty", "warranty"), ("support", "support contract"))
            if a[f"{key}_days_left"] is not None
            and a[f"{key}_days_left"] <= window
            and a["state"] not in ("retired",)
        ),
        key=lambda e: e["days_left"],
    )
    spares = [
        {
            "part_number": s.record.part_number,
            "model": s.record.model,
            "quantity": s.record.quantity,
            "minimum": s.record.minimum,
            "below_minimum": s.record.quantity < s.record.minimum,
            "location": s.record.location.site
            + (f"/{s.record.location.room}" if s.record.location.room else ""),
        }
        for s in cmdb.spares
    ]

    def count(key: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for asset in assets:
            counts[str(asset[key])] = counts.get(str(asset[key]), 0) + 1
        return dict(sorted(counts.items()))

    return {
        "report": "assets",
        "generated_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "cmdb": str(cmdb.root),
        "today": today.isoformat(),
        "expiry_warn_days": window,
        "census_run": (
            {
                "id": run.id,
                "kind": run.kind,
                "started_at": as_utc(run.started_at).isoformat(timespec="seconds"),
            }
            if run
            else None
        ),
        "summary": {
            "assets": len(assets),
            "with_drift": sum(1 for a in assets if a["drift"]),
            "compared": sum(1 for a in assets if a["compared"]),
            "expiring": len(expiring),
            "spares_below_minimum": sum(1 for s in spares if s["below_minimum"]),
            "not_covered": sum(1 for a in assets if a["not_covered"]),
            "unrecorded": len(unrecorded),
            "by_kind": count("kind"),
            "by_state": count("state"),
            "by_site": count("site"),
            "by_criticality": count("criticality"),
        },
        "drift": [
            {"name": a["name"], "tag": a["tag"], **finding}
            for a in assets
            for finding in a["drift"]
        ],
        "not_covered": [
            {
                "name": a["name"],
                "tag": a["tag"],
                "platform": a["platform"],
                "kind": a["kind"],
                "message": a["not_covered"],
            }
            for a in assets
            if a["not_covered"]
        ],
        "unrecorded": unrecorded,
        "expiring": expiring,
        "spares": spares,
        "assets": assets,
    }


def render_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for asset in report["assets"]:
        row = {key: ("" if value is None else value) for key, value in asset.items()}
        row["drift"] = "; ".join(finding["message"] for finding in asset["drift"])
        row["census"] = asset["not_covered"] or ""
        writer.writerow(row)
    # An address without a record has no asset row: it gets one of its own, so that the
    # spreadsheet lists everything that needs a person.
    for found in report["unrecorded"]:
        writer.writerow(
            {
                "management_address": found["address"],
                "drift": found["message"],
                "census": UNRECORDED,
            }
        )
    return out.getvalue()


def render_html(report: dict[str, Any]) -> str:
    return environment().get_template("assets.html.j2").render(r=report)


def write(report: dict[str, Any], folder: Path | None = None) -> tuple[Path, Path]:
    """Write the asset report as HTML and CSV; return both paths."""
    folder = folder or config.reports_dir()
    stem = f"assets-{report['today']}"
    html_path = write_atomic(folder / f"{stem}.html", render_html(report))
    csv_path = write_atomic(folder / f"{stem}.csv", render_csv(report))
    return html_path, csv_path
