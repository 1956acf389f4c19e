"""The jobs that look at hosts without changing them: the nightly inspection and the census.

Both are playbook runs (:mod:`runner.jobs`). When the inventory is a CMDB, their census
facts are compared with the records afterwards, so drift between the register and reality
is a verdict of the same run (``cmdb.drift``), and a full inspection also records the
CMDB's own checks (spare stock, warranty and support ends). A census also records the
assets in use that no census play covers (``cmdb.coverage``) and, when ``cmdb.yml`` has a
``discovery`` section and the run is not limited, a census and a full inspection alike
record the addresses that answer the discovery sweep without a record (``cmdb.unrecorded``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runner.cmdb import cmdb_checks, drift_checks, load_cmdb
from runner.cmdb import discovery as cmdb_discovery
from runner.cmdb.checks import CheckRow
from runner.cmdb.load import Cmdb
from runner.cmdb.reconcile import Finding, census_checks, not_covered, unrecorded_addresses
from runner.incidents import after_run, load_policy
from runner.incidents.policy import Policy
from runner.inventory import resolve_targets
from runner.jobs import (
    CENSUS_KEY,
    CHECKS_KEY,
    PLAYBOOKS,
    EventSink,
    JobResult,
    JobSpec,
    ProgressCallback,
    prepare,
    run_job,
)
from runner.store import Store
from runner.store.db import ResultRow

log = logging.getLogger(__name__)


def play_hosts(playbook: Path) -> str:
    """The host patterns of a playbook's plays, joined into one pattern (``linux:ios``).

    The runner resolves this pattern before the run, for the progress bar and to name the
    hosts that end a run without a result; reading it from the playbook keeps the two in
    step when a play is added.
    """
    plays = yaml.safe_load(playbook.read_text()) or []
    patterns: list[str] = []
    for play in plays:
        hosts = play.get("hosts") if isinstance(play, dict) else None
        for pattern in [hosts] if isinstance(hosts, str) else hosts or []:
            if pattern not in patterns:
                patterns.append(str(pattern))
    return ":".join(patterns) or "all"


def cmdb_root(inventory: Path) -> Path | None:
    """The CMDB folder behind an inventory, or None for a plain Ansible inventory."""
    folder = inventory if inventory.is_dir() else inventory.parent
    return folder if (folder / "cmdb.yml").is_file() else None


def _rows(checks: list[CheckRow]) -> list[ResultRow]:
    return [
        ResultRow(
            host=check["host"],
            check_id=check["check_id"],
            subject=check["subject"],
            status=check["status"],
            value=check["value"],
            unit=check["unit"],
            thresholds=check["thresholds"],
            message=check["message"],
        )
        for check in checks
    ]


def census_of(
    said: Mapping[str, Mapping[str, Any]], outcomes: Mapping[str, tuple[str, str | None]]
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """What the hosts of a run said about themselves, and which hosts were meant to answer.

    ``said`` is the census each host returned, ``outcomes`` how each host fared (as
    :class:`EventSink` and :class:`JobResult` keep them). Hosts that could not be reached
    are in the census as unreachable; hosts whose probe failed for another reason are left
    out of both, so they are neither drift nor absent.
    """
    census: dict[str, dict[str, Any]] = {name: dict(facts) for name, facts in said.items()}
    expected = []
    for host, (outcome, _) in outcomes.items():
        if outcome == "unreachable":
            census[host] = {"unreachable": True}
            expected.append(host)
        elif host in census:
            expected.append(host)
    return census, sorted(expected)


@dataclass
class Inspection:
    """One inspection or census run, prepared: the CMDB (if any) is loaded up front."""

    spec: JobSpec
    cmdb: Cmdb | None
    #: The incident policy an inspection is processed with, read before the run so that a
    #: bad policy file stops the run before it starts instead of being logged after it.
    policy: Policy | None = None
    #: The hosts a limited run was asked about (None: every host), set by :func:`run`.
    scope: list[str] | None = None
    #: A census's findings beyond drift: assets no play covers, unrecorded addresses.
    gaps: list[Finding] = field(default_factory=list)
    #: Whether the discovery sweep ran (a CMDB with ``discovery``, a run without a limit).
    swept: bool = False

    def finalize(self, sink: EventSink) -> list[ResultRow]:
        if self.cmdb is None:
            return []
        census, expected = census_of(sink.census, sink.outcomes)
        rows = _rows(drift_checks(self.cmdb, census, expected))
        if self.spec.kind == "census":
            targeted = set(sink.expected) | set(sink.outcomes)
            self.gaps = not_covered(self.cmdb, targeted, self.scope)
            self.gaps += self._unrecorded(self.cmdb, census)
            rows += _rows(census_checks(self.gaps))
        # The record checks are about the whole register, so only a full inspection makes
        # them; a run with --limit or a census records only what it saw. Unrecorded
        # devices are swept for every night too, so they show like any other drift.
        if self.spec.kind == "inspect" and not self.spec.limit:
            rows += _rows(cmdb_checks(self.cmdb))
            rows += _rows(census_checks(self._unrecorded(self.cmdb, census)))
        return rows

    def _unrecorded(self, cmdb: Cmdb, census: Mapping[str, Mapping[str, Any]]) -> list[Finding]:
        """Addresses that answer the CMDB's discovery sweep but belong to no record.

        None without a ``discovery`` section, and none for a limited run: it looks at some
        hosts on purpose, and sweeping whole networks then would be another job.
        """
        settings = cmdb.settings.discovery
        if settings is None or self.spec.limit:
            return []
        self.swept = True
        return unrecorded_addresses(cmdb, cmdb_discovery.run(settings), census)


def plan(
    kind: str,
    inventory: Path,
    limit: str | None = None,
    trigger: str = "manual",
) -> Inspection:
    """A validated inspection (``kind`` ``inspect``) or census (``census``) of ``inventory``."""
    playbook = PLAYBOOKS / ("inspect.yml" if kind == "inspect" else "census.yml")
    spec = JobSpec(kind, playbook, inventory, play_hosts(playbook), limit=limit, trigger=trigger)
    root = cmdb_root(inventory)
    # The full list of the CMDB's problems, rather than the one line the inventory gives.
    cmdb = load_cmdb(root) if root is not None else None
    policy = load_policy(inventory=inventory) if kind == "inspect" else None
    return Inspection(spec, cmdb, policy)


def run(
    store: Store,
    inspection: Inspection,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> JobResult:
    """Prepare and run the job, recording drift and CMDB checks with it.

    A finished inspection then opens, updates and resolves incidents and sends their
    notifications; that step logs its own faults and never fails the run.
    """
    targets = prepare(inspection.spec)
    if inspection.spec.kind == "census" and inspection.spec.limit:
        scope = resolve_targets(inspection.spec.inventory, "all", inspection.spec.limit)
        inspection.scope = scope.hosts
    done_key = CENSUS_KEY if inspection.spec.kind == "census" else CHECKS_KEY
    result = run_job(
        store,
        inspection.spec,
        targets,
        progress=progress,
        cancel=cancel,
        finalize=inspection.finalize,
        done_key=done_key,
    )
    if inspection.spec.kind == "inspect" and result.status == "finished":
        after_run(
            store,
            result.run_id,
            inspection.spec.inventory,
            inspection.cmdb,
            policy=inspection.policy,
        )
    return result
