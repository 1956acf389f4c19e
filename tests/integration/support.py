"""Helpers shared by the integration tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

OPSKEEPER = str(Path(sys.executable).parent / "opskeeper")


def opskeeper(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the real CLI as a person would, with the test's environment."""
    return subprocess.run(
        [OPSKEEPER, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
