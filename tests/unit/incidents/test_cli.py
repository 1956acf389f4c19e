"""The incident and kb commands: a life cycle through the CLI, and bad input refused."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from runner.cli import main
from runner.incidents.kb import articles, for_check, search
from runner.store import open_store
from runner.store.models import IncidentEvent, OutboxMessage
from tests.unit.incidents.conftest import ServerFactory


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"SUDO_USER": "alice"})
    return result.exit_code, result.output


def _events() -> int:
    with open_store().session() as session:
        return session.scalar(select(func.count()).select_from(IncidentEvent)) or 0


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "inv"
    folder.mkdir()
    return folder


def test_a_reported_fault_through_its_life(policy_dir: Path, tmp_path: Path) -> None:
    inv = ("-i", str(policy_dir))
    assert _invoke("incident", *inv, "open", "-t", "printer jams", "-s", "P3") == (
        0,
        "opened incident #1\n",
    )
    for args in (
        ("ack", "1"),
        ("assign", "1", "bob"),
        ("note", "1", "vendor called"),
        ("pending", "1", "waiting on the vendor's part"),
        ("resume", "1"),
        ("severity", "1", "P2", "--reason", "the whole floor prints there"),
        ("resolve", "1", "--cause", "worn roller"),
        ("close", "1"),
    ):
        code, output = _invoke("incident", *inv, *args)
        assert code == 0, output
    code, output = _invoke("incident", *inv, "show", "1")
    assert code == 0
    assert "#1 P2 closed" in output
    assert "alice  pending: pending, clocks paused: waiting on the vendor's part" in output
    code, output = _invoke("incident", *inv, "report", "1", "-o", str(tmp_path))
    assert code == 0 and (tmp_path / "incident-1.html").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("close", "1"), "incident #1 is open; only an incident that is resolved can be closed"),
        (("resume", "1"), "incident #1 is open; only an incident that is pending can be resumed"),
        (("ack", "7"), "no incident #7; see `opskeeper incident list`"),
    ],
)
def test_bad_changes_are_one_line_and_change_nothing(
    policy_dir: Path, args: tuple[str, ...], message: str
) -> None:
    _invoke("incident", "-i", str(policy_dir), "open", "-t", "vpn down", "-s", "P2")
    before = _events()
    code, output = _invoke("incident", "-i", str(policy_dir), *args)
    assert code == 1
    assert output.strip() == f"error: {message}"
    assert _events() == before


def test_a_bad_policy_file_is_refused_and_nothing_changes(policy_dir: Path) -> None:
    _invoke("incident", "-i", str(policy_dir), "open", "-t", "vpn down", "-s", "P2")
    (policy_dir / "incident_policy.yml").write_text("severities: {P2: {respond: -10}}\n")
    code, output = _invoke("incident", "-i", str(policy_dir), "ack", "1")
    assert code == 1
    assert "incident_policy.yml: field 'severities.P2.respond' is -10" in output
    assert "a time cannot be negative" in output
    assert _events() == 1


def test_the_kb_has_an_article_for_each_kind_of_check() -> None:
    for check_id in (
        "linux.disk.usage",
        "linux.service.required",
        "host.reachable",
        "linux.time.sync",
        "linux.updates.security",
        "cmdb.drift",
    ):
        assert for_check(check_id), check_id
    assert len(articles()) >= 6


def test_kb_search_ranks_by_words() -> None:
    assert search("no space left")[0][0].slug == "disk-filling-up"
    assert search("nothing like this anywhere zzz") == []
    code, output = _invoke("kb", "search", "ssh", "timeout")
    assert code == 0 and output.startswith("host-unreachable:")


def test_a_receiver_that_speaks_no_http_does_not_break_open(
    policy_dir: Path, raw_server: ServerFactory
) -> None:
    def garble(conn: socket.socket, stop: threading.Event) -> None:
        conn.recv(65536)
        conn.sendall(b"garbage\r\n\r\n")

    url = raw_server(garble)
    (policy_dir / "incident_policy.yml").write_text(
        f"severities: {{P1: {{notify: {{webhook: ['{url}']}}}}}}\n"
    )
    code, output = _invoke("incident", "-i", str(policy_dir), "open", "-t", "shop down", "-s", "P1")
    assert (code, output) == (0, "opened incident #1\n")
    with open_store().session() as session:
        assert session.scalars(select(OutboxMessage.attempts)).all() == [1]
