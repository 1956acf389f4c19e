"""``opskeeper cmdb`` and ``opskeeper spares``: the CMDB on the command line.

Both groups are registered on the main command in :mod:`runner.cli`. Each also stands
alone (tests invoke them directly), so each turns an :class:`OpskeeperError` into
``error:`` lines on stderr and exit code 1 itself.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from runner import config
from runner.cli_support import EXIT_ERROR, OpskeeperGroup
from runner.errors import OpskeeperError

if TYPE_CHECKING:
    from runner.cmdb.load import Cmdb
    from runner.cmdb.reconcile import Finding

console = Console()


_inventory_option = click.option(
    "-i",
    "--inventory",
    type=click.Path(path_type=Path),
    default=None,
    help="CMDB folder (or its cmdb.yml). Default: inventory/lab when it is a CMDB, "
    "else inventory/example.",
)


def _root(inventory: Path | None) -> Path:
    from runner.cmdb.load import default_root

    return inventory if inventory is not None else default_root()


def _shown(path: Path) -> str:
    from runner.cmdb.source import shown_path

    return shown_path(path)


@click.group(cls=OpskeeperGroup)
def cmdb() -> None:
    """Validate the CMDB, show what depends on an asset, draw its relations."""


@cmdb.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Check CMDB folders and print every problem, each with file and line.

    Default: the inventory folders of the repository that hold a cmdb.yml (the example
    when no other is a CMDB yet). Exits 1 when any problem is found.
    """
    from runner.cmdb.inventory import inventory_hosts
    from runner.cmdb.load import check_cmdb, default_roots

    roots = list(paths) or default_roots()
    if not roots:
        raise OpskeeperError(
            f"no folder under {config.REPO_ROOT / 'inventory'} holds a cmdb.yml; "
            "give the CMDB folder to validate"
        )
    failed = 0
    for root in roots:
        found, problems = check_cmdb(root)
        if found is None:
            failed += 1
            for problem in problems:
                click.echo(str(problem))
            count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
            click.echo(f"{_shown(root)}: {count}; the CMDB is not valid", err=True)
            continue
        hosts = len(inventory_hosts(found))
        click.echo(
            f"{_shown(root)}: valid ({len(found.assets)} assets, {hosts} inventory hosts, "
            f"{len(found.spares)} spare parts, {len(found.files)} files)"
        )
    if failed:
        sys.exit(EXIT_ERROR)


@cmdb.command()
@click.argument("asset")
@_inventory_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a tree.")
def impact(asset: str, inventory: Path | None, as_json: bool) -> None:
    """List everything that depends on ASSET (a name or tag), transitively.

    Follows runs_on and depends_on backwards; cables (connected_to) and backups
    (backed_up_to) are not dependence.
    """
    from runner.cmdb.load import load_cmdb
    from runner.cmdb.relations import impact as find_impact
    from runner.cmdb.relations import impact_tree

    start, impacted = find_impact(load_cmdb(_root(inventory)), asset)
    if as_json:
        rows = [
            {
                "asset": item.asset.name,
                "tag": item.asset.tag,
                "kind": item.asset.kind,
                "criticality": item.asset.criticality,
                "depth": item.depth,
                "path": list(item.path),
                "via": list(item.via),
            }
            for item in impacted
        ]
        click.echo(json.dumps({"asset": start.name, "impacted": rows}, indent=2))
        return
    for line in impact_tree(start, impacted):
        click.echo(line)
    if impacted:
        critical = sum(1 for item in impacted if item.asset.criticality == "critical")
        assets = "1 asset depends" if len(impacted) == 1 else f"{len(impacted)} assets depend"
        click.echo(f"{assets} on {start.name} ({critical} critical)")
    else:
        click.echo(f"nothing depends on {start.name}")


