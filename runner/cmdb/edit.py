"""Changing CMDB files the way a person would: only the changed lines differ.

The files are reviewed in git, so an edit keeps comments, quoting, flow-style mappings
and the file's indentation. A value is changed in place through ruamel.yaml's round-trip
mode. A new list item is spliced in as text right after the record's last line, because
a round-trip dump would put it after the blank line and the comment that introduce the
next record.

An :class:`Edit` gathers changes in memory; :meth:`Edit.texts` gives the new contents so
the whole CMDB can be validated with them before anything is written, and
:meth:`Edit.staged` writes them beside their files so that they all replace the files
together or not at all (see :class:`Staged`).
"""

from __future__ import annotations

import difflib
import io
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from runner.errors import CmdbError

log = logging.getLogger(__name__)

#: Indentation styles tried on a file, as (mapping, sequence, offset): dashes indented
#: under their key (the example's style) and dashes flush with their key.
_STYLES = ((2, 4, 2), (2, 2, 0), (4, 4, 2), (4, 6, 4))


def _yaml(style: tuple[int, int, int]) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    mapping, sequence, offset = style
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _dump(yaml: YAML, data: Any) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _detect_style(path: Path, text: str) -> tuple[int, int, int]:
    """The indentation style with which a round trip reproduces ``text`` (or comes closest)."""
    best: tuple[int, tuple[int, int, int]] | None = None
    for style in _STYLES:
        dumped = _dump(_yaml(style), _yaml(style).load(text))
        if dumped == text:
            return style
        changed = sum(
            1 for line in difflib.ndiff(text.splitlines(), dumped.splitlines()) if line[:1] in "+-"
        )
        if best is None or changed < best[0]:
            best = (changed, style)
    assert best is not None
    log.warning(
        "%s: no indentation style reproduces the file exactly; a change re-indents %d lines",
        path,
        best[0],
    )
    return best[1]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


@dataclass
class Document:
    """One file being edited: its original text, its current text and its indentation."""

    path: Path
    original: str
    text: str
    style: tuple[int, int, int]

    @classmethod
    def load(cls, path: Path) -> Document:
        original = path.read_text(encoding="utf-8")
        return cls(path, original, original, _detect_style(path, original))

    def _record(self, data: Any, where: RecordRef) -> CommentedMap:
        section, index, key, value = where.section, where.index, where.key, where.value
        items = data.get(section) if isinstance(data, CommentedMap) else None
        if not isinstance(items, CommentedSeq) or index >= len(items):
            raise CmdbError(f"{self.path}: {section}[{index}] is gone; has the file changed?")
        found = items[index]
        if not isinstance(found, CommentedMap) or found.get(key) != value:
            raise CmdbError(
                f"{self.path}: {section}[{index}] is not {key} {value!r} any more; "
                "the file changed while it was being edited: run the command again"
            )
        return found

    def set_value(self, where: RecordRef, name: str, value: Any) -> None:
        """Set one field of a record: in place when it exists, after its last line if not."""
        self.set_path(where, (name,), value)

    def set_path(self, where: RecordRef, path: tuple[str, ...], value: Any) -> None:
        """Set a field that may be nested (``("system", "os")``), creating what is missing."""
        yaml = _yaml(self.style)
        data = yaml.load(self.text)
        parent = self._record(data, where)
        for depth, key in enumerate(path):
            last = depth == len(path) - 1
            if key in parent and (last or isinstance(parent[key], CommentedMap)):
                if last:
                    parent[key] = _plain(value)
                    self.text = _dump(yaml, data)
                    return
                parent = parent[key]
                continue
            nested: Any = value
            for inner in reversed(path[depth + 1 :]):
                nested = {inner: nested}
            if key in parent:
                parent[key] = _plain(nested)
                self.text = _dump(yaml, data)
            else:
                self._insert(yaml, data, parent, key, nested)
            return

    def append_item(self, where: RecordRef, name: str, item: dict[str, Any]) -> None:
        """Append a mapping to the list field ``name`` of a record, creating the field."""
        yaml = _yaml(self.style)
        data = yaml.load(self.text)
        record = self._record(data, where)
        current = record.get(name)
        if current is None:
            self._insert(yaml, data, record, name, [item])
            return
        if not isinstance(current, CommentedSeq):
            raise CmdbError(
                f"{self.path}: field {name!r} of {where.key} {where.value!r} is not a list; "
                "fix it and run again"
            )
        if not current:
            # 'parts: []': the new list replaces it, written as a block under the key.
            record[name] = _plain([item])
            self.text = _dump(yaml, data)
            return
        if current.fa.flow_style():
            current.append(_plain(item))
            self.text = _dump(yaml, data)
            return
        lines = self.text.splitlines(keepends=True)
        key_line, key_col = record.lc.key(name)
        end = _block_end(lines, key_line, key_col, items_of=True)
        snippet = self._render({name: [item]}, key_col).splitlines(keepends=True)[1:]
        self.text = "".join(lines[:end] + snippet + lines[end:])

    def _insert(self, yaml: YAML, data: Any, parent: CommentedMap, name: str, value: Any) -> None:
        """Add a field to a mapping: inside the braces of a flow mapping, and as text right
        after the last line of a block mapping (before the blank lines and comments that
        introduce what follows, where a round-trip dump would put it)."""
        if parent.fa.flow_style():
            parent[name] = _plain(value)
            self.text = _dump(yaml, data)
            return
        lines = self.text.splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        end = _block_end(lines, parent.lc.line, parent.lc.col, items_of=False)
        snippet = self._render({name: value}, parent.lc.col)
        self.text = "".join([*lines[:end], snippet, *lines[end:]])

    def _render(self, mapping: dict[str, Any], column: int) -> str:
        text = _dump(_yaml(self.style), _plain(mapping))
        return "".join(
            " " * column + line if line.strip() else line for line in text.splitlines(True)
        )


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return CommentedMap((key, _plain(item)) for key, item in value.items())
    if isinstance(value, list):
        return CommentedSeq(_plain(item) for item in value)
    return value


