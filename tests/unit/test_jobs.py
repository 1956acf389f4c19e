from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from runner.errors import RunError
from runner.jobs import (
    NO_RESULT_CHECK,
    STRATEGY_ENV,
    UNREACHABLE_CHECK,
    EventSink,
    JobSpec,
    host_key_checking,
    new_run_id,
    prepare,
    run_job,
    strategy_settings,
)
from runner.store import Store
from runner.store.models import CheckResult, Host, Run


def _event(kind: str, host: str, **data: Any) -> dict[str, Any]:
    return {"event": kind, "event_data": {"host": host, **data}}


def _checks(*statuses: str) -> dict[str, Any]:
    return {
        "changed": False,
        "opskeeper_checks": [
            {
                "check_id": f"linux.check{i}",
                "subject": "",
                "status": status,
                "value": i,
                "unit": None,
                "thresholds": {"warn": 1},
                "message": f"{status} message",
            }
            for i, status in enumerate(statuses)
        ],
    }


def _stored(store: Store, run_id: str) -> list[tuple[str, str, str]]:
    with store.session() as session:
        rows = session.execute(
            select(Host.name, CheckResult.check_id, CheckResult.status)
            .join(Host, Host.id == CheckResult.host_id)
            .where(CheckResult.run_id == run_id)
            .order_by(Host.name, CheckResult.check_id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_run_ids_sort_by_time_and_differ() -> None:
    first, second = new_run_id(), new_run_id()
    assert first != second and len(first) == len(second)


def test_sink_records_verdicts_unreachable_and_silent_hosts(store: Store) -> None:
    store.start_run("r", "inspect", "p", "manual", "t", "inv", None, ["a", "b", "c"])
    seen: list[tuple[int, int, str, str]] = []
    sink = EventSink(store, "r", ["a", "b", "c"], lambda *args: seen.append(args))

    sink(_event("runner_on_ok", "a", task="Measure", res={"changed": False}))
    sink(_event("runner_on_ok", "a", task="Judge", res=_checks("ok", "fail")))
    sink(_event("runner_on_unreachable", "b", res={"msg": "ssh: connect refused"}))
    assert not sink.stats_seen
    sink(_event("playbook_on_stats", ""))
    assert sink.stats_seen
    sink.close()

    assert _stored(store, "r") == [
        ("a", "linux.check0", "ok"),
        ("a", "linux.check1", "fail"),
        ("b", UNREACHABLE_CHECK, "unreachable"),
        ("c", NO_RESULT_CHECK, "error"),
    ]
    assert seen == [(1, 3, "a", "ok"), (2, 3, "b", "unreachable")]
    assert sink.outcomes["b"] == ("unreachable", "ssh: connect refused")
    assert sink.outcomes["c"][0] == "failed"
    assert sink.counts == {"ok": 1, "fail": 1, "unreachable": 1, "error": 1}


def test_sink_ignores_failures_that_the_play_ignores(store: Store) -> None:
    store.start_run("r", "inspect", "p", "manual", "t", "inv", None, ["a"])
    sink = EventSink(store, "r", ["a"], None)
    sink(_event("runner_on_failed", "a", task="t", ignore_errors=True, res={"msg": "x"}))
    sink(_event("runner_on_failed", "a", task="Probe", res={"msg": "no python"}))
    sink.close()
    assert _stored(store, "r") == [("a", NO_RESULT_CHECK, "error")]
    assert sink.outcomes["a"] == ("failed", "task 'Probe' failed: no python")


def test_sink_flushes_in_batches(store: Store) -> None:
    store.start_run("r", "inspect", "p", "manual", "t", "inv", None, ["a", "b"])
    sink = EventSink(store, "r", ["a", "b"], None, batch_size=3, flush_seconds=3600)
    sink(_event("runner_on_ok", "a", res=_checks("ok", "ok")))
    assert _stored(store, "r") == []
    sink(_event("runner_on_ok", "b", res=_checks("ok", "warn")))
    assert len(_stored(store, "r")) == 4


def test_a_real_run_keeps_secret_variables_out_of_its_artifacts(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ansible-runner writes the run's environment to its artifacts; secrets must not be."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  hosts:\n    local:\n      ansible_connection: local\n"
        "      ansible_python_interpreter: '{{ ansible_playbook_python }}'\n"
    )
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - opskeeper_check: {id: demo.check, value: 1, warn: 5}\n"
    )
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2-smtp")
    monkeypatch.setenv("OPSKEEPER_DB_URL", "postgresql://u:hunter2-db@127.0.0.1/x")
    monkeypatch.setenv("VAULT_PASSWORD_FILE", "/keep/this/path")
    spec = JobSpec("inspect", playbook, inventory, "all")

    result = run_job(store, spec, prepare(spec))

    assert result.status == "finished" and result.counts == {"ok": 1}
    artifacts = "".join(
        path.read_text(errors="replace")
        for path in result.private_data_dir.rglob("*")
        if path.is_file()
    )
    assert "hunter2" not in artifacts
    assert "/keep/this/path" in artifacts
    assert os.environ["SMTP_PASSWORD"] == "hunter2-smtp"
    with store.session() as session:
        assert session.scalar(select(Run.playbook)) == str(playbook.resolve())


def _local_job(tmp_path: Path, **spec: Any) -> JobSpec:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  hosts:\n    local:\n      ansible_connection: local\n"
        "      ansible_python_interpreter: '{{ ansible_playbook_python }}'\n"
    )
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - opskeeper_check: {id: demo.check, value: 1, warn: 5}\n"
    )
    return JobSpec("inspect", playbook, inventory, "all", **spec)


