"""The store and the daily report at scale, without hosts: synthetic check results shaped
like inspect_linux's rows, written and read through the runner's own code.

*Store throughput* is check results per second through :meth:`Store.add_results` in batches
of 500 (the runner's :class:`runner.jobs.EventSink` batch size), for a nightly run whose
hosts the store knows already, and for a first run that creates them. *Report time* is
:func:`runner.reports.daily.build` plus :func:`runner.reports.daily.render_html` of a run with
100,000 results and a previous run to compare with, as ``opskeeper report daily`` does.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.jobs import new_run_id
from runner.reports import daily
from runner.store import Store, open_store
from runner.store.db import ResultRow

BATCH = 500
CHECKS_PER_HOST = 20

#: (check id, subject, unit, thresholds) of one host's rows, as inspect_linux makes them.
_CHECKS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("linux.load.per_core", "cpu", "", {"warn": 1.5, "fail": 3.0, "worse": "higher"}),
    ("linux.memory.usage", "memory", "%", {"warn": 85.0, "fail": 95.0, "worse": "higher"}),
    ("linux.swap.usage", "swap", "%", {"warn": 50.0, "fail": 80.0, "worse": "higher"}),
    ("linux.disk.usage", "/", "%", {"warn": 80.0, "fail": 90.0, "worse": "higher"}),
    ("linux.disk.inodes", "/", "%", {"warn": 80.0, "fail": 90.0, "worse": "higher"}),
    ("linux.disk.usage", "/srv/data", "%", {"warn": 80.0, "fail": 90.0, "worse": "higher"}),
    ("linux.disk.inodes", "/srv/data", "%", {"warn": 80.0, "fail": 90.0, "worse": "higher"}),
    ("linux.service.failed", "services", "", {"expect": [], "status_if_not": "fail"}),
    ("linux.service.required", "ssh", "", {"expect": True, "status_if_not": "fail"}),
    ("linux.service.required", "cron", "", {"expect": True, "status_if_not": "fail"}),
    ("linux.process.required", "sshd", "", {"expect": True, "status_if_not": "fail"}),
    ("linux.process.required", "cron", "", {"expect": True, "status_if_not": "fail"}),
    ("linux.port.listening", "2222/tcp", "", {"expect": True, "status_if_not": "fail"}),
    ("linux.time.sync", "clock", "", {"expect": True, "status_if_not": "warn"}),
    ("linux.uptime", "system", "days", {"warn": 365.0, "fail": None, "worse": "higher"}),
    ("linux.reboot.required", "system", "", {"expect": False, "status_if_not": "warn"}),
    ("linux.updates.pending", "packages", "packages", {"warn": 50, "fail": None}),
    ("linux.updates.security", "packages", "packages", {"warn": 1, "fail": None}),
    ("linux.auth.failed_logins", "logins", "logins", {"warn": 20, "fail": 100}),
    ("linux.process.zombies", "processes", "processes", {"warn": 5, "fail": 20}),
]


def synthetic_rows(hosts: int, seed: int) -> list[ResultRow]:
    """``hosts`` x 20 rows: mostly ok, about 3 % warn and 1 % fail, varied by ``seed``."""
    rng = random.Random(seed)
    rows = []
    for index in range(1, hosts + 1):
        host = f"host{index:05d}.example.net"
        for check_id, subject, unit, thresholds in _CHECKS:
            roll = rng.random()
            status = "fail" if roll < 0.01 else "warn" if roll < 0.04 else "ok"
            value: Any = round(rng.uniform(0, 100), 2) if unit == "%" else rng.randint(0, 30)
            if "expect" in thresholds:
                value = thresholds["expect"] if status == "ok" else not thresholds["expect"]
            message = f"{check_id} on {subject}: {value} {unit}".strip()
            rows.append(
                ResultRow(host, check_id, subject, status, value, unit, thresholds, message)
            )
    return rows


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def _write_run(store: Store, rows: list[ResultRow]) -> tuple[str, float]:
    """Record one finished run of ``rows`` as the runner does; return (run id, seconds of
    ``add_results``)."""
    run_id = new_run_id()
    hosts = sorted({row.host for row in rows})
    store.start_run(
        run_id,
        kind="inspect",
        playbook="playbooks/inspect.yml",
        trigger="schedule",
        started_by="bench",
        inventory="bench",
        limit=None,
        hosts=hosts,
        platforms=dict.fromkeys(hosts, "linux"),
    )
    seconds = 0.0
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        began = time.perf_counter()
        store.add_results(run_id, batch)
        seconds += time.perf_counter() - began
    store.finish_run(run_id, "finished", 0, dict.fromkeys(hosts, ("ok", None)))
    return run_id, seconds


@dataclass
class StoreFigures:
    results: int
    new_hosts_results_per_s: float
    known_hosts_results_per_s: float


@dataclass
class ReportFigures:
    results: int
    hosts: int
    build_s: float
    render_html_s: float
    html_total_s: float
    json_s: float
    html_bytes: int


def measure_store(folder: Path, results: int, seed: int) -> StoreFigures:
    """Write two runs of ``results`` rows into a fresh SQLite store in ``folder``."""
    store = open_store(f"sqlite:///{folder / 'store-bench.db'}")
    try:
        rows = synthetic_rows(results // CHECKS_PER_HOST, seed)
        _, first = _write_run(store, rows)
        _, second = _write_run(store, synthetic_rows(results // CHECKS_PER_HOST, seed + 1))
    finally:
        store.engine.dispose()
    return StoreFigures(
        results=len(rows),
        new_hosts_results_per_s=round(len(rows) / first),
        known_hosts_results_per_s=round(len(rows) / second),
    )


def measure_report(folder: Path, results: int, seed: int) -> ReportFigures:
    """Render the daily report of a run of ``results`` rows that has a previous run."""
    import json

    store = open_store(f"sqlite:///{folder / 'report-bench.db'}")
    try:
        hosts = results // CHECKS_PER_HOST
        _write_run(store, synthetic_rows(hosts, seed))
        run_id, _ = _write_run(store, synthetic_rows(hosts, seed + 1))
        build_s, report = _timed(lambda: daily.build(store, run_id=run_id))
        render_s, html = _timed(lambda: daily.render_html(report))
        json_s, _ = _timed(lambda: json.dumps(report, indent=2))
    finally:
        store.engine.dispose()
    return ReportFigures(
        results=sum(len(host["checks"]) for host in report["hosts"]),
        hosts=len(report["hosts"]),
        build_s=round(build_s, 2),
        render_html_s=round(render_s, 2),
        html_total_s=round(build_s + render_s, 2),
        json_s=round(json_s, 2),
        html_bytes=len(html.encode()),
    )