def _block_end(lines: list[str], start: int, column: int, items_of: bool) -> int:
    """The index just after the last line of the block that starts at line ``start``.

    For a record (``items_of`` false) the block holds the lines indented at least to the
    record's key ``column``. For a list field (``items_of`` true) it holds the lines
    indented deeper than the key, and ``- `` items written flush with it. Trailing blank
    lines and comments indented less than the block are left to what follows.
    """
    last = start
    for number in range(start + 1, len(lines)):
        line = lines[number]
        if not line.strip():
            continue
        indent = _indent(line)
        inside = indent > column or (indent == column and not items_of)
        if items_of and indent == column and line.lstrip().startswith("- "):
            inside = True
        if _is_content(line):
            if not inside:
                break
            last = number
        elif inside:
            last = number
    return last + 1


@dataclass(frozen=True)
class RecordRef:
    """Where a record is: ``section[index]`` of a file, checked by one identifying field."""

    section: str
    index: int
    key: str
    value: str


@dataclass
class Edit:
    """Changes to some files of one CMDB, applied together."""

    documents: dict[Path, Document] = field(default_factory=dict)

    def document(self, path: Path) -> Document:
        key = path.resolve()
        if key not in self.documents:
            self.documents[key] = Document.load(key)
        return self.documents[key]

    def texts(self) -> dict[Path, str]:
        """The new content of every file that changed, by resolved path."""
        return {
            path: document.text
            for path, document in self.documents.items()
            if document.text != document.original
        }

    def diff(self, root: Path) -> str:
        """The changes as one unified diff, paths relative to ``root`` with a/ and b/."""
        chunks: list[str] = []
        for path, text in sorted(self.texts().items()):
            relative = os.path.relpath(path, root)
            chunks.extend(
                difflib.unified_diff(
                    self.documents[path].original.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    fromfile=f"a/{relative}",
                    tofile=f"b/{relative}",
                )
            )
        return "".join(chunks)

    @contextmanager
    def staged(self) -> Iterator[Staged]:
        """Every changed file's new version written beside it, removed again on leaving."""
        staged = Staged()
        try:
            for path, text in sorted(self.texts().items()):
                staged.add(path, text)
            yield staged
        finally:
            staged.discard()


@dataclass
class _Change:
    path: Path
    new: Path
    backup: Path
    renamed: bool = False
    restored: bool = False
    #: The backup is the only copy of the file's old content: a restore failed.
    keep_backup: bool = False


def _write_beside(path: Path, suffix: str, data: bytes, mode: int) -> Path:
    """A hidden file next to ``path`` holding ``data``: private while written, synced."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(name, mode)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _sync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable. The renames are done by then, so a folder
    that cannot be synced (some file systems refuse) is no reason to call them failed."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        log.debug("%s: cannot sync the folder: %s", folder, exc.strerror)


class Staged:
    """New versions of several files, written and synced beside them, with a backup copy
    of each file as it is now.

    :meth:`install` renames them into place one after the other; if a rename fails it puts
    back the files already renamed, so the files are all new or all as before. A caller
    with a later step that can fail (recording the change) calls :meth:`restore` when it
    does. Nothing here is left behind except a backup that could not be put back.
    """

    def __init__(self) -> None:
        self.changes: list[_Change] = []

    @property
    def paths(self) -> list[Path]:
        return [change.path for change in self.changes]

    def add(self, path: Path, text: str) -> None:
        try:
            mode = path.stat().st_mode & 0o777
            new = _write_beside(path, ".new", text.encode("utf-8"), mode)
            try:
                backup = _write_beside(path, ".bak", path.read_bytes(), mode)
            except BaseException:
                new.unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise CmdbError(
                f"{path}: cannot write its new version beside it: {exc.strerror}; no CMDB "
                "file was changed: make the folder writable (or free some space) and run again"
            ) from exc
        self.changes.append(_Change(path, new, backup))

    def install(self) -> None:
        """Rename every new version into place, or none."""
        for change in self.changes:
            try:
                os.replace(change.new, change.path)
            except OSError as exc:
                self.restore()
                raise CmdbError(
                    f"{change.path}: cannot replace it with its new version: {exc.strerror}; "
                    "no CMDB file was changed: make the file and its folder writable and run "
                    "again"
                ) from exc
            change.renamed = True
        for folder in sorted({change.path.parent for change in self.changes}):
            _sync_folder(folder)

    def restore(self) -> None:
        """Put back the files already renamed, from their backups."""
        lost: list[str] = []
        for change in reversed(self.changes):
            if not change.renamed or change.restored:
                continue
            try:
                os.replace(change.backup, change.path)
            except OSError as exc:
                change.keep_backup = True
                lost.append(f"{change.path} ({exc.strerror}; its old content is {change.backup})")
                continue
            change.restored = True
            log.warning("%s: put back as it was before the failed change", change.path)
        if lost:
            raise CmdbError(
                "a change to the CMDB failed half-way and these files could not be put back: "
                + ", ".join(lost)
                + "; move each old content back over its file by hand"
            )

    def discard(self) -> None:
        """Remove the new versions not renamed and the backups no longer needed."""
        for change in self.changes:
            if not change.renamed:
                change.new.unlink(missing_ok=True)
            if not change.keep_backup:
                change.backup.unlink(missing_ok=True)
