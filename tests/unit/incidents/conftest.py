"""Synthetic nightly runs on a fixed clock, a small CMDB with relations, a policy."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.cmdb import load_cmdb
from runner.cmdb.load import Cmdb
from runner.incidents.policy import Policy, defaults
from runner.store import Store
from runner.store.db import ResultRow

#: Nights at 02:00 UTC: the fixed clock of these tests.
NIGHT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)

CMDB_YML = "plugin: opskeeper_cmdb\ncmdb_dir: assets\n"

_LIFE = "lifecycle: {state: in_use, history: [{state: in_use, date: 2026-01-01}]}"

ASSETS = f"""
assets:
  - {{tag: T-1, name: web01, kind: vm, platform: linux, owner: ops, criticality: medium,
     {_LIFE}, management_address: 10.0.0.1}}
  - {{tag: T-2, name: db01, kind: vm, platform: linux, owner: ops, criticality: critical,
     {_LIFE}, management_address: 10.0.0.2}}
  - {{tag: T-3, name: core-sw01, kind: switch, platform: ios, owner: ops, criticality: medium,
     serial: FOC1, vendor: Cisco, model: C9300, location: {{site: hq, room: dc, rack: A1}},
     {_LIFE}, management_address: 10.0.0.254}}
  - {{tag: T-4, name: app01, kind: vm, platform: linux, owner: ops, criticality: low,
     {_LIFE}, management_address: 10.0.0.3, depends_on: [core-sw01]}}
  - {{tag: S-1, name: erp, kind: service, owner: sales, criticality: critical,
     {_LIFE}, runs_on: app01}}
"""


@pytest.fixture
def cmdb(tmp_path: Path) -> Cmdb:
    root = tmp_path / "inventory"
    (root / "assets").mkdir(parents=True)
    (root / "cmdb.yml").write_text(CMDB_YML)
    (root / "assets" / "all.yml").write_text(ASSETS)
    return load_cmdb(root)


@pytest.fixture
def policy() -> Policy:
    return defaults()


Verdict = tuple[str, str, str, str]
RunFactory = Callable[..., str]


@pytest.fixture
def nightly(store: Store) -> RunFactory:
    """Record a finished run: ``verdicts`` (host, check, subject, status), ``down`` hosts."""
    count = [0]

    def make(verdicts: list[Verdict], down: tuple[str, ...] = ()) -> str:
        count[0] += 1
        run_id = f"run-{count[0]}"
        hosts = sorted({v[0] for v in verdicts} | set(down))
        store.start_run(
            run_id, "inspect", "playbooks/inspect.yml", "schedule", "cron", "inv", None, hosts
        )
        rows = [ResultRow(h, c, s, st, None, None, None, f"{c} {st}") for h, c, s, st in verdicts]
        rows += [
            ResultRow(h, "host.reachable", "", "unreachable", None, None, None, "ssh timed out")
            for h in down
        ]
        store.add_results(run_id, rows)
        outcomes = {h: ("unreachable" if h in down else "ok", None) for h in hosts}
        store.finish_run(run_id, "finished", 0, outcomes)
        return run_id

    return make


#: How a raw receiver answers one connection; it stops when the event is set.
Handler = Callable[[socket.socket, threading.Event], None]
ServerFactory = Callable[[Handler], str]


@pytest.fixture
def raw_server() -> Iterator[ServerFactory]:
    """Start TCP receivers on 127.0.0.1 that answer as a handler says; gives each one's URL.

    Every receiver and connection ends when the test does, so none outlives it.
    """
    stop = threading.Event()
    listeners: list[socket.socket] = []
    threads: list[threading.Thread] = []

    def answer(conn: socket.socket, handle: Handler) -> None:
        with conn:
            conn.settimeout(5)
            with contextlib.suppress(OSError):
                handle(conn, stop)

    def serve(listener: socket.socket, handle: Handler) -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            worker = threading.Thread(target=answer, args=(conn, handle), daemon=True)
            threads.append(worker)
            worker.start()

    def start(handle: Handler) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(0.1)
        listeners.append(listener)
        thread = threading.Thread(target=serve, args=(listener, handle), daemon=True)
        threads.append(thread)
        thread.start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}/hook"

    yield start
    stop.set()
    for thread in threads:
        thread.join(10)
    for listener in listeners:
        listener.close()
