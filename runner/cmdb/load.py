"""Loading and validating a CMDB folder: every problem, each with file, line and a fix.

A CMDB is an inventory folder with a plugin configuration file (``cmdb.yml``) and asset
files under its ``cmdb_dir``. Validation runs in three passes and reports all it finds:

1. each file on its own: YAML syntax, an empty file, a file that is not a mapping, an
   unknown top-level key, a key written twice;
2. each record on its own: the schema in :mod:`runner.cmdb.model`, then what depends on
   the kind of asset and on dates (a warranty that ends before the purchase, a lifecycle
   history out of order or in the future);
3. the records together: unique tags, names, serials and addresses, relations that point
   at assets that exist and are in service, no dependency cycle, ports used once.

Messages read ``FILE:LINE: asset 'NAME' (TAG): field 'FIELD' is VALUE; FIX``.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from runner import config
from runner.cmdb import rules
from runner.cmdb.model import CHOICES, CONFIG_KEYS, CONSTRUCTED_KEYS, Asset, Settings, Spare
from runner.cmdb.records import (
    AssetEntry,
    Cmdb,
    CmdbInvalid,
    SpareEntry,
    ValidAsset,
    ValidSpare,
)
from runner.cmdb.source import (
    Problem,
    YDict,
    YList,
    describe,
    field_name,
    line_at,
    load_yaml,
    show,
    shown_path,
    value_at,
)
from runner.errors import CmdbError

__all__ = [
    "CONFIG_NAME",
    "CONFIG_SUFFIX",
    "AssetEntry",
    "Cmdb",
    "CmdbError",
    "CmdbInvalid",
    "SpareEntry",
    "ValidAsset",
    "ValidSpare",
    "check_cmdb",
    "default_root",
    "default_roots",
    "find_config",
    "load_cmdb",
]

log = logging.getLogger(__name__)

#: File names the inventory plugin accepts as its configuration.
CONFIG_NAME = "cmdb.yml"
CONFIG_SUFFIX = ".cmdb.yml"

#: Top-level keys of an asset file, and what each holds.
TOP_KEYS = {"assets": "asset records", "spares": "spare part records"}

#: Folders next to asset files that belong to Ansible's vars plugins, not to the CMDB.
_VARS_FOLDERS = frozenset({"group_vars", "host_vars"})


#: What a missing field should hold, for the "add it" part of a message.
FIELD_HINTS = {
    "tag": "the asset tag on its label, e.g. A-0042",
    "name": "the inventory hostname, e.g. db01",
    "kind": "one of: " + ", ".join(CHOICES["kind"]),
    "owner": "the person or team responsible for it",
    "criticality": "one of: " + ", ".join(CHOICES["criticality"]),
    "lifecycle": "{state: in_use, history: [{state: in_use, date: YYYY-MM-DD}]}",
    "state": "one of: " + ", ".join(CHOICES["state"]),
    "history": "a list of {state, date}, oldest first",
    "date": "YYYY-MM-DD",
    "site": "the site code, e.g. hq",
    "end": "the date it ends, as YYYY-MM-DD",
    "asset": "the name of the asset at the other end",
    "part_number": "the vendor's part number",
    "model": "the model it is",
    "quantity": "how many are in stock",
    "minimum": "the stock level that should trigger a re-order",
    "plugin": "opskeeper_cmdb",
    "networks": "a list of networks to sweep, e.g. [192.0.2.0/24]",
}


def find_config(path: Path) -> Path:
    """The plugin configuration file of a CMDB given as a folder or as the file itself."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise CmdbError(
            f"{shown_path(path)} does not exist; give an inventory folder that holds a "
            f"{CONFIG_NAME}, or the file itself"
        )
    if (path / CONFIG_NAME).is_file():
        return path / CONFIG_NAME
    candidates = sorted(path.glob(f"*{CONFIG_SUFFIX}"))
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        names = ", ".join(candidate.name for candidate in candidates)
        raise CmdbError(
            f"{shown_path(path)} holds several CMDB configurations ({names}); give one of them"
        )
    raise CmdbError(
        f"{shown_path(path)} has no {CONFIG_NAME}; create one with the line "
        "'plugin: opskeeper_cmdb' (see docs/CMDB.md), or give another folder"
    )


def default_roots() -> list[Path]:
    """The repository's CMDB folders: those under ``inventory/`` with a ``cmdb.yml``.

    The example is used only when no other inventory is a CMDB yet.
    """
    inventory = config.REPO_ROOT / "inventory"
    roots = sorted(path.parent for path in inventory.glob(f"*/{CONFIG_NAME}"))
    real = [root for root in roots if root.name != "example"]
    return real or roots


