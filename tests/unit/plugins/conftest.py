"""Load Opskeeper's Ansible plugins by file path (``plugins/`` is not a Python package)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[3]
VENV_BIN = Path(sys.executable).parent


def load_plugin(relative: str) -> ModuleType:
    """Import a plugin file as a module named after the file."""
    path = REPO / relative
    name = f"opskeeper_test_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]

    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered before running it: dataclasses look their module up while it loads.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def ansible_env(tmp_path: Path) -> dict[str, str]:
    """Environment for running the repo's Ansible commands as the runner would."""
    return dict(
        os.environ,
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
    )


@pytest.fixture(scope="session")
def target_python() -> str:
    """The host's system Python, as a target would have it (no venv packages)."""
    return shutil.which("python3", path="/usr/bin:/bin") or sys.executable


@pytest.fixture(scope="session")
def check_plugin() -> ModuleType:
    return load_plugin("plugins/action/opskeeper_check.py")


@pytest.fixture(scope="session")
def probe() -> ModuleType:
    return load_plugin("plugins/modules/opskeeper_linux_probe.py")