@cmdb.command()
@_inventory_option
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for cmdb.dot and cmdb.svg. Default: the reports folder's cmdb/.",
)
def graph(inventory: Path | None, output: Path | None) -> None:
    """Write the assets and their relations as Graphviz DOT and SVG."""
    from runner.cmdb.load import load_cmdb
    from runner.cmdb.relations import write_graph

    found = load_cmdb(_root(inventory))
    try:
        folder = output or config.reports_dir() / "cmdb"
    except OSError as exc:
        raise OpskeeperError(
            f"cannot create the reports folder: {exc.filename}: {exc.strerror}; point "
            f"{config.STATE_DIR_ENV} at a folder you can write to, or give -o a folder"
        ) from exc
    try:
        files = write_graph(found, folder)
    except OSError as exc:
        # A parent that is a file is worth naming; the folder or a temporary file in it is not.
        failed = Path(exc.filename) if exc.filename else folder
        where = "" if folder in (failed, failed.parent) else f"{failed}: "
        raise OpskeeperError(
            f"cannot write the graph to {folder}: {where}{exc.strerror}; "
            "give -o a folder you can create and write to"
        ) from exc
    click.echo(f"graph: {files.dot}\n       {files.svg}")


@cmdb.command()
@_inventory_option
@click.option("--days", type=click.IntRange(min=0), help="Warning window (default: the CMDB's).")
@click.option("--all", "show_all", is_flag=True, help="Also list the checks that are ok.")
def checks(inventory: Path | None, days: int | None, show_all: bool) -> None:
    """Show the CMDB's nightly checks: spare stock, warranty and support ends."""
    from runner.cmdb.checks import cmdb_checks
    from runner.cmdb.load import load_cmdb

    rows = cmdb_checks(load_cmdb(_root(inventory)), today=date.today(), days=days)
    shown = [row for row in rows if show_all or row["status"] != "ok"]
    for row in shown:
        subject = f" {row['subject']}" if row["subject"] else ""
        click.echo(
            f"{row['status']:>4}  {row['host']}: {row['check_id']}{subject}: {row['message']}"
        )
    warned = sum(1 for row in rows if row["status"] != "ok")
    click.echo(f"{len(rows)} checks: {len(rows) - warned} ok, {warned} warn")


_output_option = click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Report folder (default var/reports).",
)


def _write_asset_report(root: Path, output: Path | None) -> None:
    from runner.cmdb.load import load_cmdb
    from runner.reports import assets
    from runner.store import open_store

    report = assets.build(load_cmdb(root), open_store())
    html_path, csv_path = assets.write(report, output)
    summary = report["summary"]
    click.echo(
        f"{summary['assets']} assets, {summary['with_drift']} with drift, "
        f"{summary['expiring']} contract ends within {report['expiry_warn_days']} days, "
        f"{summary['spares_below_minimum']} spare parts below minimum"
    )
    click.echo(f"asset report: {html_path}\n              {csv_path}")


def _say_gaps(found: Cmdb, gaps: list[Finding], swept: bool, limit: str | None) -> None:
    """What the census could not compare: assets without a probe, and the discovery sweep."""
    uncovered = [gap for gap in gaps if gap.kind == "not_covered"]
    if uncovered:
        click.echo(
            f"not covered: {len(uncovered)} asset{'s' if len(uncovered) != 1 else ''} in use "
            "that the census has no probe for, so never compared: "
            + ", ".join(gap.asset for gap in uncovered)
        )
    settings = found.settings.discovery
    if settings is None:
        click.echo("discovery: not configured (a 'discovery' section in cmdb.yml, docs/CMDB.md)")
    elif not swept:
        click.echo(f"discovery: skipped, the census is limited to {limit}")
    else:
        unrecorded = sum(1 for gap in gaps if gap.kind == "unrecorded")
        click.echo(
            f"discovery: {', '.join(settings.networks)} on TCP "
            f"{', '.join(str(port) for port in settings.ports)}: {unrecorded} "
            f"address{'es' if unrecorded != 1 else ''} found but not recorded"
        )


