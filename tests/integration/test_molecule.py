"""The molecule scenarios of the roles, run as part of the suite (each on a lab host)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner import config

ROLES = config.REPO_ROOT / "roles"
SCENARIOS = sorted(path.parent.parent.parent for path in ROLES.glob("*/molecule/*/molecule.yml"))


@pytest.mark.parametrize("role", SCENARIOS, ids=[path.name for path in SCENARIOS])
def test_molecule_scenario_passes(role: Path) -> None:
    bindir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_ROLES_PATH": str(ROLES),
        "ANSIBLE_NOCOLOR": "1",
        "PY_COLORS": "0",
    }
    result = subprocess.run(
        [f"{bindir}/molecule", "test"],
        cwd=role,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "idempotence" in (result.stdout + result.stderr).lower()
