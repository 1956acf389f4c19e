"""``opskeeper backup``: network configuration backups (runner/netbackup.py)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape

from runner.cli_support import OpskeeperGroup, host_progress, inventory_option, limit_option
from runner.errors import OpskeeperError

if TYPE_CHECKING:
    from runner.store import Store

console = Console(soft_wrap=True)

#: Exit code of a backup run in which some device could not be saved.
EXIT_PARTIAL = 3


@click.group("backup", cls=OpskeeperGroup)
def backup() -> None:
    """Back up network device configurations into a git repository and compare them."""


@backup.command("network")
@inventory_option()
@limit_option
@click.option("--reason", default="scheduled backup", show_default=True, help="Why it runs.")
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    help="Backup repository (default <state>/network-backups).",
)
def network(inventory: Path, limit: str | None, reason: str, repo: Path | None) -> None:
    """Save each device's running configuration and commit them as one commit.

    A device that cannot be saved is reported and the others are still committed.
    Exit codes: 0 all saved, 3 some device not saved, 1 error.
    """
    from runner import netbackup
    from runner.store import open_store

    run = netbackup.plan(inventory, limit, reason, repo)
    store = open_store()
    store.reap_stale_runs()
    with host_progress("backing up") as on_host:
        result = netbackup.run(store, run, progress=on_host)
    if result.status == "interrupted":
        raise OpskeeperError(f"run {result.run_id} was interrupted; nothing was committed")

    commit = run.commit
    errors = _errors(store, result.run_id)
    for host, (_outcome, reason_) in sorted(result.hosts.items()):
        if commit is not None and host in commit.changed:
            count = commit.changed[host]
            console.print(f"  saved  {host}: {count} line(s) changed", highlight=False)
        else:
            why = reason_ or errors.get(host) or "its configuration could not be fetched"
            console.print(f"  [red]failed[/red] {host}: {escape(why)}", highlight=False)
    if commit is not None:
        console.print(f"run {result.run_id}: commit {commit.commit[:12]} in {run.repo.path}")
    missing = [h for h in result.hosts if commit is None or h not in commit.changed]
    sys.exit(EXIT_PARTIAL if missing or result.has_failures else 0)


def _errors(store: Store, run_id: str) -> dict[str, str]:
    """The first error message recorded for each host of the run."""
    from sqlalchemy import select

    from runner.store.models import CheckResult, Host

    with store.session() as session:
        rows = session.execute(
            select(Host.name, CheckResult.message)
            .join(Host, Host.id == CheckResult.host_id)
            .where(CheckResult.run_id == run_id, CheckResult.status == "error")
        )
        found: dict[str, str] = {}
        for host, message in rows:
            found.setdefault(host, message or "")
        return found


@backup.command("diff")
@click.argument("device")
@click.argument("revisions", nargs=-1)
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    help="Backup repository (default <state>/network-backups).",
)
def diff(device: str, revisions: tuple[str, ...], repo: Path | None) -> None:
    """Show the masked diff of DEVICE's backups: [OLD [NEW]] git revisions.

    Without revisions: the two newest backups that differ; with one: it against the newest.
    """
    from runner import netbackup

    if len(revisions) > 2:
        raise OpskeeperError(
            f"backup diff takes at most two revisions, got {len(revisions)}: {' '.join(revisions)}"
        )
    store = netbackup.BackupRepo(repo or netbackup.default_repo())
    old = revisions[0] if revisions else None
    new = revisions[1] if len(revisions) > 1 else None
    text = store.diff(device, old, new)
    if text:
        click.echo(text, nl=False)
    else:
        click.echo(f"no difference in {device}'s configuration between these backups")


@backup.command("log")
@click.argument("device", required=False)
@click.option(
    "-n", "--number", default=10, show_default=True, type=click.IntRange(min=1), help="Runs."
)
def log_(device: str | None, number: int) -> None:
    """List recent backup runs from the store: when, who, what each device changed.

    With DEVICE, only the runs that saved it or failed to. `backup diff DEVICE COMMIT~ COMMIT`
    shows a run's masked changes.
    """
    from runner.store import open_store

    store = open_store()
    store.reap_stale_runs()
    found = backup_history(store, number, device)
    if not found:
        which = f" of {device!r}" if device else ""
        raise OpskeeperError(
            f"no backup run{which} in the store; run `opskeeper backup network` first"
        )
    for entry in found:
        console.print(
            f"{entry.started:%Y-%m-%d %H:%M} UTC  run {entry.run_id}  by {entry.by}  "
            f"{entry.status}",
            highlight=False,
        )
        for host, status, text in entry.devices:
            mark = "  " if status == "ok" else "[red]![/red] "
            console.print(f"    {mark}{host}: {escape(text)}", highlight=False)


@dataclass
class BackupEntry:
    """One backup run as the store holds it, with a line per device it saved or failed."""

    run_id: str
    started: datetime
    by: str
    status: str
    devices: list[tuple[str, str, str]]


def backup_history(store: Store, number: int, device: str | None = None) -> list[BackupEntry]:
    """The newest ``number`` backup runs (those touching ``device`` when given), newest first."""
    from sqlalchemy import select

    from runner.netbackup import CHANGED_CHECK
    from runner.store.models import CheckResult, Host, Run

    with store.session() as session:
        query = (
            select(Run).where(Run.kind == "backup").order_by(Run.started_at.desc(), Run.id.desc())
        )
        if device is not None:
            touched = (
                select(CheckResult.run_id)
                .join(Host, Host.id == CheckResult.host_id)
                .where(Host.name == device)
            )
            query = query.where(Run.id.in_(touched))
        entries = []
        for run in session.scalars(query.limit(number)):
            rows = session.execute(
                select(Host.name, CheckResult.status, CheckResult.message)
                .join(Host, Host.id == CheckResult.host_id)
                .where(
                    CheckResult.run_id == run.id,
                    (CheckResult.check_id == CHANGED_CHECK) | (CheckResult.status != "ok"),
                )
                .order_by(Host.name)
            )
            devices = [
                (host, status, message or "")
                for host, status, message in rows
                if device is None or host == device
            ]
            entries.append(BackupEntry(run.id, run.started_at, run.started_by, run.status, devices))
        return entries
