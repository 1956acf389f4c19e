"""The store on a real PostgreSQL server that the test starts itself (Debian's postgresql)."""

from __future__ import annotations

import glob
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select

from runner.reports import daily
from runner.store import open_store
from runner.store.db import ResultRow
from runner.store.models import Base, CheckResult, Run


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on 127.0.0.1, owned by the postgres system user.

    Its folder is outside pytest's temporary folder, which only root may enter.
    """
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    assert found, "Debian's postgresql package is missing: `make test` installs it"
    bindir = Path(found[-1]).parent
    data = Path(tempfile.mkdtemp(prefix="opskeeper-pg-"))
    shutil.chown(data, "postgres", "postgres")
    port = _free_port()

    def as_postgres(*args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )

    as_postgres(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "opskeeper")
    as_postgres(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-w",
        "-l",
        str(data / "server.log"),
        "-o",
        f"-k {data} -p {port} -c listen_addresses=127.0.0.1",
        "start",
    )
    try:
        yield f"postgresql+psycopg://opskeeper@127.0.0.1:{port}/postgres"
    finally:
        as_postgres(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(data)


def test_migrations_run_and_match_the_models(postgres: str) -> None:
    store = open_store(postgres)
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    again = open_store(postgres)  # a second open finds the schema current, changes nothing
    again.engine.dispose()
    store.engine.dispose()


def test_a_run_is_recorded_and_reported(postgres: str) -> None:
    store = open_store(postgres)
    store.start_run(
        "pg-run",
        "inspect",
        "playbooks/inspect.yml",
        "manual",
        "tester",
        "inv",
        None,
        ["web01", "db01"],
    )
    rows = [
        ResultRow(
            "web01",
            "linux.disk.usage",
            "/",
            "fail",
            93.5,
            "%",
            {"warn": 80, "fail": 90, "worse": "higher"},
            "93.5 % used on /",
        ),
        ResultRow("db01", "linux.service.failed", "", "ok", [], None, {"expect": []}, "none"),
    ]
    store.add_results("pg-run", rows)
    store.finish_run("pg-run", "finished", 0, {"web01": ("ok", None), "db01": ("ok", None)})
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(CheckResult)) == 2
        run = session.get(Run, "pg-run")
        assert run is not None and run.ended_at is not None
        assert run.started_at.tzinfo is not None and run.started_at <= datetime.now(UTC)
    report = daily.build(store, run_id="pg-run")
    assert [(f["host"], f["value"]) for f in report["failures"]] == [("web01", 93.5)]
    assert report["hosts"][1]["checks"][0]["value"] == []
    store.engine.dispose()
