"""Running one measured command: wall time, CPU and memory of its whole process tree.

CPU time and the largest resident set come from ``wait4()``, which reports the child plus
every descendant it waited for. The memory of the tree as a whole (several Ansible workers
share pages) is the sum of ``Pss`` over the tree, sampled while it runs. SSH ControlMaster
processes detach from the tree, so neither counts them; :func:`close_masters` ends them
between runs so that no run inherits another's open connections.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SAMPLE_SECONDS = 0.5
TICK_SECONDS = 60.0


@dataclass(frozen=True)
class Measured:
    """What one command cost: wall and CPU seconds, peak RSS of one process, peak tree PSS."""

    rc: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    peak_pss_mb: float


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
        except OSError:
            continue
        found += [int(child) for child in text.split()]
    return found


def tree(pid: int) -> list[int]:
    """``pid`` and its live descendants."""
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        queue += _children(current)
    return pids


def pss_kb(pid: int) -> int:
    """Proportional set size of one process in kB; 0 when it is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


class _TreeSampler(threading.Thread):
    """Samples the summed PSS of a process tree until stopped; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            total = sum(pss_kb(pid) for pid in tree(self.pid))
            self.peak_kb = max(self.peak_kb, total)
            self.done.wait(SAMPLE_SECONDS)


class _Ticker(threading.Thread):
    """Calls back with the elapsed seconds every TICK_SECONDS until stopped."""

    def __init__(self, started: float, tick: Callable[[float], None]) -> None:
        super().__init__(daemon=True)
        self.started = started
        self.tick = tick
        self.done = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.done.wait(TICK_SECONDS):
            self.tick(time.monotonic() - self.started)


def measure(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    timeout: float,
    tick: Callable[[float], None] | None = None,
) -> Measured:
    """Run ``argv`` with its output in ``log_path`` and measure it (see the module doc);
    call ``tick`` with the seconds elapsed once a minute while it runs."""
    with log_path.open("wb") as out:
        started = time.monotonic()
        child = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        sampler = _TreeSampler(child.pid)
        sampler.start()
        timer = threading.Timer(timeout, child.kill)
        timer.start()
        ticker = _Ticker(started, tick) if tick else None
        try:
            _pid, status, usage = os.wait4(child.pid, 0)
        finally:
            timer.cancel()
            sampler.done.set()
            sampler.join()
            if ticker:
                ticker.done.set()
                ticker.join()
        wall = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        rc=child.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,
        peak_pss_mb=sampler.peak_kb / 1024,
    )


def control_path(address: str, port: int, user: str, directory: Path) -> Path:
    """The ControlPath Ansible's ssh connection uses for one host (its own formula)."""
    # SHA-1 names a socket here (Ansible's scheme), it secures nothing.
    digest = hashlib.sha1(f"{address}-{port}-{user}".encode()).hexdigest()
    return directory / digest[:10]


def close_masters(sockets: Sequence[Path]) -> int:
    """Ask the SSH ControlMaster behind each existing socket to exit; return how many did."""
    closed = 0
    for socket_path in sockets:
        if not socket_path.exists():
            continue
        done = subprocess.run(
            ["ssh", "-o", f"ControlPath={socket_path}", "-O", "exit", "bench-host"],
            capture_output=True,
            timeout=10,
            check=False,
        )
        closed += done.returncode == 0
    log.debug("closed %d SSH control masters", closed)
    return closed