def test_a_job_runs_with_the_ansible_cfg_of_its_spec(store: Store, tmp_path: Path) -> None:
    own = tmp_path / "own.cfg"
    own.write_text(
        "[defaults]\naction_plugins = " + str(Path(__file__).parents[2] / "plugins/action") + "\n"
    )
    spec = _local_job(tmp_path, ansible_config=own)

    result = run_job(store, spec, prepare(spec))

    assert result.status == "finished" and result.counts == {"ok": 1}
    assert result.events >= 6
    envvars = json.loads((result.private_data_dir / "env" / "envvars").read_text())
    assert envvars["ANSIBLE_CONFIG"] == str(own)
    # ansible-runner would turn host key checking off; the config says nothing, so it is on.
    assert envvars["ANSIBLE_HOST_KEY_CHECKING"] == "True"


def test_host_key_checking_follows_the_environment_then_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANSIBLE_HOST_KEY_CHECKING", raising=False)
    off = tmp_path / "off.cfg"
    off.write_text("[defaults]\nhost_key_checking = False\n")
    assert host_key_checking(off) == "False"
    assert host_key_checking(tmp_path / "missing.cfg") == "True"
    assert host_key_checking(Path(__file__).parents[2] / "ansible.cfg") == "True"
    monkeypatch.setenv("ANSIBLE_HOST_KEY_CHECKING", "no")
    assert host_key_checking(off) == "no"


@pytest.mark.parametrize("strategy", [None, "linear"])
def test_the_linear_strategy_changes_nothing(
    strategy: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(STRATEGY_ENV, raising=False)
    assert strategy_settings(strategy) == {}


def test_an_unknown_strategy_is_refused_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STRATEGY_ENV, "free")
    with pytest.raises(RunError, match=r"OPSKEEPER_STRATEGY='free' .* use one of: linear, mitogen"):
        prepare(_local_job(tmp_path))


def test_mitogen_without_the_package_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ansible_mitogen", None)
    with pytest.raises(RunError, match=r"pip install 'mitogen>=0\.3\.54,<0\.4'"):
        strategy_settings("mitogen")


def test_mitogen_is_opt_in_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ansible_mitogen")
    monkeypatch.setenv(STRATEGY_ENV, "mitogen")
    settings = strategy_settings(None)
    assert settings["ANSIBLE_STRATEGY"] == "mitogen_linear"
    assert (Path(settings["ANSIBLE_STRATEGY_PLUGINS"]) / "mitogen_linear.py").is_file()
