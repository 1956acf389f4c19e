"""Unit tests get a private state folder and a private SQLite store each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runner import config
from runner.store import Store, open_store


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv(config.STATE_DIR_ENV, str(folder))
    monkeypatch.delenv(config.DB_URL_ENV, raising=False)
    monkeypatch.delenv(config.NETWORK_BACKUP_DIR_ENV, raising=False)
    return folder


@pytest.fixture
def store(state: Path) -> Iterator[Store]:
    opened = open_store()
    yield opened
    opened.engine.dispose()
