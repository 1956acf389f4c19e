"""CMDB tests work on copies: the example CMDB and the small base CMDB of the cases."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.unit.cmdb.cmdb_support import BASE, EXAMPLE


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A private copy of the example CMDB."""
    return Path(shutil.copytree(EXAMPLE, tmp_path / "example")).resolve()


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A private copy of the valid base CMDB that the malformed cases start from."""
    return Path(shutil.copytree(BASE, tmp_path / "cmdb")).resolve()
