"""Mail and webhook delivered to local receivers the test starts; a dead one stops nothing."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import select

from runner.cli import main
from runner.incidents import after_run
from runner.incidents.notify import deliver, pending_messages
from runner.incidents.policy import Policy, parse
from runner.store import Store
from runner.store.db import as_utc
from runner.store.models import Incident, OutboxMessage
from tests.unit.incidents.conftest import NIGHT, RunFactory, ServerFactory

SERVICE_DOWN = ("web01", "linux.service.required", "nginx", "fail")


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=email_policy.default))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


@pytest.fixture
def webhook() -> Iterator[tuple[list[dict[str, Any]], str]]:
    """A receiver that answers 204; each body it gets, with its headers under ``_headers``."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({**json.loads(body), "_headers": dict(self.headers)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received, f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _policy(smtp_port: int, hook: str) -> Policy:
    return parse(
        {
            "smtp": {"host": "127.0.0.1", "port": smtp_port, "from": "opskeeper@example.com"},
            "severities": {
                "P2": {"notify": {"mail": ["oncall@example.com"], "webhook": [hook]}},
            },
        },
        Path("policy.yml"),
    )


def test_a_p2_opening_is_mailed_and_posted(
    store: Store,
    nightly: RunFactory,
    smtp: tuple[_Inbox, int],
    webhook: tuple[list[dict[str, Any]], str],
) -> None:
    inbox, port = smtp
    received, url = webhook
    policy = _policy(port, url)

    after_run(store, nightly([SERVICE_DOWN]), Path("inv"), policy=policy, now=NIGHT)

    [mail] = inbox.messages
    assert mail["To"] == "oncall@example.com"
    assert mail["Subject"].startswith("[P2] incident #1 opened: web01: linux.service.required")
    [posted] = received
    assert posted["event"] == "opened"
    assert posted["incident"]["severity"] == "P2"
    assert posted["incident"]["check_id"] == "linux.service.required"
    assert pending_messages(store) == []


def test_a_p3_opening_notifies_nobody(
    store: Store, nightly: RunFactory, webhook: tuple[list[dict[str, Any]], str]
) -> None:
    received, url = webhook
    policy = parse({"severities": {"P3": {"notify": {"webhook": [url]}}}}, Path("p.yml"))
    after_run(
        store,
        nightly([("web01", "linux.disk.usage", "/", "fail")]),
        Path("i"),
        policy=policy,
        now=NIGHT,
    )
    assert received == []


def test_near_and_breach_are_notified(
    store: Store, nightly: RunFactory, webhook: tuple[list[dict[str, Any]], str]
) -> None:
    received, url = webhook
    policy = parse({"severities": {"P2": {"notify": {"webhook": [url]}}}}, Path("p.yml"))
    after_run(store, nightly([SERVICE_DOWN]), Path("i"), policy=policy, now=NIGHT)
    # 25 of 30 minutes to respond, then 31: near, then breached.
    after_run(
        store, nightly([SERVICE_DOWN]), Path("i"), policy=policy, now=NIGHT + timedelta(minutes=25)
    )
    after_run(
        store, nightly([SERVICE_DOWN]), Path("i"), policy=policy, now=NIGHT + timedelta(minutes=31)
    )
    assert [(r["event"], r["detail"].split(" clock")[0]) for r in received[1:]] == [
        ("sla.near", "respond"),
        ("sla.breached", "respond"),
    ]


