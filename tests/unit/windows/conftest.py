"""Load the Windows filter and the check contract by file path (``plugins/`` is no package)."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
DATA = Path(__file__).with_name("data")
ROLE = REPO / "roles" / "inspect_windows"


def load_plugin(relative: str) -> ModuleType:
    """Import a plugin file as a module named after the file."""
    path = REPO / relative
    name = f"opskeeper_test_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]

    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def recorded(name: str) -> Any:
    """A recorded (registered) module result from ``data/``."""
    return json.loads((DATA / name).read_text())


def role_thresholds(overrides: dict[str, Any]) -> dict[str, Any]:
    """The role's threshold dict (vars/main.yml) with its defaults and ``overrides`` filled in.

    Only the ``{{ variable }}`` form occurs there, so a regex stands in for Jinja2.
    """
    values = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text()) | overrides
    spec = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["inspect_windows_thresholds"]

    def fill(value: Any) -> Any:
        match = re.fullmatch(r"\{\{ (\w+) \}\}", value) if isinstance(value, str) else None
        return values[match.group(1)] if match else value

    return {check: {k: fill(v) for k, v in limits.items()} for check, limits in spec.items()}


@pytest.fixture(scope="session")
def windows() -> ModuleType:
    return load_plugin("plugins/filter/opskeeper_windows.py")


@pytest.fixture(scope="session")
def check() -> ModuleType:
    return load_plugin("plugins/action/opskeeper_check.py")
