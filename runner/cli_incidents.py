"""``opskeeper incident`` and ``opskeeper kb``: incident records and the knowledge base."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from runner.cli_support import OpskeeperGroup, inventory_option

if TYPE_CHECKING:
    from runner.cmdb.load import Cmdb
    from runner.incidents.policy import Policy
    from runner.store import Store

console = Console()

_STATE_STYLE = {
    "open": "red",
    "acknowledged": "yellow",
    "pending": "blue",
    "resolved": "green",
    "closed": "dim",
}
_CLOCK_STYLE = {"near": "yellow", "breached": "bold red", "missed": "red", "met": "green"}


class _Context:
    def __init__(self, policy: Path | None, inventory: Path) -> None:
        self.policy_file = policy
        self.inventory = inventory

    def policy(self) -> Policy:
        from runner.incidents.policy import load_policy

        return load_policy(self.policy_file, self.inventory)

    def store(self) -> Store:
        from runner.store import open_store

        return open_store()

    def cmdb(self) -> Cmdb | None:
        from runner.cmdb import load_cmdb
        from runner.inspection import cmdb_root

        root = cmdb_root(self.inventory)
        return load_cmdb(root) if root is not None else None


@click.group(cls=OpskeeperGroup)
@click.option(
    "--policy",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Incident policy file (default: $OPSKEEPER_INCIDENT_POLICY, then "
    "incident_policy.yml in the inventory folder, then the built-in defaults).",
)
@inventory_option("Inventory (CMDB) folder: its policy file and the relations for impact.")
@click.pass_context
def incident(ctx: click.Context, policy: Path | None, inventory: Path) -> None:
    """Incidents: faults with SLA clocks, opened from failing checks or by hand."""
    ctx.obj = _Context(policy, inventory)


pass_ctx = click.make_pass_decorator(_Context)


@incident.command("list")
@click.option("-a", "--all", "show_all", is_flag=True, help="Resolved and closed ones too.")
@click.option("--severity", type=click.Choice(["P1", "P2", "P3"]), help="Only this severity.")
@pass_ctx
def incident_list(obj: _Context, show_all: bool, severity: str | None) -> None:
    """List incidents: the active ones, most severe first."""
    from sqlalchemy import select

    from runner.incidents.lifecycle import ACTIVE
    from runner.incidents.report import summary
    from runner.store.db import utcnow
    from runner.store.models import Incident

    policy = obj.policy()
    now = utcnow()
    with obj.store().session() as session:
        query = select(Incident).order_by(Incident.severity, Incident.opened_at)
        if not show_all:
            query = query.where(Incident.status.in_(ACTIVE))
        if severity:
            query = query.where(Incident.severity == severity)
        rows = [summary(item, policy, now) for item in session.scalars(query)]
    if not rows:
        console.print("no incidents" if show_all else "no active incidents")
        return
    table = Table(title=f"Incidents (times in {policy.timezone})", title_justify="left")
    for column in ("id", "sev", "state", "title", "seen", "opened", "assignee", "clocks"):
        table.add_column(column)
    for row in rows:
        style = _STATE_STYLE.get(row["status"], "")
        table.add_row(
            str(row["id"]),
            row["severity"],
            f"[{style}]{row['status']}[/{style}]",
            row["title"],
            str(row["count"]),
            row["opened_at"],
            row["assignee"] or "",
            ", ".join(row["flags"]) or "ok",
        )
    console.print(table)


@incident.command("show")
@click.argument("incident_id", type=int)
@pass_ctx
def incident_show(obj: _Context, incident_id: int) -> None:
    """Show an incident: clocks, timeline, runs, affected services and KB articles."""
    from runner.incidents.report import record

    data = record(obj.store(), incident_id, obj.policy())
    out = console.print
    style = _STATE_STYLE.get(data["status"], "")
    out(
        f"[bold]#{data['id']} {data['severity']}[/bold] [{style}]{data['status']}[/{style}]  "
        f"{data['title']}",
        highlight=False,
    )
    out(f"severity: {data['severity_reason']}", highlight=False)
    for label, key in (
        ("host", "host"),
        ("check", "check_id"),
        ("subject", "subject"),
        ("assignee", "assignee"),
        ("last message", "message"),
        ("cause", "cause"),
    ):
        if data.get(key):
            out(f"{label}: {data[key]}", highlight=False)
    out(
        f"opened {data['opened_at']} · seen {data['count']} time(s), first {data['first_seen']}, "
        f"last {data['last_seen']} · reopened {data['reopened']} time(s)",
        highlight=False,
    )
    if data["resolved_by_run"]:
        out(f"resolved automatically by run {data['resolved_by_run']}", highlight=False)
    if data["report_due"]:
        out(f"failure analysis report due {data['report_due']}", highlight=False)

    table = Table(title="SLA clocks", title_justify="left")
    for column in ("clock", "budget", "used", "%", "state", "deadline", "stopped"):
        table.add_column(column)
    for item in data["clocks"]:
        cs = _CLOCK_STYLE.get(item["state"], "")
        state = f"[{cs}]{item['state']}[/{cs}]" if cs else item["state"]
        table.add_row(
            item["name"],
            item["budget"],
            item["used"],
            str(item["percent"]),
            state,
            item["deadline"],
            item["stopped_at"],
        )
    out(table)
    if data["impact"]:
        out("[bold]affected through relations[/bold]")
        for item in data["impact"]:
            out(f"  {item['name']} ({item['kind']}, {item['criticality']}): {item['chain']}")
    if data["runs"]:
        runs = ", ".join(f"{r['run_id']} ({r['status']})" for r in data["runs"][-10:])
        out(f"[bold]runs[/bold] ({len(data['runs'])}): {runs}", highlight=False)
    out("[bold]timeline[/bold]")
    for item in data["timeline"]:
        run = f" [run {item['run_id']}]" if item["run_id"] else ""
        out(
            f"  {item['at']}  {item['actor']}  {item['action']}: {item['text']}{run}",
            highlight=False,
            soft_wrap=True,
        )
    if data["articles"]:
        out("[bold]knowledge base[/bold]")
        for article in data["articles"]:
            out(f"  {article['slug']}: {article['title']} ({article['path']})", highlight=False)


@incident.command("open")
@click.option("-t", "--title", required=True, help="What is wrong, in one line.")
@click.option("-s", "--severity", type=click.Choice(["P1", "P2", "P3"]), help="Default: assessed.")
@click.option("--host", help="The asset concerned (name or tag), for criticality and impact.")
@pass_ctx
def incident_open(obj: _Context, title: str, severity: str | None, host: str | None) -> None:
    """Open an incident for a fault someone reported."""
    from runner.incidents.lifecycle import open_incident
    from runner.incidents.notify import deliver

    cmdb = obj.cmdb() if host else None
    if cmdb is not None and host:
        host = cmdb.require(host).record.name
    policy = obj.policy()
    store = obj.store()
    incident_id = open_incident(store, policy, title, severity, host, cmdb)
    deliver(store, policy, budget=policy.delivery_budget)
    console.print(f"opened incident #{incident_id}")


def _change(
    obj: _Context, incident_id: int, action: str, text: str = "", severity: str | None = None
) -> None:
    from runner.incidents.lifecycle import change
    from runner.incidents.notify import deliver

    policy = obj.policy()  # a broken policy file is refused before anything changes
    store = obj.store()
    incident = change(store, incident_id, action, text, severity=severity, policy=policy)
    if action == "severity":
        deliver(store, policy, budget=policy.delivery_budget)
    console.print(f"incident #{incident.id}: {incident.status} ({incident.severity})")


@incident.command("ack")
@click.argument("incident_id", type=int)
@click.option("-m", "--message", default="", help="A note with the acknowledgement.")
@pass_ctx
def incident_ack(obj: _Context, incident_id: int, message: str) -> None:
    """Acknowledge an open incident: someone is on it (stops the respond clock)."""
    _change(obj, incident_id, "ack", message)


@incident.command("assign")
@click.argument("incident_id", type=int)
@click.argument("person")
@pass_ctx
def incident_assign(obj: _Context, incident_id: int, person: str) -> None:
    """Assign an active incident to a person."""
    _change(obj, incident_id, "assign", person)


@incident.command("note")
@click.argument("incident_id", type=int)
@click.argument("text")
@pass_ctx
def incident_note(obj: _Context, incident_id: int, text: str) -> None:
    """Add a note to the incident's timeline."""
    _change(obj, incident_id, "note", text)


