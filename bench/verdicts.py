"""Comparing the verdicts of the hand-written playbook (a) with Opskeeper's inspection (c).

A *verdict* is the status (``ok``, ``warn``, ``fail``, ``error``) of one check id and subject
on one host. The two runs are compared on the *shared checks* below: every check both make
on a lab host, except ``linux.load.per_core``, whose value is this machine's load average at
the moment of each run (the runs are minutes apart, so a load near a threshold could
legitimately differ). A shared check must have the same set of subjects on both sides (the
same mounts, services, processes and ports) and the same status for each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: The check ids compared between (a) and (c).
SHARED_CHECKS = (
    "linux.memory.usage",
    "linux.swap.usage",
    "linux.disk.usage",
    "linux.disk.inodes",
    "linux.service.failed",
    "linux.service.required",
    "linux.process.required",
    "linux.port.listening",
    "linux.time.sync",
    "linux.uptime",
    "linux.reboot.required",
    "linux.updates.pending",
    "linux.updates.security",
    "linux.cert.expiry",
    "linux.auth.failed_logins",
    "linux.process.zombies",
)

#: Checks made by both but not compared, and why.
NOT_COMPARED = {
    "linux.load.per_core": "the machine's load average, read at a different moment by each run",
}

#: host -> (check id, subject) -> status
Verdicts = dict[str, dict[tuple[str, str], str]]


@dataclass(frozen=True)
class Mismatch:
    """One shared check on one host where the two runs disagree (None: no such verdict)."""

    host: str
    check_id: str
    subject: str
    handwritten: str | None
    opskeeper: str | None

    def describe(self) -> str:
        return (
            f"{self.host}: {self.check_id} {self.subject!r}: hand-written says "
            f"{self.handwritten or 'nothing'}, Opskeeper says {self.opskeeper or 'nothing'}"
        )


def from_handwritten(report: Mapping[str, Any]) -> Verdicts:
    """Verdicts from the hand-written playbook's report: ``{host: [{check_id, subject,
    status, value}, ...]}``. Subjects are compared as text (ports arrive as ``2222/tcp``)."""
    verdicts: Verdicts = {}
    for host, rows in report.items():
        verdicts[host] = {
            (str(row["check_id"]), str(row["subject"])): str(row["status"]) for row in rows
        }
    return verdicts


def from_rows(rows: Iterable[tuple[str, str, str, str]]) -> Verdicts:
    """Verdicts from store rows ``(host, check id, subject, status)``."""
    verdicts: Verdicts = {}
    for host, check_id, subject, status in rows:
        verdicts.setdefault(host, {})[(check_id, subject or "")] = status
    return verdicts


def compare(
    handwritten: Verdicts, opskeeper: Verdicts, checks: Iterable[str] = SHARED_CHECKS
) -> list[Mismatch]:
    """Every shared verdict that differs, or that only one side has, on any host of either."""
    shared = set(checks)

    def only_shared(verdicts: Verdicts, host: str) -> dict[tuple[str, str], str]:
        return {key: status for key, status in verdicts.get(host, {}).items() if key[0] in shared}

    mismatches: list[Mismatch] = []
    for host in sorted(handwritten.keys() | opskeeper.keys()):
        left, right = only_shared(handwritten, host), only_shared(opskeeper, host)
        for key in sorted(left.keys() | right.keys()):
            if left.get(key) != right.get(key):
                mismatches.append(Mismatch(host, key[0], key[1], left.get(key), right.get(key)))
    return mismatches


def count_compared(handwritten: Verdicts, checks: Iterable[str] = SHARED_CHECKS) -> int:
    """How many shared verdicts the hand-written side holds (what a comparison covers)."""
    shared = set(checks)
    return sum(1 for rows in handwritten.values() for key in rows if key[0] in shared)


def missing_planted(
    verdicts: Verdicts, planted: Iterable[tuple[str, str, str, str]]
) -> list[tuple[str, str, str, str]]:
    """The planted faults ``(host, check id, subject, status)`` that ``verdicts`` misses."""
    return [
        fault
        for fault in planted
        if verdicts.get(fault[0], {}).get((fault[1], fault[2])) != fault[3]
    ]
