"""The spare parts store: receiving stock, issuing parts to assets, replacing failed parts.

Each operation edits the CMDB files (stock in the spare's record, a ``parts`` entry on the
asset), validates the whole CMDB with the edit before writing anything, and then changes
the files and leaves an :class:`~runner.store.models.AuditEntry` together: the entry is
inserted before the first file is renamed and committed after the last, so a store that
cannot take it stops the change, and a commit that fails puts the files back. A refused
or failed operation changes no file and writes no audit entry.

``replace`` with the asset's own serial as the old serial is a swap of the whole unit
(a PC or a switch replaced under warranty): the asset's ``serial`` becomes the new one.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from runner import config
from runner.cmdb.edit import Edit, RecordRef
from runner.cmdb.load import Cmdb, CmdbInvalid, ValidAsset, ValidSpare, find_config, load_cmdb
from runner.cmdb.source import shown_path
from runner.errors import CmdbError, StoreError
from runner.jobs import current_user
from runner.store import Store, open_store
from runner.store.db import utcnow
from runner.store.models import AuditEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StockChange:
    """What an operation did: the part, the stock before and after, the files it wrote."""

    action: str
    part_number: str
    before: int
    after: int
    asset: str | None
    files: list[Path]
    audit_id: int
    details: dict[str, Any] = field(default_factory=dict)


#: How long a spares command waits while another one changes the same CMDB.
LOCK_WAIT_SECONDS = 30.0


@contextmanager
def _exclusive(root: Path) -> Iterator[None]:
    """Hold the CMDB locked from reading the stock to writing it back, so that spares
    commands on one CMDB take turns instead of each writing its own stock + 1.

    The lock is flock(2) on the CMDB folder itself: no lock file to keep out of git, the
    same lock whichever state folder a command uses, and the kernel drops it when the
    process ends, however it ends.
    """
    folder = find_config(root).resolve().parent
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise CmdbError(
            f"{shown_path(folder)}: cannot open the CMDB folder to lock it: {exc.strerror}; "
            "make it readable and run again"
        ) from exc
    try:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise CmdbError(
                        f"{shown_path(folder)}: another spares command has been changing this "
                        f"CMDB for {LOCK_WAIT_SECONDS:g} s; nothing was changed: run again when "
                        "it is done"
                    ) from None
                time.sleep(0.05)
            except OSError as exc:
                raise CmdbError(
                    f"{shown_path(folder)}: cannot lock the CMDB folder: {exc.strerror}; "
                    "nothing was changed: keep the CMDB on a local file system"
                ) from exc
        yield
    finally:
        os.close(fd)


def _load(root: Path, today: date) -> Cmdb:
    try:
        return load_cmdb(root, today=today)
    except CmdbInvalid as exc:
        raise CmdbInvalid(
            exc.problems,
            prefix=f"the CMDB {shown_path(root)} has problems; fix them before changing stock:",
        ) from exc


def _spare(cmdb: Cmdb, part_number: str) -> ValidSpare:
    found = cmdb.spare(part_number)
    if found is None:
        known = ", ".join(spare.record.part_number for spare in cmdb.spares) or "none"
        raise CmdbError(
            f"no spare part {part_number!r} in the CMDB {shown_path(cmdb.root)}; "
            f"known parts: {known}"
        )
    return found


#: The most one command receives or issues: far above any shelf's stock, so a larger number
#: is a typing mistake (a serial pasted as the quantity) rather than a delivery.
MAX_QUANTITY = 1_000_000


def _quantity(quantity: int) -> None:
    if not 1 <= quantity <= MAX_QUANTITY:
        raise CmdbError(f"quantity is {quantity}; give a whole number from 1 to {MAX_QUANTITY}")


def _compatible(spare: ValidSpare, asset: ValidAsset) -> None:
    part, record = spare.record, asset.record
    models = {model.casefold() for model in part.compatible_models}
    if record.model is not None and record.model.casefold() in models:
        return
    if record.tag in part.compatible_assets or record.name in part.compatible_assets:
        return
    fits = ", ".join([*part.compatible_models, *part.compatible_assets]) or "nothing"
    raise CmdbError(
        f"spare part {part.part_number!r} does not fit asset {record.name!r} "
        f"(model {record.model or 'not recorded'}): it fits {fits}; pick a compatible part, "
        f"or add the model to its compatible_models at {spare.entry.where()} if it does fit"
    )


def _take(spare: ValidSpare, quantity: int) -> None:
    stock = spare.record.quantity
    if stock == 0:
        raise CmdbError(
            f"spare part {spare.record.part_number!r} is out of stock; receive some first "
            f"(opskeeper spares receive {spare.record.part_number} N)"
        )
    if stock < quantity:
        raise CmdbError(
            f"spare part {spare.record.part_number!r} has only {stock} in stock, "
            f"{quantity} asked; issue at most {stock} or receive more first"
        )


def _open_store(store: Store | None) -> Store:
    if store is not None:
        return store
    try:
        return open_store()
    except OSError as exc:
        raise StoreError(
            f"cannot open the store: {exc.filename}: {exc.strerror}; no CMDB file was changed: "
            f"point {config.STATE_DIR_ENV} at a folder you can write to"
        ) from exc
    except StoreError as exc:
        raise StoreError(f"{exc}; no CMDB file was changed") from exc


@contextmanager
def _pending_audit(
    store: Store, action: str, asset: str | None, details: dict[str, Any]
) -> Iterator[int]:
    """An audit entry inserted at once and committed when the block ends without error.

    On SQLite the insert takes the store's write lock, so a store that another process
    holds locked fails here, before the block has changed any file.
    """
    entry = AuditEntry(
        at=utcnow(), actor=current_user(), action=action, asset=asset, details=details
    )
    try:
        with store.session() as session:
            session.add(entry)
            session.flush()
            yield entry.id
    except SQLAlchemyError as exc:
        # The driver's own words ("database is locked"), without SQLAlchemy's SQL and links.
        reason = str(exc.orig) if isinstance(exc, DBAPIError) else str(exc).splitlines()[0]
        raise StoreError(
            f"cannot record the audit entry in the store "
            f"{store.engine.url.render_as_string(hide_password=True)}: {reason}; no CMDB file "
            "was changed; run the command again once the store is free and writable"
        ) from exc
    log.info("audit %d: %s by %s on %s", entry.id, action, entry.actor, asset or "-")


def _commit(
    cmdb: Cmdb,
    edit: Edit,
    today: date,
    action: str,
    asset: str | None,
    details: dict[str, Any],
    store: Store | None,
) -> tuple[list[Path], int]:
    """Validate the CMDB as it would be after ``edit``, then replace all changed files (the
    stock and the asset's parts history may be in two) and record the audit entry, or do
    neither. ``details`` gets the files; returns them and the audit entry's id."""
    texts = edit.texts()
    try:
        load_cmdb(cmdb.config_file, today=today, texts=texts)
    except CmdbInvalid as exc:
        raise CmdbInvalid(
            exc.problems,
            prefix=f"{action} refused: the CMDB would not be valid after it; nothing was written:",
        ) from exc
    details["files"] = [shown_path(path) for path in sorted(texts)]
    opened = _open_store(store)

    with edit.staged() as staged:
        try:
            with _pending_audit(opened, f"spares.{action}", asset, details) as audit_id:
                staged.install()
        except BaseException:
            staged.restore()
            raise
    return staged.paths, audit_id


def _stock_edit(edit: Edit, spare: ValidSpare, after: int) -> None:
    entry = spare.entry
    where = RecordRef("spares", entry.index, "part_number", spare.record.part_number)
    edit.document(entry.file).set_value(where, "quantity", after)


def _asset_ref(asset: ValidAsset) -> RecordRef:
    return RecordRef("assets", asset.entry.index, "name", asset.record.name)


def receive(
    root: Path,
    part_number: str,
    quantity: int,
    *,
    note: str | None = None,
    today: date | None = None,
    store: Store | None = None,
) -> StockChange:
    """Add ``quantity`` parts to the stock of ``part_number``."""
    today = today or date.today()
    _quantity(quantity)
    with _exclusive(root):
        cmdb = _load(root, today)
        spare = _spare(cmdb, part_number)
        before = spare.record.quantity
        edit = Edit()
        _stock_edit(edit, spare, before + quantity)

        details: dict[str, Any] = {
            "part_number": part_number,
            "quantity": quantity,
            "stock_before": before,
            "stock_after": before + quantity,
        }
        if note:
            details["note"] = note
        files, audit_id = _commit(cmdb, edit, today, "receive", None, details, store)
    log.info(
        "spare %r: received %d, stock %d -> %d", part_number, quantity, before, before + quantity
    )
    return StockChange(
        "receive", part_number, before, before + quantity, None, files, audit_id, details
    )


def issue(
    root: Path,
    part_number: str,
    quantity: int,
    asset_key: str,
    *,
    reason: str | None = None,
    by: str | None = None,
    today: date | None = None,
    store: Store | None = None,
) -> StockChange:
    """Take ``quantity`` parts from stock for an asset and record them on the asset."""
    today = today or date.today()
    _quantity(quantity)
    with _exclusive(root):
        cmdb = _load(root, today)
        spare = _spare(cmdb, part_number)
        asset = cmdb.require(asset_key)
        _usable(asset)
        _compatible(spare, asset)
        _take(spare, quantity)

        before = spare.record.quantity
        edit = Edit()
        _stock_edit(edit, spare, before - quantity)
        entry: dict[str, Any] = {"date": today, "part": part_number, "action": "issue"}
        if quantity != 1:
            entry["quantity"] = quantity
        entry.update(_optional(reason=reason, by=by or current_user()))
        edit.document(asset.entry.file).append_item(_asset_ref(asset), "parts", entry)

        details: dict[str, Any] = {
            "part_number": part_number,
            "quantity": quantity,
            "stock_before": before,
            "stock_after": before - quantity,
            **_optional(reason=reason),
        }
        files, audit_id = _commit(cmdb, edit, today, "issue", asset.record.name, details, store)
    log.info("asset %r: issued %d of spare %r", asset.record.name, quantity, part_number)
    return StockChange(
        "issue", part_number, before, before - quantity, asset.record.name, files, audit_id, details
    )


def replace(
    root: Path,
    asset_key: str,
    part_number: str,
    old_serial: str,
    new_serial: str,
    *,
    reason: str | None = None,
    by: str | None = None,
    today: date | None = None,
    store: Store | None = None,
) -> StockChange:
    """Replace a failed part of an asset with one from stock, recording both serials."""
    today = today or date.today()
    old_serial, new_serial = old_serial.strip(), new_serial.strip()
    if not old_serial or not new_serial:
        raise CmdbError("give both serial numbers: --old-serial and --new-serial")
    if old_serial == new_serial:
        raise CmdbError(
            f"the old and the new serial are both {old_serial!r}; give the serial of the part "
            "taken out and of the part put in"
        )
    with _exclusive(root):
        cmdb = _load(root, today)
        spare = _spare(cmdb, part_number)
        asset = cmdb.require(asset_key)
        _usable(asset)
        _compatible(spare, asset)
        _take(spare, 1)

        before = spare.record.quantity
        edit = Edit()
        _stock_edit(edit, spare, before - 1)
        document = edit.document(asset.entry.file)
        whole_unit = asset.record.serial is not None and asset.record.serial == old_serial
        if whole_unit:
            document.set_value(_asset_ref(asset), "serial", new_serial)
        entry: dict[str, Any] = {
            "date": today,
            "part": part_number,
            "action": "replace",
            "old_serial": old_serial,
            "new_serial": new_serial,
        }
        entry.update(_optional(reason=reason, by=by or current_user()))
        document.append_item(_asset_ref(asset), "parts", entry)

        details: dict[str, Any] = {
            "part_number": part_number,
            "old_serial": old_serial,
            "new_serial": new_serial,
            "whole_unit": whole_unit,
            "stock_before": before,
            "stock_after": before - 1,
            **_optional(reason=reason),
        }
        files, audit_id = _commit(cmdb, edit, today, "replace", asset.record.name, details, store)
    log.info(
        "asset %r: replaced part %r, serial %s -> %s",
        asset.record.name,
        part_number,
        old_serial,
        new_serial,
    )
    return StockChange(
        "replace", part_number, before, before - 1, asset.record.name, files, audit_id, details
    )


def _usable(asset: ValidAsset) -> None:
    if asset.record.state == "retired":
        raise CmdbError(
            f"asset {asset.record.name!r} is retired ({asset.entry.where()}); "
            "parts go to assets in service, spare or planned"
        )


def _optional(**values: str | None) -> dict[str, str]:
    return {key: value for key, value in values.items() if value}
