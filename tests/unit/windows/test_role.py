"""Role inspect_windows as files: its variables agree, and the inspection playbook parses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from tests.unit.windows.conftest import REPO, ROLE


def load(relative: str) -> Any:
    return yaml.safe_load((ROLE / relative).read_text())


def test_every_default_is_documented_with_the_same_value() -> None:
    defaults = load("defaults/main.yml")
    options = load("meta/argument_specs.yml")["argument_specs"]["main"]["options"]

    assert set(options) == set(defaults)
    for name, value in defaults.items():
        assert name.startswith("inspect_windows_")
        assert options[name].get("default") == value, name


def test_every_check_has_a_threshold(windows: ModuleType) -> None:
    thresholds = load("vars/main.yml")["inspect_windows_thresholds"]

    assert set(thresholds) == set(windows.CHECK_IDS)


def test_the_inspection_playbook_with_the_windows_play_parses(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_LOCAL_TEMP=str(tmp_path),
    )

    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "--syntax-check",
            "-i",
            str(REPO / "inventory" / "example"),
            str(REPO / "playbooks" / "inspect.yml"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )

    assert run.returncode == 0, run.stdout + run.stderr
