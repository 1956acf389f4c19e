"""Notifications: mail over SMTP and a JSON webhook, through a persistent outbox.

A message is written to the outbox in the same transaction as the change it reports, then
delivered. A notifier that fails is logged and the message stays in the outbox, to be
retried by the next run or by ``opskeeper incident notify``; delivery never raises. Each
delivery is bounded in wall-clock time, a run's deliveries together by a budget, and a
target that failed is backed off. The SMTP password and webhook tokens come from the
environment variables the policy names; nothing here logs or stores them.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import json
import logging
import os
import smtplib
import socket
import threading
import time
import urllib.request
from datetime import datetime, timedelta
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

#: How long a target is left alone after its first failure; it doubles with each one after,
#: up to the longest.
RETRY_FIRST = timedelta(minutes=1)
RETRY_LONGEST = timedelta(hours=1)

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


class _Abandoned(Exception):
    """The caller stopped waiting for this delivery: it must not go on."""


class _Attempt:
    """One delivery, run in a worker thread, that the caller may abandon.

    An abandoned attempt shuts down the sockets it holds and refuses to open or send more,
    so a thread that finishes late cannot deliver after its message was counted as failed
    (and retried). The worker never touches the store: only the caller writes the outcome.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._abandoned = False
        self.finished = threading.Event()
        self.error: Exception | None = None

    def proceed(self) -> None:
        with self._lock:
            if self._abandoned:
                raise _Abandoned

    def hold(self, sock: socket.socket | None) -> None:
        with self._lock:
            if self._abandoned:
                raise _Abandoned
            if sock is not None:
                self._sockets.append(sock)

    def finish(self, error: Exception | None) -> None:
        with self._lock:
            if not self._abandoned:
                self.error = error
                self.finished.set()

    def abandon(self) -> bool:
        """Stop the delivery; False when it had finished after all (its outcome stands)."""
        with self._lock:
            if self.finished.is_set():
                return False
            self._abandoned = True
            held = list(self._sockets)
        for sock in held:
            # Wakes a thread blocked on the socket; it then fails and closes it itself.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        return True


def _mail(message: OutboxMessage, policy: Policy, attempt: _Attempt) -> None:
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
    attempt.proceed()
    # The greeting is read before the socket can be held: a server that never greets ends
    # this thread after one timeout, and hold() then stops it.
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
        attempt.hold(client.sock)
        if smtp.starttls:
            client.starttls()
            attempt.hold(client.sock)
        if smtp.username:
            password = os.environ.get(smtp.password_env or "", "")
            if not password:
                raise RuntimeError(
                    f"smtp.username is set but the environment variable "
                    f"{smtp.password_env or '(smtp.password_env unset)'} holds no password"
                )
            client.login(smtp.username, password)
        attempt.proceed()
        client.send_message(mail)


class _HTTPConnection(http.client.HTTPConnection):
    """A connection whose socket the attempt holds, and which an abandoned one never opens."""

    def __init__(self, *args: Any, attempt: _Attempt, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.attempt = attempt

    def connect(self) -> None:
        self.attempt.proceed()
        super().connect()
        self.attempt.hold(self.sock)


class _HTTPSConnection(_HTTPConnection, http.client.HTTPSConnection):
    """The same over TLS: ``connect`` reaches HTTPSConnection's, so the held socket is the
    TLS one."""


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, attempt: _Attempt) -> None:
        super().__init__()
        self.attempt = attempt

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_HTTPConnection, attempt=self.attempt), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, attempt: _Attempt) -> None:
        super().__init__()
        self.attempt = attempt

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_HTTPSConnection, attempt=self.attempt), req)


def _webhook(message: OutboxMessage, policy: Policy, attempt: _Attempt) -> None:
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
    # urllib's own handlers stay for the rest (proxies from the environment, redirects).
    opener = urllib.request.build_opener(_HTTPHandler(attempt), _HTTPSHandler(attempt))
    with opener.open(request, timeout=policy.webhook_timeout) as response:
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