@incident.command("pending")
@click.argument("incident_id", type=int)
@click.argument("reason")
@pass_ctx
def incident_pending(obj: _Context, incident_id: int, reason: str) -> None:
    """Wait on the customer or a vendor: the clocks pause."""
    _change(obj, incident_id, "pending", reason)


@incident.command("resume")
@click.argument("incident_id", type=int)
@click.argument("text", required=False, default="")
@pass_ctx
def incident_resume(obj: _Context, incident_id: int, text: str) -> None:
    """Resume a pending incident: the clocks run again."""
    _change(obj, incident_id, "resume", text)


@incident.command("restore")
@click.argument("incident_id", type=int)
@click.argument("text", required=False, default="")
@pass_ctx
def incident_restore(obj: _Context, incident_id: int, text: str) -> None:
    """Service is restored (a workaround): stops the restore clock, the incident stays."""
    _change(obj, incident_id, "restore", text)


@incident.command("resolve")
@click.argument("incident_id", type=int)
@click.option("-c", "--cause", default="", help="The cause, for the record.")
@pass_ctx
def incident_resolve(obj: _Context, incident_id: int, cause: str) -> None:
    """Resolve an incident: the fault is fixed (stops every clock)."""
    _change(obj, incident_id, "resolve", cause)


@incident.command("close")
@click.argument("incident_id", type=int)
@click.option("-m", "--message", default="", help="A closing note.")
@pass_ctx
def incident_close(obj: _Context, incident_id: int, message: str) -> None:
    """Close a resolved incident once its record (and report) is done."""
    _change(obj, incident_id, "close", message)