def default_root() -> Path:
    """The CMDB that commands edit or read when none is given: the lab's, else the example."""
    lab = config.default_inventory()
    if (lab / CONFIG_NAME).is_file():
        return lab
    return config.REPO_ROOT / "inventory" / "example"


def cmdb_dir_of(config_file: Path) -> str:
    """The ``cmdb_dir`` a configuration file names, read without validating anything else."""
    try:
        data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return "assets"
    value = data.get("cmdb_dir") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else "assets"


def asset_files(root: Path, settings: Settings) -> list[Path]:
    """The asset files of a CMDB: ``*.yml`` and ``*.yaml`` under ``cmdb_dir``, sorted."""
    folder = (root / settings.cmdb_dir).resolve()
    found = [
        path
        for pattern in ("*.yml", "*.yaml")
        for path in folder.rglob(pattern)
        if not any(part.startswith(".") for part in path.relative_to(folder).parts)
        and not _VARS_FOLDERS.intersection(path.relative_to(folder).parts)
        and not path.name.endswith(CONFIG_SUFFIX)
        and path.name != CONFIG_NAME
    ]
    return sorted(found)


def _read(path: Path, texts: Mapping[Path, str] | None) -> str:
    if texts is not None and path.resolve() in texts:
        return texts[path.resolve()]
    return path.read_text(encoding="utf-8")


# Pass 1 and the configuration file


def _read_settings(
    config_file: Path, texts: Mapping[Path, str] | None, overrides: Mapping[str, Any] | None
) -> tuple[Settings | None, list[Problem]]:
    shown = shown_path(config_file)
    try:
        data, problems = load_yaml(_read(config_file, texts), shown)
    except OSError as exc:
        return None, [Problem(shown, 1, f"cannot read the file: {exc.strerror}")]
    if problems and data is None:
        return None, problems
    if data is None:
        return None, [
            *problems,
            Problem(shown, 1, "the file is empty; add 'plugin: opskeeper_cmdb'"),
        ]
    if not isinstance(data, YDict):
        return None, [
            *problems,
            Problem(
                shown,
                getattr(data, "line", 1),
                f"the file holds {describe(data)}, not a mapping; "
                "write 'plugin: opskeeper_cmdb' and the options as 'key: value' lines",
            ),
        ]

    known = (*CONFIG_KEYS, *CONSTRUCTED_KEYS)
    for key in data:
        if key not in known:
            problems.append(
                Problem(
                    shown,
                    data.line_of(key),
                    f"option {show(key)} is not known; {_did_you_mean(key, known)}",
                )
            )
    plugin = data.get("plugin")
    if plugin != "opskeeper_cmdb":
        problems.append(
            Problem(
                shown,
                data.line_of("plugin"),
                f"field 'plugin' is {show(plugin) if 'plugin' in data else 'missing'}; "
                "this file configures the CMDB, so it says 'plugin: opskeeper_cmdb'",
            )
        )
        return None, problems
    merged = {**data, **(overrides or {})}
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        problems.extend(_schema_problems(exc, data, shown, None, Settings))
        return None, problems

    folder = config_file.parent / settings.cmdb_dir
    if not folder.is_dir():
        problems.append(
            Problem(
                shown,
                data.line_of("cmdb_dir"),
                f"field 'cmdb_dir' is {show(settings.cmdb_dir)}; there is no such folder "
                f"({shown_path(folder)}): create it with the asset files, or fix the path "
                "(it is relative to this file)",
            )
        )
    return settings, problems


#: What a mapping field looks like, for a value of the wrong kind.
MAPPING_HINTS = {
    "location": "{site: hq, room: S1, rack: R01}",
    "lifecycle": "{state: in_use, history: [{state: in_use, date: 2024-01-31}]}",
    "support_contract": "{vendor: Dell, id: PS-1234, end: 2027-01-31}",
    "system": "{os: debian, os_version: '12', cpus: 8, memory_mb: 32768}",
    "vars": "{ansible_port: 2222}",
    "discovery": "{networks: [192.0.2.0/24], ports: [22, 443]}",
}


def _did_you_mean(key: Any, known: Iterable[str]) -> str:
    near = difflib.get_close_matches(str(key), list(known), n=1)
    if near:
        return f"did you mean '{near[0]}'?"
    return "expected one of: " + ", ".join(known)


