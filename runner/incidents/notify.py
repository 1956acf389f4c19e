"""Notifications: mail over SMTP and a JSON webhook, through a persistent outbox.

A message is written to the outbox in the same transaction as the change it reports, then
delivered. A notifier that fails is logged and the message stays in the outbox, to be
retried by the next run or by ``opskeeper incident notify``; delivery never raises. The
SMTP password comes from the environment variable the policy names, and nothing here logs
or stores it.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import urllib.request
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from runner.incidents.clock import shown
from runner.incidents.policy import Policy, redact_url
from runner.store import Store
from runner.store.db import as_utc, utcnow
from runner.store.models import Incident, OutboxMessage

log = logging.getLogger(__name__)

#: Events that notify, and what their mail subject says.
EVENTS = {
    "opened": "opened",
    "reopened": "reopened",
    "raised": "raised in severity",
    "sla.near": "near an SLA breach",
    "sla.breached": "breached its SLA",
}


def payload(incident: Incident, event: str, detail: str = "") -> dict[str, Any]:
    return {
        "event": event,
        "detail": detail,
        "incident": {
            "id": incident.id,
            "severity": incident.severity,
            "status": incident.status,
            "title": incident.title,
            "host": incident.host,
            "check_id": incident.check_id,
            "subject": incident.subject,
            # SQLite hands back naive times; receivers get UTC with its offset, unambiguous.
            "opened_at": as_utc(incident.opened_at).isoformat(),
            "count": incident.count,
            "services": [item["name"] for item in incident.impact if item["kind"] == "service"],
        },
    }


def enqueue(
    session: Session,
    incident: Incident,
    event: str,
    policy: Policy,
    now: datetime,
    detail: str = "",
) -> int:
    """Queue the event for every channel the incident's severity names; return how many."""
    rule = policy.severities[incident.severity]
    body = payload(incident, event, detail)
    targets = [("mail", address) for address in rule.mail]
    targets += [("webhook", url) for url in rule.webhook]
    for channel, target in targets:
        session.add(
            OutboxMessage(
                created_at=now,
                incident_id=incident.id,
                channel=channel,
                target=target,
                event=event,
                payload=body,
                attempts=0,
            )
        )
    return len(targets)


def _for_people(key: str, value: Any, policy: Policy) -> str:
    """A payload value as a mail body shows it: times in the policy's zone, lists joined."""
    if key.endswith("_at") and isinstance(value, str):
        try:
            return shown(datetime.fromisoformat(value), policy)
        except ValueError:
            return value
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _mail(message: OutboxMessage, policy: Policy) -> None:
    incident = message.payload["incident"]
    mail = EmailMessage()
    mail["From"] = policy.smtp.sender
    mail["To"] = message.target
    mail["Subject"] = (
        f"[{incident['severity']}] incident #{incident['id']} "
        f"{EVENTS.get(message.event, message.event)}: {incident['title']}"
    )
    lines = [f"{key}: {_for_people(key, value, policy)}" for key, value in incident.items()]
    if message.payload.get("detail"):
        lines.insert(0, message.payload["detail"])
    mail.set_content("\n".join(lines) + "\n")
    smtp = policy.smtp
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.username:
            password = os.environ.get(smtp.password_env or "", "")
            if not password:
                raise RuntimeError(
                    f"smtp.username is set but the environment variable "
                    f"{smtp.password_env or '(smtp.password_env unset)'} holds no password"
                )
            client.login(smtp.username, password)
        client.send_message(mail)


def _webhook(message: OutboxMessage, policy: Policy) -> None:
    data = json.dumps(message.payload).encode()
    headers = {"Content-Type": "application/json"}
    name = policy.webhook_tokens.get(message.target)
    if name:
        token = os.environ.get(name, "")
        if not token:
            raise RuntimeError(f"the environment variable {name} (token_env) holds no token")
        if not token.isprintable() or any(char.isspace() for char in token):
            # http.client would refuse it quoting the value; say why without it.
            raise RuntimeError(f"the token in {name} holds spaces or control characters")
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(message.target, data=data, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=policy.webhook_timeout) as response:
        if response.status >= 300:
            raise RuntimeError(f"HTTP {response.status}")


SENDERS = {"mail": _mail, "webhook": _webhook}


def shown_target(message: OutboxMessage) -> str:
    """Where a message goes, fit for a log or a terminal: a webhook's secrets masked."""
    return redact_url(message.target) if message.channel == "webhook" else message.target


def _scrub(text: str, message: OutboxMessage, policy: Policy) -> str:
    """An error text without the secrets the message's target or token could put in it.

    The policy refuses secrets in URLs; rows an older policy queued may still hold some.
    """
    text = text.replace(message.target, shown_target(message))
    if message.channel != "webhook":
        return text
    secrets = [os.environ.get(policy.webhook_tokens.get(message.target, ""), "")]
    try:
        parts = urlsplit(message.target)
    except ValueError:
        parts = None
    if parts is not None:
        secrets += [parts.username or "", parts.password or ""]
        secrets += [value for _, _, value in (q.partition("=") for q in parts.query.split("&"))]
    # Short values are no secrets worth the name, and masking them would garble the text.
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def deliver(store: Store, policy: Policy, now: datetime | None = None) -> tuple[int, int]:
    """Try every message due; return (sent, failed). Never raises for a notifier's fault."""
    now = now or utcnow()
    with store.session() as session:
        due = list(
            session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.sent_at.is_(None),
                    OutboxMessage.attempts < policy.max_attempts,
                )
                .order_by(OutboxMessage.id)
            )
        )
    sent = failed = 0
    for message in due:
        error = None
        try:
            SENDERS[message.channel](message, policy)
        # Any fault of one message (a refused URL, a garbled answer, a bug) is that
        # message's failed attempt: it must not stop the messages behind it.
        except Exception as exc:
            error = _scrub(f"{exc.__class__.__name__}: {exc}", message, policy)
            log.warning(
                "host %r, incident #%s: %s to %s failed (attempt %d), kept for retry: %s",
                message.payload.get("incident", {}).get("host"),
                message.incident_id,
                message.channel,
                shown_target(message),
                message.attempts + 1,
                error,
            )
        with store.session() as session:
            row = session.get(OutboxMessage, message.id)
            if row is None:
                continue
            row.attempts += 1
            row.last_error = error
            if error is None:
                row.sent_at = now
        if error is None:
            sent += 1
        else:
            failed += 1
    return sent, failed


def pending_messages(store: Store) -> list[OutboxMessage]:
    with store.session() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None))
                .order_by(OutboxMessage.id)
            )
        )