@incident.command("severity")
@click.argument("incident_id", type=int)
@click.argument("severity", type=click.Choice(["P1", "P2", "P3"]))
@click.option("-r", "--reason", required=True, help="Why, for the timeline.")
@pass_ctx
def incident_severity(obj: _Context, incident_id: int, severity: str, reason: str) -> None:
    """Override an incident's severity, with a reason."""
    _change(obj, incident_id, "severity", reason, severity=severity)


@incident.command("report")
@click.argument("incident_id", type=int)
@click.option("--analysis", is_flag=True, help="The failure analysis report (P1) to complete.")
@click.option(
    "-o", "--output", type=click.Path(file_okay=False, path_type=Path), help="Output folder."
)
@pass_ctx
def incident_report(obj: _Context, incident_id: int, analysis: bool, output: Path | None) -> None:
    """Write the incident record (HTML), or with --analysis the failure analysis report."""
    from runner.incidents import report

    data = report.record(obj.store(), incident_id, obj.policy())
    path = report.write(data, output, analysis=analysis)
    console.print(f"report: {path}", highlight=False, soft_wrap=True)


@incident.command("notify")
@click.option(
    "--retry-now", is_flag=True, help="Try targets that failed before their next attempt time."
)
@pass_ctx
def incident_notify(obj: _Context, retry_now: bool) -> None:
    """Flag clocks near or past their end, and send what the outbox holds (retries)."""
    from runner.incidents.clock import shown
    from runner.incidents.lifecycle import check_clocks
    from runner.incidents.notify import deliver, pending_messages, shown_target
    from runner.store.db import as_utc, utcnow

    policy = obj.policy()
    store = obj.store()
    now = utcnow()
    with store.session() as session:
        flagged = check_clocks(session, policy, now)
    sent, failed = deliver(store, policy, now, retry_now=retry_now)
    left = pending_messages(store)
    console.print(
        f"{len(flagged)} clock flag(s) raised; {sent} sent, {failed} failed, "
        f"{len(left)} waiting in the outbox"
    )
    for message in left:
        resting = message.next_attempt_at is not None and as_utc(message.next_attempt_at) > now
        after = f"; next try after {shown(message.next_attempt_at, policy)}" if resting else ""
        console.print(
            f"  #{message.incident_id} {message.event} {message.channel} "
            f"{shown_target(message)}: "
            f"{message.attempts} attempt(s), {message.last_error or 'not tried yet'}{after}",
            highlight=False,
            soft_wrap=True,
        )


@click.group(cls=OpskeeperGroup)
def kb() -> None:
    """The knowledge base: Markdown articles in kb/."""


@kb.command("search")
@click.argument("text", nargs=-1, required=True)
def kb_search(text: tuple[str, ...]) -> None:
    """Articles that contain every word of TEXT, best first."""
    from runner.incidents.kb import search

    found = search(" ".join(text))
    if not found:
        console.print("no article matches")
        return
    for article, score in found:
        checks = ", ".join(article.checks)
        console.print(
            f"{article.slug}: {article.title}  [dim]({checks}; score {score})[/dim]",
            highlight=False,
        )


@kb.command("list")
def kb_list() -> None:
    """Every article, with the checks it addresses."""
    from runner.incidents.kb import articles

    for article in articles():
        console.print(f"{article.slug}: {article.title} ({', '.join(article.checks)})")


@kb.command("show")
@click.argument("slug")
def kb_show(slug: str) -> None:
    """Print one article."""
    from runner.errors import OpskeeperError
    from runner.incidents.kb import KB_DIR, articles

    for article in articles():
        if article.slug == slug:
            console.print(article.path.read_text(), markup=False, highlight=False)
            return
    raise OpskeeperError(f"no article {slug!r} in {KB_DIR}; see `opskeeper kb list`")
