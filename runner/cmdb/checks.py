"""CMDB checks for the nightly inspection: spare stock, warranty and support contract ends.

Each result has the shape of every other check result (the check contract), plus the
``host`` it is about:

``{"check_id", "subject", "status", "value", "unit", "thresholds", "message", "host"}``

* ``cmdb.spares.stock``, one per spare part, on the pseudo-host ``cmdb`` (stock belongs to
  no asset): ``warn`` when the quantity is below the minimum. At the minimum is ``ok``:
  the minimum is the level to keep, not the level that is already too low.
* ``cmdb.warranty.end`` and ``cmdb.support.end``, one per asset in use or in maintenance
  that records the date: the value is the number of days left (negative once ended);
  ``warn`` when it is at most the warning window (``expiry_warn_days``, 90 by default).
  An end that has passed is a ``warn`` too, not a ``fail``: running hardware out of
  warranty is often a decision, and a ``fail`` would open an incident every night that
  operations cannot resolve. The message says it has ended.
"""

from __future__ import annotations

from datetime import date
from typing import Any, TypedDict

from runner.cmdb.load import Cmdb
from runner.cmdb.model import ACTIVE_STATES, Asset, Spare

#: The host name under which checks that concern no asset (spare stock) are stored.
CMDB_HOST = "cmdb"


class CheckRow(TypedDict):
    """One verdict in the check contract's shape, with the host it is about."""

    check_id: str
    subject: str
    status: str
    value: Any
    unit: str | None
    thresholds: dict[str, Any]
    message: str
    host: str


def stock_check(spare: Spare) -> CheckRow:
    low = spare.quantity < spare.minimum
    where = spare.location.site + (f"/{spare.location.room}" if spare.location.room else "")
    message = f"{spare.quantity} in stock at {where}, minimum {spare.minimum}"
    if low:
        message += f": re-order at least {spare.minimum - spare.quantity}"
    return {
        "check_id": "cmdb.spares.stock",
        "subject": spare.part_number,
        "status": "warn" if low else "ok",
        "value": spare.quantity,
        "unit": None,
        "thresholds": {"warn": spare.minimum, "worse": "lower"},
        "message": message,
        "host": CMDB_HOST,
    }


def _expiry(
    check_id: str, asset: Asset, subject: str, what: str, end: date, today: date, days: int
) -> CheckRow:
    left = (end - today).days
    if left < 0:
        message = f"{what} ended on {end} ({-left} days ago)"
    elif left == 0:
        message = f"{what} ends today ({end})"
    else:
        message = f"{what} ends on {end}, in {left} days"
    return {
        "check_id": check_id,
        "subject": subject,
        "status": "warn" if left <= days else "ok",
        "value": left,
        "unit": "days",
        "thresholds": {"warn": days, "worse": "lower"},
        "message": message,
        "host": asset.name,
    }


def expiry_checks(asset: Asset, today: date, days: int) -> list[CheckRow]:
    """Warranty and support checks of one asset (none for assets not in service)."""
    if asset.state not in ACTIVE_STATES:
        return []
    rows = []
    if asset.warranty_end is not None:
        rows.append(
            _expiry("cmdb.warranty.end", asset, "", "the warranty", asset.warranty_end, today, days)
        )
    contract = asset.support_contract
    if contract is not None:
        name = " ".join(part for part in (contract.vendor, contract.id) if part)
        what = f"the support contract {name}" if name else "the support contract"
        rows.append(
            _expiry("cmdb.support.end", asset, contract.id or "", what, contract.end, today, days)
        )
    return rows


def cmdb_checks(cmdb: Cmdb, today: date | None = None, days: int | None = None) -> list[CheckRow]:
    """Every CMDB check: stock per spare part, then warranty and support per asset.

    ``days`` is the warning window; by default the CMDB's ``expiry_warn_days``.
    """
    today = today or date.today()
    window = cmdb.settings.expiry_warn_days if days is None else days
    rows = [stock_check(spare.record) for spare in cmdb.spares]
    for asset in cmdb.records():
        rows += expiry_checks(asset, today, window)
    return rows