def _read_asset_file(
    path: Path, texts: Mapping[Path, str] | None
) -> tuple[list[AssetEntry], list[SpareEntry], list[Problem]]:
    shown = shown_path(path)
    try:
        data, problems = load_yaml(_read(path, texts), shown)
    except OSError as exc:
        return [], [], [Problem(shown, 1, f"cannot read the file: {exc.strerror}")]
    except UnicodeDecodeError:
        return [], [], [Problem(shown, 1, "the file is not UTF-8 text; save it as UTF-8")]
    if data is None:
        if not problems:
            problems.append(
                Problem(
                    shown,
                    1,
                    "the file is empty; add an 'assets:' or 'spares:' list, or delete the file",
                )
            )
        return [], [], problems
    if not isinstance(data, YDict):
        problems.append(
            Problem(
                shown,
                getattr(data, "line", 1),
                f"the file holds {describe(data)}, not a mapping; "
                "put the records under 'assets:' or 'spares:'",
            )
        )
        return [], [], problems

    assets: list[AssetEntry] = []
    spares: list[SpareEntry] = []
    for key, value in data.items():
        line = data.line_of(key)
        if key not in TOP_KEYS:
            problems.append(
                Problem(
                    shown,
                    line,
                    f"top-level key {show(key)} is not known; {_did_you_mean(key, TOP_KEYS)}",
                )
            )
            continue
        if not isinstance(value, YList):
            problems.append(
                Problem(
                    shown,
                    line,
                    f"'{key}' is {describe(value)}; expected a list of {TOP_KEYS[key]}, "
                    "each starting with '- '",
                )
            )
            continue
        for index, item in enumerate(value):
            if not isinstance(item, YDict):
                problems.append(
                    Problem(
                        shown,
                        value.line_of(index),
                        f"{key}[{index}] is {describe(item)}; expected a mapping of the "
                        "record's fields ('- tag: ...' for an asset, '- part_number: ...' "
                        "for a spare part)",
                    )
                )
                continue
            if key == "assets":
                assets.append(AssetEntry(item, path, shown, index))
            else:
                spares.append(SpareEntry(item, path, shown, index))
    return assets, spares, problems


# Pass 2: the schema of each record (the rest of pass 2 and pass 3 are in rules.py)


def _schema_problems(
    exc: ValidationError,
    raw: YDict,
    shown: str,
    subject: str | None,
    model: type[BaseModel] | None = None,
) -> list[Problem]:
    problems = []
    for error in exc.errors():
        loc = [part for part in error["loc"] if isinstance(part, (str, int))]
        # Errors inside a dict's values carry the key as a location part: keep it.
        problems.append(
            Problem(
                shown,
                line_at(raw, loc),
                _prefix(subject) + _schema_text(error, raw, loc, model),
            )
        )
    return problems


def _prefix(subject: str | None) -> str:
    return f"{subject}: " if subject else ""


def _schema_text(
    error: Any, raw: YDict, loc: list[int | str], model: type[BaseModel] | None = None
) -> str:
    kind = error["type"]
    name = field_name(loc)
    last = next((part for part in reversed(loc) if isinstance(part, str)), "")
    present, value = value_at(raw, loc)

    if kind == "missing":
        hint = FIELD_HINTS.get(last)
        return f"field '{name}' is missing; add it" + (f" ({hint})" if hint else "")
    if kind == "extra_forbidden":
        parent = [part for part in loc[:-1]]
        _, container = value_at(raw, parent)
        known = [key for key in _known_fields(raw, parent, model) if key not in (container or {})]
        near = difflib.get_close_matches(str(last), known, n=1)
        if near:
            return f"field '{name}' is not a known field; did you mean '{near[0]}'? Else remove it"
        return f"field '{name}' is not a known field; remove it (known: {', '.join(known)})"

    shown_value = describe(value) if present else "missing"
    if kind == "cmdb_value":
        return f"field '{name}' is {show(value)}; {error['msg']}"
    if kind == "literal_error":
        choices = CHOICES.get(last) or (str(error.get("ctx", {}).get("expected", "")),)
        return f"field '{name}' is {show(value)}; expected one of: {', '.join(choices)}"
    if kind == "string_type":
        fix = f"quote it ('{value}')" if isinstance(value, (int, float, date)) else "write text"
        return f"field '{name}' is {shown_value}; expected text: {fix}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"field '{name}' is {shown_value}; expected a whole number"
    if kind in ("bool_type", "bool_parsing"):
        return f"field '{name}' is {shown_value}; expected true or false"
    if kind == "greater_than_equal":
        return f"field '{name}' is {show(value)}; expected {error['ctx']['ge']} or more"
    if kind == "too_short":
        hint = FIELD_HINTS.get(last)
        return f"field '{name}' is an empty list; add at least one entry" + (
            f" ({hint})" if hint else ""
        )
    if kind == "string_too_short":
        return f"field '{name}' is empty text; write a value or remove the field"
    if kind == "string_pattern_mismatch":
        return f"field '{name}' is {show(value)}; expected a name of letters, digits and '_'"
    if kind == "list_type":
        example = f": write [{value}]" if isinstance(value, str) else ""
        return f"field '{name}' is {shown_value}; expected a list{example}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        example = MAPPING_HINTS.get(last, "{field: value, ...}")
        return f"field '{name}' is {shown_value}; expected a mapping such as {example}"
    return f"field '{name}' is {shown_value}; {error['msg'].lower()}"


