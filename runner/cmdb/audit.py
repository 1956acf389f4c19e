"""Audit entries for changes to the CMDB: who did what, when, to which asset."""

from __future__ import annotations

import logging
from typing import Any

from runner.jobs import current_user
from runner.store import Store, open_store
from runner.store.db import utcnow
from runner.store.models import AuditEntry

log = logging.getLogger(__name__)


def record_audit(
    action: str,
    asset: str | None,
    details: dict[str, Any],
    *,
    actor: str | None = None,
    store: Store | None = None,
) -> int:
    """Write one audit entry (time in UTC, actor the sudo caller or login) and return its id."""
    store = store or open_store()
    entry = AuditEntry(
        at=utcnow(),
        actor=actor or current_user(),
        action=action,
        asset=asset,
        details=details,
    )
    with store.session() as session:
        session.add(entry)
        session.flush()
        entry_id = entry.id
    log.info("audit %d: %s by %s on %s", entry_id, action, entry.actor, asset or "-")
    return entry_id
