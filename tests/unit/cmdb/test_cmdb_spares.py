"""Spare parts: stock changes edit the CMDB files in place, validated first, audited after."""

from __future__ import annotations

import difflib
import fcntl
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from runner import config
from runner.cli_cmdb import cmdb as cmdb_group
from runner.cli_cmdb import spares as spares_group
from runner.cmdb import load_cmdb, relations, spares
from runner.errors import CmdbError, StoreError
from runner.store import Store, db
from runner.store.db import as_utc, utcnow
from runner.store.models import AuditEntry
from tests.unit.cmdb.cmdb_support import EXAMPLE, TODAY


@pytest.fixture(autouse=True)
def actor(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SUDO_USER", "alice")
    return "alice"


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def _audit(store: Store) -> list[AuditEntry]:
    with store.session() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_receive_changes_one_line_and_leaves_an_audit_entry(example: Path, store: Store) -> None:
    stock_file = example / "assets" / "spares.yml"
    before = stock_file.read_text(encoding="utf-8")

    change = spares.receive(example, "SFP-10G-SR", 3, note="PO 4711", today=TODAY, store=store)

    after = stock_file.read_text(encoding="utf-8")
    assert (change.before, change.after) == (1, 4)
    assert _changed_lines(before, after) == ["-    quantity: 1", "+    quantity: 4"]
    assert "# Optics for the core switch uplinks: below the minimum, re-order pending." in after
    [entry] = _audit(store)
    assert (entry.action, entry.actor, entry.asset) == ("spares.receive", "alice", None)
    assert entry.details == {
        "part_number": "SFP-10G-SR",
        "quantity": 3,
        "stock_before": 1,
        "stock_after": 4,
        "files": [str(stock_file)],
        "note": "PO 4711",
    }
    assert abs(as_utc(entry.at) - utcnow()) < timedelta(minutes=5)


def test_replace_records_both_serials_on_the_asset(example: Path, store: Store) -> None:
    servers = example / "assets" / "hq-servers.yml"
    before = servers.read_text(encoding="utf-8")

    change = spares.replace(
        example,
        "hv01",
        "PSU-R740-750W",
        "CN-0K3R1",
        "CN-0X9Y2",
        reason="PSU 2 failed",
        today=TODAY,
        store=store,
    )

    after = servers.read_text(encoding="utf-8")
    assert (change.before, change.after) == (2, 1)
    assert _changed_lines(before, after) == [
        "+    parts:",
        "+      - date: 2026-12-03",
        "+        part: PSU-R740-750W",
        "+        action: replace",
        "+        old_serial: CN-0K3R1",
        "+        new_serial: CN-0X9Y2",
        "+        reason: PSU 2 failed",
        "+        by: alice",
    ]
    # The entry ends hv01's record: the blank line that separates records stays after it.
    assert "        by: alice\n\n  - tag: A-1002\n" in after
    hv01 = load_cmdb(example, today=TODAY).by_name["hv01"].record
    assert [(part.old_serial, part.new_serial) for part in hv01.parts] == [("CN-0K3R1", "CN-0X9Y2")]
    assert hv01.serial == "7XK2M33"
    [entry] = _audit(store)
    assert (entry.action, entry.asset) == ("spares.replace", "hv01")
    assert entry.details["old_serial"] == "CN-0K3R1"
    assert entry.details["new_serial"] == "CN-0X9Y2"
    assert entry.details["whole_unit"] is False
    assert entry.details["stock_after"] == 1


def test_a_second_part_goes_to_the_end_of_the_parts_list(example: Path, store: Store) -> None:
    spares.replace(example, "fs01", "HDD-SAS-1.2T", "S-OLD-1", "S-NEW-1", today=TODAY, store=store)
    spares.replace(example, "fs01", "HDD-SAS-1.2T", "S-OLD-2", "S-NEW-2", today=TODAY, store=store)

    fs01 = load_cmdb(example, today=TODAY).by_name["fs01"].record
    assert [part.new_serial for part in fs01.parts] == ["S-NEW-1", "S-NEW-2"]
    assert fs01.state == "in_use"
    stock = load_cmdb(example, today=TODAY).spare("HDD-SAS-1.2T")
    assert stock is not None and stock.record.quantity == 2
    assert len(_audit(store)) == 2


def test_replacing_the_whole_unit_changes_the_asset_serial(example: Path, store: Store) -> None:
    spares.receive(example, "SSD-NVME-512", 1, today=TODAY, store=store)
    spares.replace(
        example,
        "P-4001",
        "SSD-NVME-512",
        "8HJ2KL3",
        "9ZZ1AB4",
        reason="swapped under warranty",
        today=TODAY,
        store=store,
    )

    pc = load_cmdb(example, today=TODAY).by_name["pc-0101"].record
    assert pc.serial == "9ZZ1AB4"
    assert pc.parts[-1].old_serial == "8HJ2KL3"
    assert _audit(store)[-1].details["whole_unit"] is True


def test_issue_lowers_stock_and_records_it_on_the_asset(example: Path, store: Store) -> None:
    office = example / "assets" / "hq-office.yml"

    change = spares.issue(
        example, "TONER-M507-BK", 2, "prn-hq01", reason="toner empty", today=TODAY, store=store
    )

    assert (change.before, change.after, change.asset) == (3, 1, "prn-hq01")
    printer = load_cmdb(example, today=TODAY).by_name["prn-hq01"].record
    [part] = printer.parts
    assert (part.action, part.part, part.quantity, part.reason, part.by) == (
        "issue",
        "TONER-M507-BK",
        2,
        "toner empty",
        "alice",
    )
    assert "# A ready-to-use PC on the shelf" in office.read_text(encoding="utf-8")
    assert _audit(store)[0].asset == "prn-hq01"


def test_round_trip_keeps_flush_list_style(base: Path, store: Store) -> None:
    stock = base / "assets" / "stock.yml"
    stock.write_text(
        "# stock in the server room\nspares:\n- part_number: FAN-1   # hot-swap\n  model: Fan\n"
        "  compatible_models: [PowerEdge R740]\n  quantity: 1\n  minimum: 0\n"
        "  location: {site: hq}\n",
        encoding="utf-8",
    )

    spares.receive(base, "FAN-1", 5, today=TODAY, store=store)

    assert stock.read_text(encoding="utf-8") == (
        "# stock in the server room\nspares:\n- part_number: FAN-1   # hot-swap\n  model: Fan\n"
        "  compatible_models: [PowerEdge R740]\n  quantity: 6\n  minimum: 0\n"
        "  location: {site: hq}\n"
    )


Operation = Callable[[Path, Store], object]


def _take_the_last_psu(root: Path, store: Store) -> object:
    return spares.replace(root, "hv1", "PSU-1", "A", "B", today=TODAY, store=store)


#: name: (what happens first, the refused operation, part of its message)
REFUSALS: dict[str, tuple[Operation | None, Operation, str]] = {
    "out of stock": (
        _take_the_last_psu,
        lambda root, store: spares.replace(
            root, "hv1", "PSU-1", "C", "D", today=TODAY, store=store
        ),
        "spare part 'PSU-1' is out of stock; receive some first (opskeeper spares receive PSU-1 N)",
    ),
    "more than in stock": (
        None,
        lambda root, store: spares.issue(root, "PSU-1", 2, "hv1", today=TODAY, store=store),
        "spare part 'PSU-1' has only 1 in stock, 2 asked; issue at most 1 or receive more first",
    ),
    "part does not fit": (
        None,
        lambda root, store: spares.issue(root, "PSU-1", 1, "sw1", today=TODAY, store=store),
        "spare part 'PSU-1' does not fit asset 'sw1' (model C9200-24P): it fits PowerEdge R740; "
        "pick a compatible part, or add the model to its compatible_models at",
    ),
    "unknown part": (
        None,
        lambda root, store: spares.receive(root, "PSU-9", 1, today=TODAY, store=store),
        "no spare part 'PSU-9' in the CMDB",
    ),
    "unknown asset": (
        None,
        lambda root, store: spares.issue(root, "PSU-1", 1, "hv9", today=TODAY, store=store),
        "no asset is named or tagged 'hv9'",
    ),
    "retired asset": (
        None,
        lambda root, store: spares.issue(root, "PSU-1", 1, "sw0", today=TODAY, store=store),
        "asset 'sw0' is retired",
    ),
    "same serials": (
        None,
        lambda root, store: spares.replace(root, "hv1", "PSU-1", "X1", "X1", today=TODAY),
        "the old and the new serial are both 'X1'",
    ),
    "quantity zero": (
        None,
        lambda root, store: spares.receive(root, "PSU-1", 0, today=TODAY, store=store),
        "quantity is 0; give a whole number from 1 to 1000000",
    ),
    "quantity beyond any stock": (
        None,
        lambda root, store: spares.receive(
            root, "PSU-1", 99999999999999999999999, today=TODAY, store=store
        ),
        "quantity is 99999999999999999999999; give a whole number from 1 to 1000000",
    ),
    "issue beyond any stock": (
        None,
        lambda root, store: spares.issue(root, "PSU-1", 1_000_001, "hv1", today=TODAY, store=store),
        "quantity is 1000001; give a whole number from 1 to 1000000",
    ),
    "edit would break the cmdb": (
        None,
        lambda root, store: spares.replace(
            root, "hv1", "PSU-1", "SER-HV1", "SER-SW1", today=TODAY, store=store
        ),
        "replace refused: the CMDB would not be valid after it; nothing was written:",
    ),
}


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_refusal_leaves_files_byte_identical_and_no_audit(
    name: str, base: Path, store: Store
) -> None:
    setup, operation, message = REFUSALS[name]
    if setup is not None:
        setup(base, store)
    before = _snapshot(base)
    audits = len(_audit(store))

    with pytest.raises(CmdbError) as raised:
        operation(base, store)

    assert message in str(raised.value)
    assert _snapshot(base) == before
    assert len(_audit(store)) == audits


def test_a_broken_edit_names_the_problem(base: Path, store: Store) -> None:
    with pytest.raises(CmdbError) as raised:
        spares.replace(base, "hv1", "PSU-1", "SER-HV1", "SER-SW1", today=TODAY, store=store)

    lines = str(raised.value).splitlines()
    assert lines == [
        "replace refused: the CMDB would not be valid after it; nothing was written:",
        f"{base}/assets/base.yml:43: asset 'sw1' (B-3): field 'serial' is 'SER-SW1'; asset "
        f"'hv1' (B-1) at {base}/assets/base.yml:6 has the same serial number: give each asset "
        "its own serial number",
    ]


def test_an_invalid_cmdb_is_not_edited(base: Path, store: Store) -> None:
    (base / "assets" / "empty.yml").write_text("", encoding="utf-8")
    before = _snapshot(base)

    with pytest.raises(CmdbError, match="has problems; fix them before changing stock"):
        spares.receive(base, "PSU-1", 1, today=TODAY, store=store)

    assert _snapshot(base) == before


def test_spares_list_marks_stock_below_minimum() -> None:
    result = CliRunner().invoke(spares_group, ["list", "-i", str(EXAMPLE)])

    assert result.exit_code == 0, result.output
    assert "SFP-10G-SR" in result.stdout
    assert result.stdout.splitlines()[-1] == "5 parts, 1 below their minimum"


def test_spares_commands_through_the_cli(example: Path, store: Store) -> None:
    runner = CliRunner()

    received = runner.invoke(spares_group, ["receive", "PSU-R740-750W", "2", "-i", str(example)])
    replaced = runner.invoke(
        spares_group,
        [
            "replace",
            "hv02",
            "--part",
            "PSU-R740-750W",
            "--old-serial",
            "CN-1",
            "--new-serial",
            "CN-2",
            "--reason",
            "fan noise",
            "-i",
            str(example),
        ],
    )
    refused = runner.invoke(
        spares_group, ["issue", "PSU-R740-750W", "1", "--to", "sw-core01", "-i", str(example)]
    )

    assert received.exit_code == 0, received.output
    assert received.stdout.startswith("receive PSU-R740-750W: stock 2 -> 4; wrote ")
    assert replaced.exit_code == 0, replaced.output
    assert replaced.stdout.startswith("replace PSU-R740-750W for hv02: stock 4 -> 3; wrote ")
    assert refused.exit_code == 1
    assert refused.stderr.startswith(
        "error: spare part 'PSU-R740-750W' does not fit asset 'sw-core01' (model C9300-48P)"
    )
    assert [entry.action for entry in _audit(store)] == ["spares.receive", "spares.replace"]


def test_an_empty_flow_list_of_parts_becomes_a_block_list(base: Path, store: Store) -> None:
    assets = base / "assets" / "base.yml"
    text = assets.read_text(encoding="utf-8")
    assets.write_text(
        text.replace(
            "    management_address: 192.0.2.10\n",
            "    management_address: 192.0.2.10\n    parts: []\n",
        ),
        encoding="utf-8",
    )
    before = assets.read_text(encoding="utf-8")

    spares.replace(base, "hv1", "PSU-1", "P-OLD", "P-NEW", today=TODAY, store=store)

    assert _changed_lines(before, assets.read_text(encoding="utf-8")) == [
        "-    parts: []",
        "+    parts:",
        "+      - date: 2026-12-03",
        "+        part: PSU-1",
        "+        action: replace",
        "+        old_serial: P-OLD",
        "+        new_serial: P-NEW",
        "+        by: alice",
        "-    quantity: 1",  # the stock is in the same file
        "+    quantity: 0",
    ]


@pytest.fixture
def impatient(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stores opened from here on give up on a lock after 0.2 s instead of 10 s."""
    original = db._sqlite_pragmas

    def pragmas(dbapi_conn: Any, record: Any) -> None:
        original(dbapi_conn, record)
        dbapi_conn.execute("PRAGMA busy_timeout=200")

    monkeypatch.setattr(db, "_sqlite_pragmas", pragmas)


def _one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ")
    return line


def test_a_locked_store_stops_the_change_before_any_file(
    example: Path, store: Store, state: Path, impatient: None
) -> None:
    before = _snapshot(example)
    holder = sqlite3.connect(state / "opskeeper.db", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        result = CliRunner().invoke(
            spares_group, ["receive", "SFP-10G-SR", "1", "-i", str(example)]
        )
    finally:
        holder.close()

    line = _one_error_line(result)
    assert "database is locked" in line
    assert line.endswith(
        "no CMDB file was changed; run the command again once the store is free and writable"
    )
    assert _snapshot(example) == before
    assert _audit(store) == []


def test_a_state_folder_that_is_a_file_stops_the_change(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_folder = tmp_path / "state-file"
    not_a_folder.write_text("", encoding="utf-8")
    monkeypatch.setenv(config.STATE_DIR_ENV, str(not_a_folder))
    before = _snapshot(example)

    result = CliRunner().invoke(spares_group, ["receive", "SFP-10G-SR", "1", "-i", str(example)])

    line = _one_error_line(result)
    assert f"cannot open the store: {not_a_folder}: File exists;" in line
    assert "no CMDB file was changed" in line
    assert _snapshot(example) == before


def test_a_failed_audit_commit_puts_both_files_back(example: Path, store: Store) -> None:
    before = _snapshot(example)

    def refuse(_session: Any) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    event.listen(store.sessions, "before_commit", refuse)
    try:
        with pytest.raises(StoreError) as raised:
            spares.replace(example, "hv01", "PSU-R740-750W", "A1", "B1", today=TODAY, store=store)
    finally:
        event.remove(store.sessions, "before_commit", refuse)

    assert "disk I/O error" in str(raised.value)
    assert "no CMDB file was changed" in str(raised.value)
    assert _snapshot(example) == before
    assert _audit(store) == []


def test_a_failed_second_rename_leaves_the_cmdb_as_it_was(
    example: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    stock_file = example / "assets" / "spares.yml"
    before = _snapshot(example)
    rename = os.replace

    def replace_but_not_stock(source: Any, target: Any) -> None:
        if Path(target) == stock_file:
            raise PermissionError(1, "Operation not permitted", str(target))
        rename(source, target)

    monkeypatch.setattr(os, "replace", replace_but_not_stock)

    with pytest.raises(CmdbError) as raised:
        spares.replace(example, "hv01", "PSU-R740-750W", "A1", "B1", today=TODAY, store=store)

    assert str(raised.value) == (
        f"{stock_file}: cannot replace it with its new version: Operation not permitted; "
        "no CMDB file was changed: make the file and its folder writable and run again"
    )
    # Byte-identical, and no temporary or backup file left beside the CMDB files.
    assert _snapshot(example) == before
    assert _audit(store) == []


def test_parallel_receives_lose_no_update(
    example: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow_load(*args: Any, **kwargs: Any) -> Any:
        # Widens the window between reading the stock and writing it back.
        found = load_cmdb(*args, **kwargs)
        time.sleep(0.05)
        return found

    monkeypatch.setattr("runner.cmdb.spares.load_cmdb", slow_load)
    failures: list[BaseException] = []

    def receive_one() -> None:
        try:
            spares.receive(example, "SFP-10G-SR", 1, today=TODAY, store=store)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=receive_one) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    stock = load_cmdb(example, today=TODAY).spare("SFP-10G-SR")
    assert stock is not None and stock.record.quantity == 6
    assert [entry.details["stock_after"] for entry in _audit(store)] == [2, 3, 4, 5, 6]


def test_a_cmdb_locked_too_long_is_one_error_line(
    example: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spares, "LOCK_WAIT_SECONDS", 0.2)
    before = _snapshot(example)
    holder = os.open(example, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        result = CliRunner().invoke(
            spares_group, ["receive", "SFP-10G-SR", "1", "-i", str(example)]
        )
    finally:
        os.close(holder)

    assert _one_error_line(result) == (
        f"error: {example}: another spares command has been changing this CMDB for 0.2 s; "
        "nothing was changed: run again when it is done"
    )
    assert _snapshot(example) == before
    assert _audit(store) == []


def test_graph_into_a_folder_under_a_file_is_one_error_line(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("", encoding="utf-8")

    result = CliRunner().invoke(cmdb_group, ["graph", "-i", str(EXAMPLE), "-o", str(a_file / "g")])

    assert _one_error_line(result) == (
        f"error: cannot write the graph to {a_file / 'g'}: Not a directory; "
        "give -o a folder you can create and write to"
    )


def test_graph_into_an_unwritable_folder_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(path: Path, text: str, mode: int = 0o644) -> Path:
        raise PermissionError(13, "Permission denied", str(path.parent))

    monkeypatch.setattr(relations, "write_atomic", refuse)

    result = CliRunner().invoke(cmdb_group, ["graph", "-i", str(EXAMPLE), "-o", str(tmp_path)])

    assert _one_error_line(result) == (
        f"error: cannot write the graph to {tmp_path}: Permission denied; "
        "give -o a folder you can create and write to"
    )


def test_impact_of_one_dependent_says_depends() -> None:
    result = CliRunner().invoke(cmdb_group, ["impact", "nas01", "-i", str(EXAMPLE)])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "1 asset depends on nas01 (0 critical)"


def test_audit_lists_the_trail_newest_first_and_filters(example: Path, store: Store) -> None:
    spares.receive(example, "PSU-R740-750W", 2, today=TODAY, store=store)
    spares.replace(
        example, "hv01", "PSU-R740-750W", "CN-0K3R1", "CN-0X9Y2", reason="PSU", store=store
    )
    runner = CliRunner()

    every = runner.invoke(cmdb_group, ["audit", "--json"])
    assert every.exit_code == 0, every.output
    entries = json.loads(every.output)
    assert [entry["action"] for entry in entries] == ["spares.replace", "spares.receive"]
    assert entries[0]["asset"] == "hv01" and entries[0]["actor"] == "alice"
    assert entries[0]["details"]["new_serial"] == "CN-0X9Y2"

    one = runner.invoke(cmdb_group, ["audit", "--asset", "hv01"])
    assert one.exit_code == 0 and "spares.replace" in one.output
    assert "spares.receive" not in one.output
    none = runner.invoke(cmdb_group, ["audit", "--action", "spares.issue"])
    assert none.output.strip() == "no audit entry in the store matches"