@cmdb.command()
@_inventory_option
@click.option("-l", "--limit", help="Ansible host pattern to narrow the census.")
@click.option(
    "--propose",
    is_flag=True,
    help="Also write the record changes the census suggests as a patch to review.",
)
@_output_option
def reconcile(
    inventory: Path | None, limit: str | None, propose: bool, output: Path | None
) -> None:
    """Take a census of the hosts and compare it with the CMDB's records.

    Prints fields that differ, hosts found but not recorded (by the census, and by the
    discovery sweep of the networks in cmdb.yml), assets recorded in use but not reachable,
    and assets in use that no census play covers; records them as checks of a census run
    (cmdb.drift, cmdb.unrecorded, cmdb.coverage); writes the asset report (HTML and CSV).
    With --propose, the suggested record changes go to a patch file for a person to review
    and apply: the CMDB files are never rewritten.
    """
    from runner import inspection
    from runner.cli_support import host_progress, install_cancel, require_lab_up
    from runner.cmdb.reconcile import reconcile as compare
    from runner.cmdb.reconcile import write_patch
    from runner.store import open_store

    root = _root(inventory)
    require_lab_up(root)
    job = inspection.plan("census", root, limit=limit)
    assert job.cmdb is not None  # _root() always names a CMDB folder
    store = open_store()
    store.reap_stale_runs()
    with host_progress("census of") as on_host:
        result = inspection.run(store, job, progress=on_host, cancel=install_cancel())
    if result.status == "interrupted":
        raise OpskeeperError(f"census {result.run_id} was interrupted; nothing was compared")

    census, expected = inspection.census_of(result.census, result.hosts)
    findings = compare(job.cmdb, census, expected=expected) + job.gaps
    for finding in findings:
        click.echo(f"{finding.kind:>11}  {finding.asset}: {finding.message}")
    click.echo(
        f"census {result.run_id}: {len(result.census)} hosts answered, "
        f"{len(findings)} finding{'s' if len(findings) != 1 else ''}"
    )
    _say_gaps(job.cmdb, job.gaps, job.swept, limit)
    if propose:
        folder = output or config.reports_dir()
        proposal = write_patch(job.cmdb, findings, folder / f"cmdb-{result.run_id}.patch")
        for problem in proposal.problems:
            click.echo(f"note: after the patch: {problem}")
        if proposal.patch:
            click.echo(
                f"proposal: {proposal.patch} ({len(proposal.changes)} record changes; "
                f"review it, then `git apply` it); {len(proposal.not_proposed)} findings "
                "need a person"
            )
        else:
            click.echo("proposal: nothing the census can correct by itself")
    _write_asset_report(root, output)


@cmdb.command()
@_inventory_option
@_output_option
def report(inventory: Path | None, output: Path | None) -> None:
    """Write the asset report (HTML and CSV) for the quarterly review.

    Every record beside what the newest census or inspection said about it, drift first,
    with warranty and support ends and spare stock.
    """
    _write_asset_report(_root(inventory), output)


@cmdb.command()
@click.option("--asset", help="Only the entries about this asset.")
@click.option("--action", help="Only this action, e.g. spares.replace.")
@click.option(
    "-n", "--number", default=20, show_default=True, type=click.IntRange(min=1), help="Entries."
)
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON.")
def audit(asset: str | None, action: str | None, number: int, as_json: bool) -> None:
    """List the audit trail of CMDB changes, newest first: who did what, when, to which asset."""
    from sqlalchemy import select

    from runner.store import open_store
    from runner.store.models import AuditEntry

    with open_store().session() as session:
        query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        if asset:
            query = query.where(AuditEntry.asset == asset)
        if action:
            query = query.where(AuditEntry.action == action)
        entries: list[dict[str, Any]] = [
            {
                "id": entry.id,
                "at": f"{entry.at:%Y-%m-%dT%H:%M:%S}Z",
                "actor": entry.actor,
                "action": entry.action,
                "asset": entry.asset,
                "details": entry.details,
            }
            for entry in session.scalars(query.limit(number))
        ]
    if as_json:
        click.echo(json.dumps(entries, indent=2, sort_keys=True))
        return
    if not entries:
        click.echo("no audit entry in the store matches")
        return
    table = Table()
    for column in ("id", "at (UTC)", "who", "action", "asset", "details"):
        table.add_column(column)
    for entry in entries:
        details = ", ".join(f"{key}={value}" for key, value in sorted(entry["details"].items()))
        table.add_row(
            str(entry["id"]),
            entry["at"].replace("T", " ").rstrip("Z"),
            entry["actor"],
            entry["action"],
            entry["asset"] or "-",
            details,
        )
    console.print(table)


