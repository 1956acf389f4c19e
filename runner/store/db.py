"""Opening, migrating and writing the store.

The schema is owned by Alembic migrations in ``runner/store/migrations``; opening a store
brings it to the newest revision first. SQLite files run in WAL mode so a report can read
while a run writes.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from runner import config
from runner.errors import StoreError
from runner.store.models import CHECK_STATUSES, CheckResult, Host, Run, RunHost

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time in the store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def process_start(pid: int) -> int | None:
    """Start time of a live process in clock ticks since boot; None for a gone or zombie one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def _controller_alive(run: Run) -> bool:
    """Whether the process that started a run still lives (zombies and reused pids do not)."""
    if run.controller != socket.gethostname():
        return True
    started = process_start(run.pid)
    return started is not None and (run.pid_start is None or started == run.pid_start)


@dataclass(frozen=True)
class ResultRow:
    """One verdict as it arrives from a run, before it has ids."""

    host: str
    check_id: str
    subject: str
    status: str
    value: Any
    unit: str | None
    thresholds: dict[str, Any] | None
    message: str | None


class Store:
    """A migrated database and the few writes a run makes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self._host_ids: dict[str, int] = {}

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions() as session, session.begin():
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest revision (nothing happens when it is there)."""
        script = ScriptDirectory.from_config(_alembic_config(str(self.engine.url)))
        with self.engine.begin() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
            if current == script.get_current_head():
                return
            cfg = _alembic_config(self.engine.url.render_as_string(hide_password=False))
            cfg.attributes["connection"] = conn
            log.info("migrating the store from %s to %s", current, script.get_current_head())
            command.upgrade(cfg, "head")

    def reap_stale_runs(self) -> list[str]:
        """Mark runs whose controller process is gone as interrupted; return their ids."""
        with self.session() as session:
            stale = [
                run
                for run in session.scalars(select(Run).where(Run.status == "running"))
                if not _controller_alive(run)
            ]
            for run in stale:
                log.warning("run %r: its controller process %d is gone", run.id, run.pid)
                run.status = "interrupted"
                run.ended_at = utcnow()
                run.message = "the controller process ended before the run did"
            return [run.id for run in stale]

    def start_run(
        self,
        run_id: str,
        kind: str,
        playbook: str,
        trigger: str,
        started_by: str,
        inventory: str,
        limit: str | None,
        hosts: list[str],
        platforms: dict[str, str] | None = None,
    ) -> None:
        """Record a run as running, and the platform of each of its hosts."""
        with self.session() as session:
            if platforms:
                ids = self.host_ids(session, platforms)
                for name, platform in platforms.items():
                    session.execute(
                        update(Host).where(Host.id == ids[name]).values(platform=platform)
                    )
            session.add(
                Run(
                    id=run_id,
                    kind=kind,
                    playbook=playbook,
                    trigger=trigger,
                    started_by=started_by,
                    inventory=inventory,
                    limit=limit,
                    controller=socket.gethostname(),
                    pid=os.getpid(),
                    pid_start=process_start(os.getpid()),
                    status="running",
                    started_at=utcnow(),
                    hosts_total=len(hosts),
                )
            )

    def host_ids(self, session: Session, names: Iterable[str]) -> dict[str, int]:
        """Ids of the named hosts, creating rows for hosts seen the first time."""
        wanted = set(names) - self._host_ids.keys()
        if wanted:
            now = utcnow()
            found = session.execute(select(Host.name, Host.id).where(Host.name.in_(wanted)))
            self._host_ids.update({name: host_id for name, host_id in found})
            # One flush for all new hosts: a first run of thousands of hosts otherwise spends
            # a round trip per host. They are inserted, and numbered, in name order.
            new = [
                Host(name=name, first_seen=now, last_seen=now)
                for name in sorted(wanted - self._host_ids.keys())
            ]
            session.add_all(new)
            session.flush()
            self._host_ids.update({host.name: host.id for host in new})
        return self._host_ids

    def add_results(self, run_id: str, rows: list[ResultRow]) -> None:
        """Write one batch of verdicts in one transaction."""
        if not rows:
            return
        now = utcnow()
        for row in rows:
            if row.status not in CHECK_STATUSES:
                raise StoreError(
                    f"run {run_id}: host {row.host!r}: check {row.check_id!r} has status "
                    f"{row.status!r}; expected one of: {', '.join(CHECK_STATUSES)}"
                )
        with self.session() as session:
            ids = self.host_ids(session, {row.host for row in rows})
            # A Core insert on the session's connection: the ORM's bulk insert spent about
            # as long collecting parameters per row as SQLite took to write them.
            session.connection().execute(
                insert(CheckResult),
                [
                    {
                        "run_id": run_id,
                        "host_id": ids[row.host],
                        "check_id": row.check_id,
                        "subject": row.subject,
                        "status": row.status,
                        "value": row.value,
                        "unit": row.unit,
                        "thresholds": row.thresholds,
                        "message": row.message,
                        "recorded_at": now,
                    }
                    for row in rows
                ],
            )

    def finish_run(
        self,
        run_id: str,
        status: str,
        rc: int | None,
        host_outcomes: dict[str, tuple[str, str | None]],
        message: str | None = None,
    ) -> None:
        """End a run: its state, return code and how each host fared, in one transaction."""
        now = utcnow()
        with self.session() as session:
            ids = self.host_ids(session, host_outcomes)
            for name, (outcome, reason) in sorted(host_outcomes.items()):
                session.merge(
                    RunHost(run_id=run_id, host_id=ids[name], status=outcome, message=reason)
                )
            if host_outcomes:
                session.execute(
                    update(Host)
                    .where(Host.id.in_([ids[name] for name in host_outcomes]))
                    .values(last_seen=now)
                )
            session.execute(
                update(Run)
                .where(Run.id == run_id)
                .values(status=status, rc=rc, ended_at=now, message=message)
            )


def open_store(url: str | None = None, migrate: bool = True) -> Store:
    """Open (and by default migrate) the store at ``url`` or the configured one."""
    url = url or config.db_url()
    try:
        engine = create_engine(url, future=True)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        store = Store(engine)
        if migrate:
            store.migrate()
    except SQLAlchemyError as exc:
        safe = url.split("@")[-1] if "@" in url else url
        raise StoreError(
            f"cannot open the store at {safe}: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}; check {config.DB_URL_ENV} or the state folder"
        ) from exc
    return store
