"""Integration tests run real playbooks against the built-in lab (root needed)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner import config

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.lab)


@pytest.fixture(scope="session", autouse=True)
def _root() -> Iterator[None]:
    if os.geteuid() != 0:
        pytest.skip("integration tests need root for the lab: run `make test` (it uses sudo)")
    yield
    # The suite leaves nothing running: every lab host and switch it started stops here.
    from runner.lab import Lab

    Lab().down()


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Reports of the tests go to a temporary folder, not the user's var/reports."""
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private store per test module; the lab's cached base stays in the state folder."""
    url = f"sqlite:///{tmp_path_factory.mktemp('store')}/opskeeper.db"
    old = os.environ.get(config.DB_URL_ENV)
    os.environ[config.DB_URL_ENV] = url
    yield url
    if old is None:
        del os.environ[config.DB_URL_ENV]
    else:
        os.environ[config.DB_URL_ENV] = old
