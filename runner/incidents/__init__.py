"""Incidents: failing checks turned into records with SLA clocks (``docs/INCIDENTS.md``).

* :func:`after_run`: what the nightly run calls once it has ended;
* :mod:`~runner.incidents.lifecycle`: opening, updating, resolving, people's changes;
* :mod:`~runner.incidents.policy`: the policy file; :mod:`~runner.incidents.clock`: clocks;
* :mod:`~runner.incidents.notify`: mail and webhook through the outbox;
* :mod:`~runner.incidents.kb`: the knowledge base; :mod:`~runner.incidents.report`: reports.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from runner.cmdb.load import Cmdb
from runner.errors import OpskeeperError
from runner.incidents.lifecycle import IncidentError, RunOutcome, process_run
from runner.incidents.notify import deliver
from runner.incidents.policy import Policy, PolicyError, load_policy
from runner.store import Store

log = logging.getLogger(__name__)

__all__ = [
    "IncidentError",
    "Policy",
    "PolicyError",
    "RunOutcome",
    "after_run",
    "load_policy",
    "process_run",
]


def after_run(
    store: Store,
    run_id: str,
    inventory: Path,
    cmdb: Cmdb | None = None,
    now: datetime | None = None,
    policy: Policy | None = None,
) -> RunOutcome | None:
    """Process a finished run into incidents and send what is due; never raises.

    The run's verdicts are already stored, so a fault here (a bad policy file, a database
    hiccup) is logged and the next run catches up; it must not fail the run itself.
    """
    try:
        policy = policy or load_policy(inventory=inventory)
        outcome = process_run(store, run_id, policy, cmdb, now)
    except OpskeeperError as exc:
        log.error("run %s: incidents not updated: %s", run_id, exc)
        return None
    except Exception:  # the run has ended and is recorded: it stays so
        log.exception("run %s: incidents not updated", run_id)
        return None
    if outcome.opened or outcome.reopened or outcome.resolved:
        log.info(
            "run %s: incidents opened %s, reopened %s, resolved %s",
            run_id,
            outcome.opened,
            outcome.reopened,
            outcome.resolved,
        )
    try:
        # Bounded: a slow receiver must not hold up the run; what is left stays queued.
        deliver(store, policy, now, budget=policy.delivery_budget)
    except Exception:  # they are retried from the outbox
        log.exception("run %s: notifications not delivered; they stay in the outbox", run_id)
    return outcome
