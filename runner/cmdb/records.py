"""A loaded CMDB: records with the file and line they came from, and the problems found.

:class:`Cmdb` is what every CMDB tool works on. It only exists for a CMDB without
problems (:func:`runner.cmdb.load.load_cmdb`); each record in it keeps its raw mapping,
so any later message can still name the file and line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from runner.cmdb.model import Asset, Settings, Spare
from runner.cmdb.source import Problem, YDict, show, shown_path
from runner.errors import CmdbError


class CmdbInvalid(CmdbError):
    """The CMDB has problems; ``problems`` holds each, in file and line order."""

    def __init__(self, problems: Iterable[Problem], prefix: str | None = None) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line))
        lines = [str(problem) for problem in self.problems]
        if prefix:
            lines.insert(0, prefix)
        super().__init__("\n".join(lines))


@dataclass
class Entry:
    """A record as found in a file: its raw mapping (with lines), file, and list position."""

    raw: YDict
    file: Path
    shown: str
    index: int

    @property
    def line(self) -> int:
        return self.raw.line

    def text(self, key: str) -> str | None:
        value = self.raw.get(key)
        return value if isinstance(value, str) else None

    def where(self) -> str:
        return f"{self.shown}:{self.line}"


@dataclass
class AssetEntry(Entry):
    def subject(self) -> str:
        name, tag = self.text("name"), self.text("tag")
        if name is None and tag is None:
            return f"asset #{self.index + 1}"
        label = f"asset '{name if name is not None else '?'}'"
        return f"{label} ({tag})" if tag is not None else label


@dataclass
class SpareEntry(Entry):
    def subject(self) -> str:
        part = self.text("part_number")
        return f"spare part '{part}'" if part is not None else f"spare part #{self.index + 1}"


@dataclass(frozen=True)
class ValidAsset:
    """A validated asset record with the place it was read from."""

    entry: AssetEntry
    record: Asset


@dataclass(frozen=True)
class ValidSpare:
    """A validated spare part record with the place it was read from."""

    entry: SpareEntry
    record: Spare


@dataclass
class Cmdb:
    """A valid CMDB: its settings, files, assets and spare parts, in file order."""

    root: Path
    config_file: Path
    settings: Settings
    files: list[Path]
    assets: list[ValidAsset]
    spares: list[ValidSpare]
    by_name: dict[str, ValidAsset] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.by_name = {item.record.name: item for item in self.assets}

    def records(self) -> list[Asset]:
        return [item.record for item in self.assets]

    def get(self, key: str) -> ValidAsset | None:
        """The asset with this name or, failing that, with this tag."""
        found = self.by_name.get(key)
        if found is None:
            found = next((item for item in self.assets if item.record.tag == key), None)
        return found

    def require(self, key: str) -> ValidAsset:
        """Like :meth:`get`, but an unknown name or tag is an error that says what exists."""
        found = self.get(key)
        if found is None:
            keys = [item.record.name for item in self.assets]
            keys += [item.record.tag for item in self.assets]
            near = difflib.get_close_matches(key, keys, n=3)
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            raise CmdbError(
                f"no asset is named or tagged {show(key)} in {shown_path(self.root)}{hint}; "
                "give the name or tag of an asset in the CMDB"
            )
        return found

    def spare(self, part_number: str) -> ValidSpare | None:
        return next((s for s in self.spares if s.record.part_number == part_number), None)