def _known_fields(
    raw: YDict, parent: list[int | str], root: type[BaseModel] | None = None
) -> list[str]:
    """The field names a mapping at ``parent`` may have, for "did you mean" hints; ``root``
    is the model of the whole mapping (default: an asset or a spare part, by its fields)."""
    model = root
    if model is None:
        model = Spare if "part_number" in raw and "kind" not in raw else Asset
    for part in parent:
        if model is None or isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        model = _model_of(info.annotation) if info else None
    return list(model.model_fields) if model else []


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found:
            return found
    return None


# The whole CMDB


def check_cmdb(
    path: Path,
    *,
    today: date | None = None,
    texts: Mapping[Path, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[Cmdb | None, list[Problem]]:
    """Validate the CMDB at ``path`` (a folder or its ``cmdb.yml``).

    ``texts`` replaces the content of files (absolute resolved paths) to validate an edit
    before it is written; ``overrides`` replaces options of ``cmdb.yml`` (the plugin
    passes the options Ansible resolved). Returns the CMDB when there is no problem.
    """
    today = today or date.today()
    config_file = find_config(path).resolve()
    root = config_file.parent
    settings, problems = _read_settings(config_file, texts, overrides)
    if settings is None:
        return None, sorted(problems, key=lambda p: (p.file, p.line))

    files = asset_files(root, settings)
    if not files and (root / settings.cmdb_dir).is_dir():
        problems.append(
            Problem(
                shown_path(config_file),
                1,
                f"there are no asset files (*.yml) in {shown_path(root / settings.cmdb_dir)}; "
                "add at least one with an 'assets:' list",
            )
        )
    assets: list[AssetEntry] = []
    spares: list[SpareEntry] = []
    for file in files:
        found_assets, found_spares, found = _read_asset_file(file, texts)
        assets += found_assets
        spares += found_spares
        problems += found

    valid: list[ValidAsset] = []
    for entry in assets:
        try:
            asset = Asset.model_validate(entry.raw)
        except ValidationError as exc:
            problems += _schema_problems(exc, entry.raw, entry.shown, entry.subject())
            continue
        valid.append(ValidAsset(entry, asset))
        rules.check_asset(entry, asset, settings, today, problems)
    valid_spares: list[ValidSpare] = []
    for spare in spares:
        try:
            valid_spares.append(ValidSpare(spare, Spare.model_validate(spare.raw)))
        except ValidationError as exc:
            problems += _schema_problems(exc, spare.raw, spare.shown, spare.subject())

    names = {name: entry for entry in assets if (name := entry.text("name")) is not None}
    rules.check_unique(assets, problems)
    rules.check_relations(valid, names, problems)
    rules.check_cycles(valid, problems)
    rules.check_group_clash(valid, problems)
    rules.check_spares(spares, valid_spares, assets, problems)

    if problems:
        return None, sorted(problems, key=lambda p: (p.file, p.line))
    log.debug("cmdb %s: %d assets, %d spare parts", root, len(assets), len(spares))
    return Cmdb(root, config_file, settings, files, valid, valid_spares), []


def load_cmdb(
    path: Path,
    *,
    today: date | None = None,
    texts: Mapping[Path, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Cmdb:
    """The valid CMDB at ``path``; raises :class:`CmdbInvalid` listing every problem."""
    cmdb, problems = check_cmdb(path, today=today, texts=texts, overrides=overrides)
    if cmdb is None:
        raise CmdbInvalid(problems)
    return cmdb
