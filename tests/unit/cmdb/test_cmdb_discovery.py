"""Discovery: the TCP connect sweep, its settings in cmdb.yml, and what reconcile makes of
it (addresses without a record, assets the census does not cover).

Every socket here is on 127.0.0.0/8: the tests listen on addresses of one /29 of
127.77.0.0/16, picked at random so that test runs side by side do not see each other's
listeners, and sweep that network only.
"""

from __future__ import annotations

import contextlib
import csv
import io
import random
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.cmdb import check_cmdb, load_cmdb, reconcile
from runner.cmdb.discovery import Answer, addresses, sweep
from runner.cmdb.reconcile import census_checks, not_covered, unrecorded_addresses
from runner.errors import CmdbError
from runner.reports import assets
from runner.store import Store
from runner.store.db import ResultRow
from tests.unit.cmdb.cmdb_support import TODAY

_BLOCK = random.randrange(2048) * 8
#: The swept network, and its address number N (1 to 6) as ``_at(N)``.
NETWORK = f"127.77.{_BLOCK // 256}.{_BLOCK % 256}/29"


def _at(number: int) -> str:
    return f"127.77.{_BLOCK // 256}.{_BLOCK % 256 + number}"


SSH_BANNER = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"


class Listener:
    """A TCP server on one loopback address and port; with a banner, it greets each client
    with it, as an SSH server does."""

    def __init__(self, address: str, port: int, banner: bytes | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((address, port))
        except OSError:
            self.sock.close()
            raise
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.banner = banner
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            with client:
                if self.banner:
                    client.sendall(self.banner)

    def close(self) -> None:
        # shutdown wakes the thread blocked in accept(); close alone would not.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(timeout=5)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((_at(1), 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def listeners() -> Iterator[tuple[int, int]]:
    """Two ports: addresses 2 and 5 of the network listen on the first (2 greets like an
    SSH server), 5 also on the second; nothing else in the network listens."""
    first, second = _free_port(), _free_port()
    started = [
        Listener(_at(2), first, SSH_BANNER),
        Listener(_at(5), first),
        Listener(_at(5), second),
    ]
    try:
        yield first, second
    finally:
        for listener in started:
            listener.close()


def test_the_sweep_finds_exactly_the_listening_addresses(listeners: tuple[int, int]) -> None:
    first, second = listeners
    closed = _free_port()

    found = sweep([NETWORK], [first, second, closed], timeout=1.0, concurrency=4)

    assert sorted(found, key=lambda a: a.address) == [
        Answer(_at(2), (first,), None),
        Answer(_at(5), tuple(sorted((first, second))), None),
    ]


def test_a_port_other_than_ssh_gives_no_banner() -> None:
    server = Listener(_at(3), 0, SSH_BANNER)
    try:
        # Only SSH servers speak first; on another port nothing is read, whatever comes.
        found = sweep([f"{_at(3)}/32"], [server.port], timeout=1.0)
    finally:
        server.close()
    assert [answer.address for answer in found] == [_at(3)]
    assert found[0].banner is None  # a random port is not an SSH port


def test_banner_read_on_port_2222() -> None:
    try:
        server = Listener(_at(4), 2222, SSH_BANNER)
    except OSError:
        pytest.skip(f"port 2222 on {_at(4)} is taken")
    try:
        [answer] = sweep([f"{_at(4)}/32"], [2222], timeout=1.0)
    finally:
        server.close()
    assert answer == Answer(_at(4), (2222,), "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3")


def test_a_closed_port_is_not_found() -> None:
    assert sweep([f"{_at(6)}/32"], [_free_port()], timeout=0.5) == []


def test_network_and_broadcast_addresses_are_not_swept() -> None:
    assert addresses([NETWORK]) == [_at(n) for n in range(1, 7)]
    assert addresses(["127.0.77.9/32", "127.0.77.8/31"]) == ["127.0.77.9", "127.0.77.8"]


def test_more_than_the_cap_is_refused_before_any_connection() -> None:
    with pytest.raises(CmdbError) as raised:
        sweep(["127.0.0.0/20", "127.1.0.0/30"], [22])
    assert str(raised.value) == (
        "discovery: the networks 127.0.0.0/20, 127.1.0.0/30 hold more than 4096 addresses, "
        "the most one sweep may cover; list fewer or smaller networks in discovery.networks "
        "of cmdb.yml"
    )


# The settings in cmdb.yml


def _with_discovery(root: Path, section: str) -> Path:
    config = root / "cmdb.yml"
    config.write_text(config.read_text() + section, encoding="utf-8")
    return config


@pytest.mark.parametrize(
    ("section", "at", "expected"),
    [
        (
            "discovery:\n  networks: [127.0.77.0/33]\n",
            2,
            "field 'discovery.networks[0]' is '127.0.77.0/33'; expected a network in CIDR "
            "notation, such as 192.0.2.0/24",
        ),
        (
            "discovery:\n  networks: [127.0.77.1/29]\n",
            2,
            "field 'discovery.networks[0]' is '127.0.77.1/29'; it has host bits set: "
            "write the network, 127.0.77.0/29",
        ),
        (
            "discovery:\n  networks: [127.0.0.0/16]\n",
            2,
            "field 'discovery.networks[0]' is '127.0.0.0/16'; it holds 65536 addresses, more "
            "than the 4096 one sweep may cover: list smaller networks (a /20 or less), only "
            "those where assets live",
        ),
        (
            "discovery:\n  networks: [127.0.0.0/20, 127.1.0.0/30]\n",
            2,
            'field \'discovery.networks\' is ["127.0.0.0/20", "127.1.0.0/30"]; together they '
            "hold 4100 addresses, more than the 4096 one sweep may cover: list fewer or "
            "smaller networks",
        ),
        (
            "discovery:\n  networks: [127.0.77.0/29]\n  ports: [22, 70000]\n",
            3,
            "field 'discovery.ports[1]' is 70000; expected a TCP port number from 1 to 65535",
        ),
        (
            "discovery:\n  networks: [127.0.77.0/29]\n  ports: [ssh]\n",
            3,
            "field 'discovery.ports[0]' is 'ssh'; expected a TCP port number from 1 to 65535",
        ),
        (
            "discovery:\n  networks: [127.0.77.0/29]\n  timeout: 0\n",
            3,
            "field 'discovery.timeout' is 0; expected seconds, more than 0 and at most 30, "
            "such as 1 or 0.5",
        ),
        (
            "discovery:\n  networks: [127.0.77.0/29]\n  concurrency: 5000\n",
            3,
            "field 'discovery.concurrency' is 5000; expected how many connections may be open "
            "at once, from 1 to 1024",
        ),
        (
            "discovery:\n  ports: [22]\n",
            1,
            "field 'discovery.networks' is missing; add it (a list of networks to sweep, "
            "e.g. [192.0.2.0/24])",
        ),
        (
            "discovery:\n  networks: [127.0.77.0/29]\n  port: [22]\n",
            3,
            "field 'discovery.port' is not a known field; did you mean 'ports'? Else remove it",
        ),
    ],
    ids=[
        "bad-cidr",
        "host-bits",
        "too-large",
        "too-large-together",
        "port-out-of-range",
        "port-not-a-number",
        "zero-timeout",
        "too-concurrent",
        "no-networks",
        "misspelt",
    ],
)
def test_bad_discovery_settings_are_one_line_each(
    base: Path, section: str, at: int, expected: str
) -> None:
    config = _with_discovery(base, section)
    line = len(config.read_text().splitlines()) - section.count("\n") + at

    found, problems = check_cmdb(base, today=TODAY)

    assert found is None
    assert [str(problem) for problem in problems] == [f"{config}:{line}: {expected}"]


def test_discovery_settings_and_their_defaults(base: Path) -> None:
    _with_discovery(base, "discovery:\n  networks: [127.0.77.0/29]\n")

    settings = load_cmdb(base, today=TODAY).settings.discovery

    assert settings is not None
    assert (settings.networks, settings.ports, settings.timeout, settings.concurrency) == (
        ["127.0.77.0/29"],
        [22, 2222, 5985, 5986, 443],
        1.0,
        64,
    )


# What reconcile makes of it


def test_only_addresses_without_a_record_are_unrecorded(example: Path) -> None:
    cmdb = load_cmdb(example, today=TODAY)
    answers = [
        Answer("192.0.2.11", (22,), "SSH-2.0-OpenSSH_9.2"),  # hv01's management address
        Answer("10.10.0.11", (22,)),  # an address hv01 reported in the census
        Answer("192.0.2.99", (22, 443), "SSH-2.0-dropbear"),
        Answer("192.0.2.150", (443,)),  # the printer: recorded, though no census covers it
    ]
    census = {"hv01": {"addresses": ["192.0.2.11", "10.10.0.11"]}}

    [finding] = unrecorded_addresses(cmdb, answers, census)

    assert (finding.kind, finding.asset, finding.field, finding.found) == (
        "unrecorded",
        "192.0.2.99",
        "address",
        {"ports": [22, 443], "banner": "SSH-2.0-dropbear"},
    )
    assert finding.message == (
        "answers on TCP ports 22, 443 (SSH-2.0-dropbear), but no asset has this address: "
        "add a record, or find out what it is"
    )
    [row] = census_checks([finding])
    assert (row["check_id"], row["host"], row["status"]) == (
        "cmdb.unrecorded",
        "192.0.2.99",
        "warn",
    )


def test_assets_in_use_without_a_census_play_are_not_covered(example: Path) -> None:
    cmdb = load_cmdb(example, today=TODAY)
    # What the census playbook targets in the example: its linux and ios hosts.
    covered = [
        item.record.name
        for item in cmdb.assets
        if item.record.platform in ("linux", "ios") and item.record.is_host()
    ]

    found = {finding.asset: finding.message for finding in not_covered(cmdb, covered)}

    assert set(found) == {
        "pc-0101",
        "pc-0102",
        "pc-0201",
        "dc01",
        "fw01",
        "nas01",
        "prn-hq01",
        "cop-br01",
    }
    assert found["fw01"] == (
        "recorded in_use, but not covered by the census (no probe for platform panos): "
        "it was not compared"
    )
    assert found["prn-hq01"] == (
        "recorded in_use, but not covered by the census (no probe for a printer without a "
        "platform): it was not compared"
    )
    assert not_covered(cmdb, covered, scope=["fw01", "hv01"])[0].asset == "fw01"
    rows = census_checks(not_covered(cmdb, covered))
    assert {row["check_id"] for row in rows} == {"cmdb.coverage"}
    # Not covered is no verdict on reachability: reconcile over the hosts the census tried
    # says nothing about them.
    assert not [item for item in reconcile(cmdb, {}, expected=covered) if item.asset in found]


def test_the_asset_report_lists_what_the_census_could_not_compare(
    example: Path, store: Store, tmp_path: Path
) -> None:
    cmdb = load_cmdb(example, today=TODAY)
    gaps = not_covered(cmdb, ["hv01"], scope=["hv01", "fw01"]) + unrecorded_addresses(
        cmdb, [Answer("192.0.2.99", (22,), "SSH-2.0-dropbear")], {}
    )
    rows = [
        ResultRow(
            row["host"],
            row["check_id"],
            row["subject"],
            row["status"],
            row["value"],
            row["unit"],
            row["thresholds"],
            row["message"],
        )
        for row in census_checks(gaps)
    ]
    drift = ResultRow("hv01", "cmdb.drift", "reachable", "ok", True, None, None, "reachable")
    store.start_run("c1", "census", "playbooks/census.yml", "manual", "t", "inv", None, ["hv01"])
    store.add_results("c1", [drift, *rows])
    store.finish_run("c1", "finished", 0, {"hv01": ("ok", None)})

    report = assets.build(cmdb, store, today=TODAY)
    html_path, csv_path = assets.write(report, tmp_path)

    assert [n["name"] for n in report["not_covered"]] == ["fw01"]
    assert [u["address"] for u in report["unrecorded"]] == ["192.0.2.99"]
    csv_rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    fw01 = next(row for row in csv_rows if row["name"] == "fw01")
    assert fw01["census"] == "not covered by the census (no probe for platform panos)"
    [stray] = [row for row in csv_rows if row["management_address"] == "192.0.2.99"]
    assert stray["census"] == "found but not recorded"
    assert stray["drift"].startswith("answers on TCP port 22 (SSH-2.0-dropbear)")
    html = html_path.read_text()
    assert "Found but not recorded" in html and "SSH-2.0-dropbear" in html
    assert "no probe for platform panos" in html