def test_a_dead_receiver_does_not_stop_the_run_and_is_retried(
    store: Store,
    nightly: RunFactory,
    webhook: tuple[list[dict[str, Any]], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    dead = f"http://127.0.0.1:{_free_port()}/hook"
    policy = parse(
        {
            "smtp": {"host": "127.0.0.1", "port": _free_port(), "timeout": 2},
            "severities": {"P2": {"notify": {"mail": ["oncall@example.com"], "webhook": [dead]}}},
        },
        Path("p.yml"),
    )

    outcome = after_run(store, nightly([SERVICE_DOWN]), Path("inv"), policy=policy, now=NIGHT)

    assert outcome is not None and outcome.opened == [1]
    with store.session() as session:
        assert session.scalars(select(Incident.status)).all() == ["open"]
    waiting = pending_messages(store)
    assert [(m.channel, m.attempts) for m in waiting] == [("mail", 1), ("webhook", 1)]
    assert all(m.last_error for m in waiting)
    assert "kept for retry" in caplog.text

    # The receiver comes back (here: the webhook now points at a live one): the retry sends.
    received, url = webhook
    with store.session() as session:
        for message in session.scalars(select(OutboxMessage)):
            if message.channel == "webhook":
                message.target = url
    sent, failed = deliver(store, policy)
    assert (sent, failed) == (1, 1)
    assert received[0]["event"] == "opened"


def test_the_smtp_password_comes_from_the_environment_only(
    store: Store, nightly: RunFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = parse(
        {
            "smtp": {
                "host": "127.0.0.1",
                "port": _free_port(),
                "username": "ops",
                "password_env": "OPS_SMTP_PASSWORD",
            },
            "severities": {"P2": {"notify": {"mail": ["oncall@example.com"]}}},
        },
        Path("p.yml"),
    )
    monkeypatch.setenv("OPS_SMTP_PASSWORD", "s3cret-value")
    after_run(store, nightly([SERVICE_DOWN]), Path("inv"), policy=policy, now=NIGHT)
    with store.session() as session:
        stored = json.dumps([m.payload for m in session.scalars(select(OutboxMessage))])
        errors = " ".join(m.last_error or "" for m in session.scalars(select(OutboxMessage)))
    assert "s3cret-value" not in stored + errors


def test_raising_a_severity_by_hand_notifies(
    store: Store, webhook: tuple[list[dict[str, Any]], str]
) -> None:
    from runner.incidents.lifecycle import change, open_incident

    received, url = webhook
    policy = parse({"severities": {"P1": {"notify": {"webhook": [url]}}}}, Path("p.yml"))
    incident_id = open_incident(store, policy, "orders stuck", "P3", now=NIGHT)
    change(store, incident_id, "severity", "no orders since 9:00", severity="P1", policy=policy)
    deliver(store, policy)
    assert [(r["event"], r["incident"]["severity"]) for r in received] == [("raised", "P1")]


def test_times_are_utc_with_offset_in_json_and_local_in_mail(
    store: Store,
    nightly: RunFactory,
    smtp: tuple[_Inbox, int],
    webhook: tuple[list[dict[str, Any]], str],
) -> None:
    inbox, port = smtp
    received, url = webhook
    policy = parse(
        {
            "timezone": "Europe/Berlin",
            "smtp": {"host": "127.0.0.1", "port": port},
            "severities": {"P2": {"notify": {"mail": ["oncall@example.com"], "webhook": [url]}}},
        },
        Path("p.yml"),
    )
    after_run(store, nightly([SERVICE_DOWN]), Path("i"), policy=policy, now=NIGHT)
    # Read back from the store: the near notice is built from a row SQLite hands back.
    later = NIGHT + timedelta(minutes=25)
    after_run(store, nightly([SERVICE_DOWN]), Path("i"), policy=policy, now=later)

    assert [r["incident"]["opened_at"] for r in received] == ["2026-12-01T02:00:00+00:00"] * 2
    bodies = [mail.get_content() for mail in inbox.messages]
    assert len(bodies) == 2
    assert all("opened_at: 2026-12-01 03:00 CET" in body for body in bodies)


def _not_http(conn: socket.socket, stop: threading.Event) -> None:
    conn.recv(65536)
    conn.sendall(b"this is no HTTP\r\n\r\n")


def test_one_bad_message_blocks_nothing_behind_it(
    store: Store,
    nightly: RunFactory,
    raw_server: ServerFactory,
    webhook: tuple[list[dict[str, Any]], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    received, url = webhook
    garbled = raw_server(_not_http)
    policy = parse({"severities": {"P2": {"notify": {"webhook": [garbled, url]}}}}, Path("p.yml"))
    after_run(store, nightly([SERVICE_DOWN]), Path("i"), policy=policy, now=NIGHT)
    # A row an older policy left: a URL without a scheme, which urllib refuses (ValueError).
    with store.session() as session:
        session.add(
            OutboxMessage(
                created_at=NIGHT,
                incident_id=1,
                channel="webhook",
                target="chat.example.com/hook",
                event="opened",
                payload={"event": "opened", "incident": {"host": "web01"}},
                attempts=0,
            )
        )
    deliver(store, policy)

    assert [r["event"] for r in received] == ["opened"]
    with store.session() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert [(r.target, r.attempts, r.sent_at is None) for r in rows] == [
        (garbled, 2, True),
        (url, 1, False),
        ("chat.example.com/hook", 1, True),
    ]
    assert "BadStatusLine" in (rows[0].last_error or "")
    assert "ValueError" in (rows[2].last_error or "")
    assert "host 'web01', incident #1: webhook to" in caplog.text


TOKEN = "tok-s3cret-42"


def test_a_webhook_token_comes_from_the_environment_and_is_never_kept(
    store: Store,
    nightly: RunFactory,
    webhook: tuple[list[dict[str, Any]], str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    received, url = webhook
    dead = f"http://127.0.0.1:{_free_port()}/hook"
    monkeypatch.setenv("OPS_HOOK_TOKEN", TOKEN)
    hooks = [
        {"url": url, "token_env": "OPS_HOOK_TOKEN"},
        {"url": dead, "token_env": "OPS_HOOK_TOKEN"},
    ]
    path = tmp_path / "incident_policy.yml"
    path.write_text(json.dumps({"severities": {"P2": {"notify": {"webhook": hooks}}}}))
    policy = parse(json.loads(path.read_text()), path)

    caplog.set_level(logging.DEBUG)
    after_run(store, nightly([SERVICE_DOWN]), Path("inv"), policy=policy, now=NIGHT)
    result = CliRunner().invoke(main, ["incident", "--policy", str(path), "notify"])

    assert received[0]["event"] == "opened"
    assert {posted["_headers"]["Authorization"] for posted in received} == {f"Bearer {TOKEN}"}
    with store.session() as session:
        rows = [
            json.dumps(
                [getattr(row, column.key) for column in OutboxMessage.__table__.columns],
                default=str,
            )
            for row in session.scalars(select(OutboxMessage))
        ]
    assert len(rows) >= 2
    assert "kept for retry" in caplog.text
    assert result.exit_code == 0 and dead in result.output
    assert TOKEN not in "".join(rows) + caplog.text + result.output


def test_a_token_kept_in_an_old_outbox_row_is_never_shown(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    leaky = f"http://user:{TOKEN}@127.0.0.1:{_free_port()}/hook?channel=ops&token={TOKEN}"
    with store.session() as session:
        session.add(
            OutboxMessage(
                created_at=NIGHT,
                incident_id=None,
                channel="webhook",
                target=leaky,
                event="opened",
                payload={"event": "opened", "incident": {"host": "web01"}},
                attempts=0,
            )
        )
    result = CliRunner().invoke(main, ["incident", "notify"])
    assert result.exit_code == 0
    assert "http://***@127.0.0.1:" in result.output
    assert "/hook?channel=***&token=***" in result.output
    with store.session() as session:
        [error] = session.scalars(select(OutboxMessage.last_error)).all()
    assert TOKEN not in result.output + caplog.text + (error or "")


def _drip(conn: socket.socket, stop: threading.Event) -> None:
    """Answer one header line every half second, never ending the headers."""
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for count in range(60):
        if stop.wait(0.5):
            return
        conn.sendall(f"X-Drip-{count}: still here\r\n".encode())


def _silent(conn: socket.socket, stop: threading.Event) -> None:
    """Accept, read the request and never answer."""
    conn.recv(65536)
    stop.wait(30)


FAULTS = [("web01", "linux.service.required", unit, "fail") for unit in ("a", "b", "c")]


def _outbox(store: Store) -> list[OutboxMessage]:
    with store.session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_slow_receivers_cost_the_run_no_more_than_its_budget(
    store: Store, nightly: RunFactory, raw_server: ServerFactory
) -> None:
    hooks = [raw_server(_drip), raw_server(_silent)] + [raw_server(_silent) for _ in range(3)]
    policy = parse(
        {
            "webhook_timeout": 1,
            "delivery_budget": 2.5,
            "severities": {"P2": {"notify": {"webhook": hooks}}},
        },
        Path("p.yml"),
    )

    started = time.monotonic()
    after_run(store, nightly(FAULTS), Path("i"), policy=policy, now=NIGHT)
    elapsed = time.monotonic() - started

    assert elapsed < 2.5 + 1.0
    rows = _outbox(store)
    assert len(rows) == 3 * 5 and all(row.sent_at is None for row in rows)
    tried = [row for row in rows if row.attempts]
    # One try per target within the budget: drip and silent give up after 1 s, the third
    # gets the half second left; the other targets wait for `incident notify`.
    assert [row.target for row in tried] == hooks[:3]
    assert all(row.attempts == 1 for row in tried)
    assert tried[0].last_error == "no answer within 1 s; gave up waiting"
    assert all(row.next_attempt_at is not None for row in tried)
    assert all(row.next_attempt_at is None for row in rows if not row.attempts)


def test_a_failed_target_is_backed_off_and_a_late_thread_changes_nothing(
    store: Store, nightly: RunFactory, raw_server: ServerFactory
) -> None:
    hook = raw_server(_silent)
    policy = parse(
        {"webhook_timeout": 0.5, "severities": {"P2": {"notify": {"webhook": [hook]}}}},
        Path("p.yml"),
    )
    after_run(store, nightly(FAULTS), Path("i"), policy=policy, now=NIGHT)
    # The target failed once: its other messages were not tried behind it.
    assert [row.attempts for row in _outbox(store)] == [1, 0, 0]
    assert as_utc(_outbox(store)[0].next_attempt_at) == NIGHT + timedelta(minutes=1)

    # Backed off: nothing is tried before the next attempt time.
    assert deliver(store, policy, now=NIGHT + timedelta(seconds=30)) == (0, 0)
    assert deliver(store, policy, now=NIGHT + timedelta(minutes=1)) == (0, 1)
    first = _outbox(store)[0]
    assert first.attempts == 2
    assert as_utc(first.next_attempt_at) == NIGHT + timedelta(minutes=3)

    # The abandoned attempts end without touching the store.
    time.sleep(1)
    assert [row.attempts for row in _outbox(store)] == [2, 0, 0]
    assert deliver(store, policy, now=NIGHT + timedelta(minutes=2)) == (0, 0)
    assert deliver(store, policy, now=NIGHT, retry_now=True) == (0, 1)
