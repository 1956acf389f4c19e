"""The ``opskeeper`` command line. It owns the terminal: library code only logs and raises."""

from __future__ import annotations

import logging
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from runner import __version__
from runner.cli_support import (
    OpskeeperGroup,
    err_console,
    host_progress,
    install_cancel,
    inventory_option,
    limit_option,
    require_lab_up,
)
from runner.errors import OpskeeperError

console = Console()

#: Exit codes of ``opskeeper inspect`` (README, "Exit codes").
EXIT_OK = 0
EXIT_FAILURES = 3
EXIT_UNREACHABLE = 4
EXIT_FAILURES_AND_UNREACHABLE = 5

STATUS_STYLE = {
    "ok": "green",
    "warn": "yellow",
    "fail": "red",
    "error": "magenta",
    "unreachable": "bold red",
}


@click.group(cls=OpskeeperGroup)
@click.version_option(__version__, prog_name="opskeeper")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
    """Opskeeper: inspections, CMDB, incidents and reports for an operations team."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, show_time=False)],
    )


def _exit_code(failures: bool, unreachable: bool) -> int:
    if failures and unreachable:
        return EXIT_FAILURES_AND_UNREACHABLE
    if unreachable:
        return EXIT_UNREACHABLE
    return EXIT_FAILURES if failures else EXIT_OK


def _print_summary(report: dict[str, Any]) -> None:
    hosts = report["summary"]["hosts"]
    checks = report["summary"]["checks"]
    table = Table(title=f"Inspection {report['run']['id']}", title_justify="left")
    for column in ("host", "worst", "fail", "error", "warn", "ok"):
        table.add_column(column)
    for host in report["hosts"]:
        style = STATUS_STYLE.get(host["worst"], "")
        counts = host["counts"]
        table.add_row(
            host["name"],
            f"[{style}]{host['worst']}[/{style}]",
            *(str(counts[key]) for key in ("fail", "error", "warn", "ok")),
        )
    console.print(table)
    for failure in report["failures"]:
        style = STATUS_STYLE[failure["status"]]
        subject = f" {failure['subject']}" if failure["subject"] else ""
        console.print(
            f"  [{style}]{failure['status']:>11}[/{style}]  {failure['host']}: "
            f"{failure['check_id']}{subject}: {failure['message']}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"{hosts['total']} hosts: {hosts['ok']} ok, {hosts['warn']} with warnings, "
        f"{hosts['failing']} failing, {hosts['unreachable']} unreachable; "
        f"checks: {checks['ok']} ok, {checks['warn']} warn, {checks['fail']} fail, "
        f"{checks['error']} error",
        highlight=False,
    )


@main.command()
@inventory_option()
@limit_option
@click.option(
    "--trigger",
    type=click.Choice(["manual", "schedule"]),
    default="manual",
    show_default=True,
    help="Why the run starts; schedulers pass 'schedule'.",
)
@click.option("--no-report", is_flag=True, help="Record the run but write no report.")
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Report folder (default var/reports).",
)
def inspect(
    inventory: Path, limit: str | None, trigger: str, no_report: bool, output: Path | None
) -> None:
    """Run the nightly inspection, store every verdict and write the daily report.

    Exit codes: 0 no failure, 3 failed checks, 4 unreachable hosts, 5 both, 1 error.
    """
    from runner import inspection
    from runner.reports import daily
    from runner.store import open_store

    require_lab_up(inventory)
    job = inspection.plan("inspect", inventory, limit=limit, trigger=trigger)
    store = open_store()
    store.reap_stale_runs()
    with host_progress("inspecting") as on_host:
        result = inspection.run(store, job, progress=on_host, cancel=install_cancel())

    if result.status == "interrupted":
        raise OpskeeperError(f"run {result.run_id} was interrupted; its results are incomplete")
    report = daily.build(store, run_id=result.run_id)
    _print_summary(report)
    if not no_report:
        html_path, json_path = daily.write(report, output)
        console.print(f"report: {html_path}\n        {json_path}", highlight=False, soft_wrap=True)
    sys.exit(_exit_code(result.has_failures, result.has_unreachable))


@main.group()
def report() -> None:
    """Render reports from the store."""


@report.command("daily")
@click.option("--run", "run_id", help="Run id (see `opskeeper runs`).")
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Newest inspection run of that day (UTC), as YYYY-MM-DD.",
)
@click.option(
    "-o", "--output", type=click.Path(file_okay=False, path_type=Path), help="Output folder."
)
def report_daily(run_id: str | None, day: Any, output: Path | None) -> None:
    """Write the daily inspection report (HTML and JSON) of one run.

    Without --run or --date: the newest inspection run that has ended.
    """
    from runner.reports import daily
    from runner.store import open_store

    if run_id and day:
        raise click.UsageError("give --run or --date, not both")
    when: date | None = day.date() if day else None
    data = daily.build(open_store(), run_id=run_id, day=when)
    html_path, json_path = daily.write(data, output)
    console.print(f"report: {html_path}\n        {json_path}", highlight=False, soft_wrap=True)


@main.command()
@click.option("-n", "--number", default=20, show_default=True, help="How many runs to list.")
@click.option("--kind", help="Only runs of this kind (inspect, ...).")
def runs(number: int, kind: str | None) -> None:
    """List recent runs, newest first."""
    from sqlalchemy import select

    from runner.store import open_store
    from runner.store.models import Run

    store = open_store()
    store.reap_stale_runs()
    with store.session() as session:
        query = select(Run).order_by(Run.started_at.desc()).limit(number)
        if kind:
            query = query.where(Run.kind == kind)
        rows = session.scalars(query).all()
        if not rows:
            console.print("no runs in the store yet" + (f" of kind {kind!r}" if kind else ""))
            return
        table = Table()
        for column in ("run", "kind", "state", "trigger", "by", "started (UTC)", "hosts"):
            table.add_column(column)
        for run in rows:
            table.add_row(
                run.id,
                run.kind,
                run.status,
                run.trigger,
                run.started_by,
                f"{run.started_at:%Y-%m-%d %H:%M:%S}",
                str(run.hosts_total),
            )
    console.print(table)


def _add_groups() -> None:
    from runner.cli_cmdb import cmdb, spares
    from runner.cli_incidents import incident, kb
    from runner.cli_lab import lab
    from runner.cli_network import backup

    for group in (lab, backup, cmdb, spares, incident, kb):
        main.add_command(group)


_add_groups()
