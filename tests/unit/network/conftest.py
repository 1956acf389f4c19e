"""Shared helpers of the network tests: recorded device outputs and the probe module."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.unit.plugins.conftest import load_plugin

DATA = Path(__file__).parent / "data"
REJECTED = "% Invalid input detected at '^' marker.\n"
#: netmiko's words when ``enable`` leaves the session without the ``#`` prompt.
ENABLE_FAILED = (
    "Failed to enter enable mode. Please ensure you pass the 'secret' argument to ConnectHandler."
)


def probe_params(mode: str, tmp_path: Path, **more: Any) -> dict[str, Any]:
    """The probe's arguments for ``mode``, backups under ``tmp_path``."""
    return {
        "mode": mode,
        "timeout": 5,
        "device": "access-sw01",
        "backup_dir": str(tmp_path / "backups"),
        "username": "ops",
        "enable_secret": "",
        "uplinks": [],
        "link_state": "device",
        **more,
    }


def recorded(name: str) -> str:
    """A recorded device output from data/ (ios_*: real IOS shape; sim_*: fake-switches)."""
    return (DATA / f"{name}.txt").read_text()


@pytest.fixture(scope="session")
def probe() -> ModuleType:
    return load_plugin("plugins/modules/opskeeper_ios_probe.py")


class RecordedDevice:
    """A netmiko connection that answers from recorded outputs and notes what was sent.

    ``level`` is the session's IOS privilege level. As on IOS, the prompt ends in ``#``
    from level 2 up (what ``check_enable_mode`` reads), ``show privilege`` reports the
    level unless ``outputs`` answers that command itself (the simulator answers nothing),
    user mode (levels 0-1) refuses the configuration commands, and ``enable`` raises the
    session to level 15 unless ``enable_fails``.
    """

    def __init__(
        self, outputs: dict[str, str], *, level: int = 15, enable_fails: bool = False
    ) -> None:
        self.outputs = outputs
        self.level = level
        self.enable_fails = enable_fails
        self.sent: list[str] = []

    def send_command(self, command: str, read_timeout: int = 0) -> str:
        self.sent.append(command)
        if self.level < 2 and command in ("show running-config", "show startup-config"):
            return REJECTED
        if command in self.outputs:
            return self.outputs[command]
        if command == "show privilege":
            return f"Current privilege level is {self.level}\n"
        return REJECTED

    def check_enable_mode(self) -> bool:
        return self.level >= 2

    def enable(self, **_: Any) -> str:
        self.sent.append("enable")
        if self.enable_fails:
            # Below level 2 netmiko sees no # prompt and raises; from level 2 up, a refused
            # secret leaves the # prompt, so netmiko returns as if enable had worked.
            if self.level < 2:
                raise ValueError(ENABLE_FAILED)
            return "% Access denied\n"
        self.level = 15
        return ""
