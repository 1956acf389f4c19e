"""What an inspection or census adds after its play: drift against the CMDB, and the
CMDB's own checks and the discovery sweep on a full inspection only."""

from __future__ import annotations

import random
import shutil
import socket
from pathlib import Path

import pytest

from runner import config, inspection
from runner.jobs import EventSink
from runner.store import Store

EXAMPLE = config.REPO_ROOT / "inventory" / "example"


def _sink(
    store: Store, outcomes: dict[str, str], census: dict[str, dict[str, object]]
) -> EventSink:
    store.start_run("r", "inspect", "p", "manual", "t", "inv", None, list(outcomes))
    sink = EventSink(store, "r", list(outcomes), None)
    sink.outcomes = {host: (outcome, None) for host, outcome in outcomes.items()}
    sink.census = census
    return sink


HV01 = {
    "os": "debian",
    "os_version": "12.7",
    "cpus": 32,
    "memory_mb": 257000,
    "addresses": ["192.0.2.11", "fe80::1"],
}


def test_census_of_marks_unreachable_hosts_and_leaves_out_failed_ones(store: Store) -> None:
    sink = _sink(store, {"hv01": "ok", "hv02": "unreachable", "fs01": "failed"}, {"hv01": HV01})
    census, expected = inspection.census_of(sink.census, sink.outcomes)
    assert census == {"hv01": HV01, "hv02": {"unreachable": True}}
    assert expected == ["hv01", "hv02"]


def test_a_full_inspection_adds_drift_and_record_checks(store: Store) -> None:
    job = inspection.plan("inspect", EXAMPLE)
    sink = _sink(store, {"hv01": "ok", "hv02": "unreachable"}, {"hv01": {**HV01, "cpus": 16}})
    rows = job.finalize(sink)
    drift = {(r.host, r.subject, r.status) for r in rows if r.check_id == "cmdb.drift"}
    assert ("hv01", "cpus", "warn") in drift
    assert ("hv01", "os_version", "ok") in drift and ("hv01", "memory_mb", "ok") in drift
    assert ("hv02", "reachable", "warn") in drift
    assert {r.host for r in rows if r.check_id == "cmdb.drift"} == {"hv01", "hv02"}
    stock = [r for r in rows if r.check_id == "cmdb.spares.stock"]
    assert {r.subject for r in stock if r.status == "warn"} == {"SFP-10G-SR"}
    assert all(r.host == "cmdb" for r in stock)


@pytest.mark.parametrize(
    ("kind", "limit", "checks"),
    [
        ("inspect", "hv01", {"cmdb.drift"}),
        # The example has PCs, a firewall, a NAS and a printer that no census play covers.
        ("census", None, {"cmdb.drift", "cmdb.coverage"}),
    ],
)
def test_limited_runs_and_censuses_record_no_record_checks(
    store: Store, kind: str, limit: str | None, checks: set[str]
) -> None:
    job = inspection.plan(kind, EXAMPLE, limit=limit)
    rows = job.finalize(_sink(store, {"hv01": "ok"}, {"hv01": HV01}))
    assert rows and {r.check_id for r in rows} == checks


@pytest.mark.parametrize(("limit", "found"), [(None, True), ("hv01", False)])
def test_a_full_inspection_sweeps_for_unrecorded_devices(
    store: Store, tmp_path: Path, limit: str | None, found: bool
) -> None:
    """An address of the CMDB's discovery networks that answers without a record is a
    ``cmdb.unrecorded`` warning every night; a limited run does not sweep."""
    listener = socket.socket()
    address = f"127.78.{random.randrange(256)}.{random.randrange(1, 254)}"
    listener.bind((address, 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    root = Path(shutil.copytree(EXAMPLE, tmp_path / "example"))
    with (root / "cmdb.yml").open("a", encoding="utf-8") as config_file:
        config_file.write(f"discovery:\n  networks: [{address}/32]\n  ports: [{port}]\n")
    try:
        job = inspection.plan("inspect", root, limit=limit)
        rows = job.finalize(_sink(store, {"hv01": "ok"}, {"hv01": HV01}))
    finally:
        listener.close()

    unrecorded = [(r.host, r.status) for r in rows if r.check_id == "cmdb.unrecorded"]
    assert unrecorded == ([(address, "warn")] if found else [])
    assert job.swept is found


def test_a_plain_inventory_adds_nothing(store: Store, tmp_path: Path) -> None:
    plain = tmp_path / "hosts.yml"
    plain.write_text("all:\n  hosts:\n    web01: {}\n")
    job = inspection.plan("inspect", plain)
    assert job.cmdb is None
    assert job.finalize(_sink(store, {"web01": "ok"}, {"web01": HV01})) == []


@pytest.mark.parametrize(
    ("plays", "pattern"),
    [
        ("- hosts: linux\n", "linux"),
        ("- hosts: linux\n- hosts: ios\n- hosts: [windows, linux]\n", "linux:ios:windows"),
        ("", "all"),
    ],
)
def test_the_host_pattern_comes_from_the_plays(tmp_path: Path, plays: str, pattern: str) -> None:
    playbook = tmp_path / "play.yml"
    playbook.write_text(plays)
    assert inspection.play_hosts(playbook) == pattern