@click.group(cls=OpskeeperGroup)
def spares() -> None:
    """The spare parts store: stock, receiving, issuing and replacing parts."""


@spares.command("list")
@_inventory_option
def spares_list(inventory: Path | None) -> None:
    """List every spare part with its stock; parts below their minimum are marked."""
    from runner.cmdb.load import load_cmdb

    found = load_cmdb(_root(inventory))
    table = Table(title=f"Spare parts in {_shown(found.root)}", title_justify="left")
    for column in ("part", "model", "stock", "min", "location", "fits"):
        table.add_column(column, overflow="fold")
    below = 0
    for item in found.spares:
        part = item.record
        low = part.quantity < part.minimum
        below += low
        place = "/".join(
            value
            for value in (part.location.site, part.location.room, part.location.shelf)
            if value
        )
        table.add_row(
            part.part_number,
            part.model,
            f"[yellow]{part.quantity}[/yellow]" if low else str(part.quantity),
            str(part.minimum),
            place,
            ", ".join([*part.compatible_models, *part.compatible_assets]),
        )
    console.print(table)
    click.echo(f"{len(found.spares)} parts, {below} below their minimum")


def _done(change: Any) -> None:
    asset = f" for {change.asset}" if change.asset else ""
    files = ", ".join(_shown(path) for path in change.files)
    click.echo(
        f"{change.action} {change.part_number}{asset}: stock {change.before} -> {change.after}; "
        f"wrote {files}; audit entry {change.audit_id}"
    )


@spares.command()
@click.argument("part")
@click.argument("quantity", type=int)
@_inventory_option
@click.option("--note", help="Delivery note or order number, for the audit log.")
def receive(part: str, quantity: int, inventory: Path | None, note: str | None) -> None:
    """Add QUANTITY of PART to the stock."""
    from runner.cmdb import spares as store_ops

    _done(store_ops.receive(_root(inventory), part, quantity, note=note))


@spares.command()
@click.argument("part")
@click.argument("quantity", type=int)
@click.option("--to", "asset", required=True, help="The asset (name or tag) that gets them.")
@_inventory_option
@click.option("--reason", help="Why, for the asset's parts history and the audit log.")
def issue(part: str, quantity: int, asset: str, inventory: Path | None, reason: str | None) -> None:
    """Take QUANTITY of PART from stock for an asset, recorded on the asset."""
    from runner.cmdb import spares as store_ops

    _done(store_ops.issue(_root(inventory), part, quantity, asset, reason=reason))


@spares.command()
@click.argument("asset")
@click.option("--part", required=True, help="Part number of the spare put in.")
@click.option("--old-serial", required=True, help="Serial of the failed part taken out.")
@click.option("--new-serial", required=True, help="Serial of the part put in.")
@click.option("--reason", help="What failed, for the asset's parts history and the audit log.")
@_inventory_option
def replace(
    asset: str,
    part: str,
    old_serial: str,
    new_serial: str,
    reason: str | None,
    inventory: Path | None,
) -> None:
    """Replace a failed part of ASSET with one from stock; both serials are recorded.

    When the old serial is the asset's own, the whole unit was swapped and the asset's
    serial becomes the new one.
    """
    from runner.cmdb import spares as store_ops

    _done(store_ops.replace(_root(inventory), asset, part, old_serial, new_serial, reason=reason))
