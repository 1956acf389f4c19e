"""Regenerate the golden ``ansible-inventory --list`` output of the example CMDB.

Run from anywhere: ``.venv/bin/python tests/unit/cmdb/regen_golden.py``. Review the diff
of ``golden/example-list.json`` before committing it: it is what the plugin promises.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
GOLDEN = Path(__file__).resolve().parent / "golden" / "example-list.json"
SOURCE = "inventory/example"


def inventory_list() -> dict[str, Any]:
    """The example's inventory as ``ansible-inventory --list`` prints it, from the repo root."""
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_INVENTORY_UNPARSED_FAILED="True",
        ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="True",
        ANSIBLE_NOCOLOR="1",
    )
    binary = Path(sys.executable).parent / "ansible-inventory"
    result = subprocess.run(
        [str(binary), "-i", SOURCE, "--list"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        raise SystemExit(f"ansible-inventory failed ({result.returncode}):\n{result.stderr}")
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def normalise(data: dict[str, Any]) -> dict[str, Any]:
    """Group members and children sorted: their order is Ansible's, not the plugin's."""
    out = dict(data)
    for name, group in data.items():
        if name != "_meta" and isinstance(group, dict):
            out[name] = {key: sorted(value) for key, value in group.items()}
    return out


def render(data: dict[str, Any]) -> str:
    return json.dumps(normalise(data), indent=2, sort_keys=True) + "\n"


def main() -> None:
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(render(inventory_list()), encoding="utf-8")
    print(f"wrote {GOLDEN.relative_to(REPO)}")


if __name__ == "__main__":
    main()