def _limit(message: OutboxMessage, policy: Policy) -> float:
    """The longest one delivery may take, start to end, in seconds."""
    return policy.smtp.timeout if message.channel == "mail" else policy.webhook_timeout


def backoff(attempts: int) -> timedelta:
    """How long a target that has failed ``attempts`` times in a row is left alone."""
    # The exponent stops growing long after the longest wait is reached, before it overflows.
    growing: timedelta = RETRY_FIRST * 2 ** min(max(attempts - 1, 0), 20)
    return min(growing, RETRY_LONGEST)


def _try(message: OutboxMessage, policy: Policy, wait: float) -> str | None:
    """Deliver one message in a worker thread, waiting at most ``wait`` seconds.

    Returns None when it was sent, else the error for the outbox row.
    """
    attempt = _Attempt()

    def work() -> None:
        try:
            SENDERS[message.channel](message, policy, attempt)
        # Any fault of one message (a refused URL, a garbled answer, a bug) is that
        # message's failed attempt: it must not stop the messages behind it.
        except Exception as exc:
            attempt.finish(exc)
        else:
            attempt.finish(None)

    # A daemon thread: one stuck in a name lookup must not keep the process alive.
    worker = threading.Thread(target=work, name=f"notify-{message.id}", daemon=True)
    worker.start()
    if not attempt.finished.wait(wait) and attempt.abandon():
        return f"no answer within {wait:g} s; gave up waiting"
    if attempt.error is None:
        return None
    return _scrub(f"{attempt.error.__class__.__name__}: {attempt.error}", message, policy)


def deliver(
    store: Store,
    policy: Policy,
    now: datetime | None = None,
    budget: float | None = None,
    retry_now: bool = False,
) -> tuple[int, int]:
    """Try every message due; return (sent, failed). Never raises for a notifier's fault.

    Each delivery may take its channel's timeout, start to end; ``budget`` (seconds) bounds
    them all, and what it leaves untried stays queued. A target that fails is left alone
    until its message's ``next_attempt_at`` (growing with each failure), and so are its
    other messages; ``retry_now`` tries them anyway.
    """
    now = now or utcnow()
    started = time.monotonic()
    with store.session() as session:
        pending = list(
            session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.sent_at.is_(None),
                    OutboxMessage.attempts < policy.max_attempts,
                )
                .order_by(OutboxMessage.id)
            )
        )
    resting = set()
    if not retry_now:
        resting = {
            (m.channel, m.target)
            for m in pending
            if m.next_attempt_at is not None and as_utc(m.next_attempt_at) > now
        }
    sent = failed = 0
    for index, message in enumerate(pending):
        if (message.channel, message.target) in resting:
            continue
        wait = _limit(message, policy)
        if budget is not None:
            left = budget - (time.monotonic() - started)
            if left <= 0:
                log.warning(
                    "notifications: %g s spent, %d message(s) left in the outbox for "
                    "`opskeeper incident notify`",
                    budget,
                    len(pending) - index,
                )
                break
            wait = min(wait, left)
        error = _try(message, policy, wait)
        with store.session() as session:
            row = session.get(OutboxMessage, message.id)
            if row is None:
                continue
            row.attempts += 1
            row.last_error = error
            if error is None:
                row.sent_at = now
                row.next_attempt_at = None
            else:
                row.next_attempt_at = now + backoff(row.attempts)
        if error is None:
            sent += 1
            continue
        failed += 1
        resting.add((message.channel, message.target))
        log.warning(
            "host %r, incident #%s: %s to %s failed (attempt %d), kept for retry in %s: %s",
            message.payload.get("incident", {}).get("host"),
            message.incident_id,
            message.channel,
            shown_target(message),
            message.attempts + 1,
            backoff(message.attempts + 1),
            error,
        )
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
