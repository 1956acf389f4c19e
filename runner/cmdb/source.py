"""Reading CMDB files so that every value can be traced to its line.

People edit the CMDB by hand, so a problem is only useful when it names the file and the
line to fix. :func:`load_yaml` parses with a ``SafeLoader`` that builds :class:`YDict` and
:class:`YList` containers which remember the line of each key and item, and collects the
problems a plain loader hides (a key written twice in one mapping, a date that does not
exist) instead of stopping at the first.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
import yaml.scanner
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runner import config


class YDict(dict[Any, Any]):
    """A YAML mapping that knows its own line and the line of each key (1-based)."""

    line: int = 1

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class YList(list[Any]):
    """A YAML sequence that knows its own line and the line of each item (1-based)."""

    line: int = 1

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.lines[index] if 0 <= index < len(self.lines) else self.line


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the CMDB, at a file and line, said so a person can fix it."""

    file: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.text}"


def shown_path(path: Path) -> str:
    """A path as messages show it: relative to the repository when it lies inside it."""
    try:
        return str(path.resolve().relative_to(config.REPO_ROOT))
    except ValueError:
        return str(path)


def show(value: Any) -> str:
    """A value as a message quotes it: text in quotes, dates as YYYY-MM-DD, YAML spelling."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value) if "'" in value else f"'{value}'"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        text = json.dumps(value, default=str, ensure_ascii=False)
        return text if len(text) <= 60 else text[:57] + "..."
    return str(value)


def describe(value: Any) -> str:
    """What kind of YAML value this is, for messages about the wrong kind of value."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"{show(value)} (a boolean)"
    if isinstance(value, (int, float)):
        return f"{value} (a number)"
    if isinstance(value, str):
        return f"{show(value)} (text)"
    if isinstance(value, (date, datetime)):
        return f"{show(value)} (a date)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


class _LineLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[int, Any, int]] = []


def _construct_mapping(loader: _LineLoader, node: Node) -> YDict:
    assert isinstance(node, MappingNode)
    loader.flatten_mapping(node)
    mapping = YDict()
    mapping.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise ConstructorError(
                "while reading a mapping",
                node.start_mark,
                "a key is a list or a mapping; keys must be plain words",
                key_node.start_mark,
            )
        line = key_node.start_mark.line + 1
        if key in mapping:
            loader.duplicates.append((line, key, mapping.key_lines[key]))
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = line
    return mapping


def _construct_sequence(loader: _LineLoader, node: Node) -> YList:
    assert isinstance(node, SequenceNode)
    items = YList(loader.construct_object(child, deep=True) for child in node.value)
    items.line = node.start_mark.line + 1
    items.lines = [child.start_mark.line + 1 for child in node.value]
    return items


def _construct_timestamp(loader: _LineLoader, node: Node) -> Any:
    # A date-shaped value that is no date (2023-02-30) stays text, so that validation can
    # report it with the field it belongs to instead of the loader giving up on the file.
    assert isinstance(node, ScalarNode)
    try:
        return SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)  # type: ignore[arg-type]
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)  # type: ignore[arg-type]
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)  # type: ignore[arg-type]


def _syntax_error(exc: yaml.MarkedYAMLError) -> tuple[int, str]:
    """The line and text of a YAML error. A scanner error (an unclosed quote, a key without
    its colon) is shown at the line where the broken construct starts, which is the line
    to fix; the point where the parser gave up is named too."""
    problem, context = exc.problem or "unreadable YAML", exc.context
    mark, start = exc.problem_mark, exc.context_mark
    fix = "fix the syntax (indentation, a missing colon or an unclosed quote)"
    if isinstance(exc, yaml.scanner.ScannerError) and start is not None and mark is not None:
        where = f"line {mark.line + 1} column {mark.column + 1}"
        return (
            start.line + 1,
            f"the file is not valid YAML: {context} here, {problem} at {where}; {fix}",
        )
    line = mark.line + 1 if mark is not None else 1
    column = f" at column {mark.column + 1}" if mark is not None else ""
    return line, f"the file is not valid YAML: {problem}{column}; {fix}"


def load_yaml(text: str, shown: str) -> tuple[Any, list[Problem]]:
    """Parse one document; return its data (None when it cannot be read) and its problems."""
    loader = _LineLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        return None, [Problem(shown, *_syntax_error(exc))]
    except yaml.YAMLError as exc:
        return None, [Problem(shown, 1, f"the file cannot be read as YAML: {exc}")]
    finally:
        loader.dispose()

    problems = [
        Problem(
            shown,
            line,
            f"key {show(key)} is written twice in one mapping (first at line {first}); "
            "keep one of them",
        )
        for line, key, first in loader.duplicates
    ]
    return data, problems


def _has(node: Any, part: int | str) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def line_at(data: Any, loc: Sequence[int | str], default: int = 1) -> int:
    """The line of the deepest part of ``loc`` (keys and indexes) that exists in ``data``."""
    line: int = getattr(data, "line", default)
    node = data
    for part in loc:
        if not _has(node, part):
            break
        if isinstance(node, (YDict, YList)):
            line = node.line_of(part)  # type: ignore[arg-type]
        node = node[part]
    return line


def value_at(data: Any, loc: Sequence[int | str]) -> tuple[bool, Any]:
    """The value at ``loc`` in ``data``, and whether it is there at all."""
    node = data
    for part in loc:
        if not _has(node, part):
            return False, None
        node = node[part]
    return True, node


def field_name(loc: Sequence[int | str]) -> str:
    """``('lifecycle', 'history', 0, 'date')`` as ``lifecycle.history[0].date``."""
    name = ""
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name
