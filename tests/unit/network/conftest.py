"""Shared helpers of the network tests: recorded device outputs and the probe module."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from tests.unit.plugins.conftest import load_plugin

DATA = Path(__file__).parent / "data"


def recorded(name: str) -> str:
    """A recorded device output from data/ (ios_*: real IOS shape; sim_*: fake-switches)."""
    return (DATA / f"{name}.txt").read_text()


@pytest.fixture(scope="session")
def probe() -> ModuleType:
    return load_plugin("plugins/modules/opskeeper_ios_probe.py")
