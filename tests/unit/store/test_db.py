from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select, text, update

from runner.errors import StoreError
from runner.store import Store, open_store
from runner.store.db import ResultRow, process_start
from runner.store.models import Base, CheckResult, Host, Run, RunHost


def _start(store: Store, run_id: str = "r1", hosts: list[str] | None = None) -> None:
    store.start_run(
        run_id,
        "inspect",
        "playbooks/inspect.yml",
        "manual",
        "tester",
        "inv",
        None,
        hosts or ["web01", "db01"],
    )


def _row(host: str, status: str = "ok", check: str = "linux.disk.usage") -> ResultRow:
    return ResultRow(host, check, "/", status, 42.0, "%", {"warn": 80, "fail": 90}, "m")


def test_migrations_match_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_sqlite_store_runs_in_wal_mode(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_opening_twice_keeps_data(store: Store, state: Path) -> None:
    _start(store)
    again = open_store()
    with again.session() as session:
        assert session.get(Run, "r1") is not None


def test_results_are_written_in_batches_with_hosts_created_once(store: Store) -> None:
    _start(store)
    store.add_results("r1", [_row("web01"), _row("db01", "fail")])
    store.add_results("r1", [_row("web01", "warn", "linux.memory.usage")])
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Host)) == 2
        statuses = session.scalars(select(CheckResult.status).order_by(CheckResult.id)).all()
    assert statuses == ["ok", "fail", "warn"]


def test_a_bad_status_writes_nothing_of_its_batch(store: Store) -> None:
    _start(store)
    with pytest.raises(StoreError, match="status 'broken'; expected one of"):
        store.add_results("r1", [_row("web01"), _row("db01", "broken")])
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(CheckResult)) == 0


def test_finish_run_records_state_and_host_outcomes(store: Store) -> None:
    _start(store)
    store.finish_run("r1", "finished", 4, {"web01": ("ok", None), "db01": ("unreachable", "x")})
    with store.session() as session:
        run = session.get(Run, "r1")
        assert run is not None and run.status == "finished" and run.rc == 4
        assert run.ended_at is not None
        outcomes = {row.host.name: row.status for row in session.scalars(select(RunHost))}
    assert outcomes == {"web01": "ok", "db01": "unreachable"}


def test_a_run_whose_controller_died_is_marked_interrupted(store: Store) -> None:
    _start(store, "alive")
    _start(store, "dead")
    child = subprocess.Popen(["true"])
    child.wait()
    with store.session() as session:
        session.execute(update(Run).where(Run.id == "dead").values(pid=child.pid))
    assert store.reap_stale_runs() == ["dead"]
    with store.session() as session:
        dead, alive = session.get(Run, "dead"), session.get(Run, "alive")
        assert dead is not None and dead.status == "interrupted" and dead.ended_at is not None
        assert alive is not None and alive.status == "running"


def test_a_reused_pid_does_not_keep_a_run_alive(store: Store) -> None:
    _start(store)
    with store.session() as session:
        session.execute(update(Run).where(Run.id == "r1").values(pid_start=1))
    assert store.reap_stale_runs() == ["r1"]


def test_process_start_is_none_for_a_gone_process() -> None:
    child = subprocess.Popen(["true"])
    child.wait()
    assert process_start(child.pid) is None


def test_an_unusable_url_is_one_clear_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/missing/dir/x.db"
    with pytest.raises(StoreError, match=r"cannot open the store at .*OPSKEEPER_DB_URL"):
        open_store(url)
