"""Incidents on the lab: a host taken down opens one incident, bringing it back resolves it
after the policy's passing runs (two here), and the run that did is named."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from runner.incidents.policy import POLICY_ENV
from runner.lab import Lab
from runner.store import open_store
from runner.store.models import Incident, Run
from tests.integration.support import opskeeper

HOST = "lab-srv03"


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("policy") / "incident_policy.yml"
    path.write_text("resolve_after: 2\nreopen_window: 72h\n")
    old = os.environ.get(POLICY_ENV)
    os.environ[POLICY_ENV] = str(path)
    yield path
    if old is None:
        del os.environ[POLICY_ENV]
    else:
        os.environ[POLICY_ENV] = old


def _incidents() -> list[Incident]:
    with open_store().session() as session:
        return list(
            session.scalars(select(Incident).where(Incident.host == HOST).order_by(Incident.id))
        )


def _inspect(reports: Path) -> str:
    result = opskeeper("inspect", "--limit", HOST, "--no-report", "-o", str(reports))
    assert result.returncode in (0, 3, 4, 5), result.stdout + result.stderr
    with open_store().session() as session:
        newest = session.scalars(
            select(Run.id).where(Run.kind == "inspect").order_by(Run.started_at.desc()).limit(1)
        ).one()
    return str(newest)


def test_a_host_down_opens_one_incident_and_coming_back_resolves_it(
    store_url: str, policy: Path, reports: Path
) -> None:
    lab = Lab()
    lab.up(3)
    lab.stop_host(HOST)
    try:
        _inspect(reports)
        _inspect(reports)
    finally:
        lab.start_host(HOST, 3)

    [down] = _incidents()
    assert (down.check_id, down.status, down.count) == ("host.reachable", "open", 2)
    assert down.title == f"{HOST} is unreachable"

    _inspect(reports)
    with open_store().session() as session:
        assert session.get(Incident, down.id).status == "open"  # type: ignore[union-attr]
    last = _inspect(reports)

    with open_store().session() as session:
        incident = session.get(Incident, down.id)
        assert incident is not None
        assert incident.status == "resolved"
        assert incident.resolved_by_run == last
    shown = opskeeper("incident", "show", str(down.id))
    assert f"resolved automatically by run {last}" in shown.stdout, shown.stdout + shown.stderr
