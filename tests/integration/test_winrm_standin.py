"""WinRM transport against a WS-Management STAND-IN (tests/standins/winrm_server.py), not Windows.

No Windows host can run here. The stand-in speaks the SOAP of the Windows remote shell over
HTTP, with basic authentication or with NTLM and WinRM message encryption (pyspnego's NTLM
acceptor, not Windows' own), and answers with canned output, so these tests cover: pywinrm
0.5's shell life cycle (Create, Command, Receive, Signal, Delete) with both, rejected
credentials with both, Ansible's winrm connection plugin with ``raw`` and with a module over
both (the stand-in returns the module's recorded result; no PowerShell runs), and role
inspect_windows end to end through playbooks/inspect.yml with recorded probe and Windows
Update results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import winrm
from winrm.exceptions import InvalidCredentialsError

from tests.standins.winrm_server import WinRMStandIn

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "unit" / "windows" / "data"
USER, PASSWORD = "opskeeper", "stand-in-password"
NTLM_USER = f"CORP\\{USER}"
ENCRYPTED = (
    'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted"'
    ';boundary="Encrypted Boundary"'
)
IPCONFIG = (
    "\r\nWindows IP Configuration\r\n\r\n   Host Name . . . . . . . . . . . . : PC-0101\r\n"
    "   Primary Dns Suffix  . . . . . . . : corp.example\r\n"
)


def module_result(name: str) -> Any:
    """A recorded module result from the unit tests' data: what the stand-in prints."""
    return json.loads((DATA / name).read_text())


@pytest.fixture
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WinRMStandIn]:
    # pyspnego's NTLM acceptor reads the accounts it accepts only from this file.
    users = tmp_path / "standin" / "ntlm-users"
    users.parent.mkdir()
    users.write_text(f"CORP:{USER}:{PASSWORD}\n")
    users.chmod(0o600)
    monkeypatch.setenv("NTLM_USER_FILE", str(users))

    modules = {
        "ansible.windows.win_powershell": module_result("probe_faults.json"),
        # What win_updates' module says to its action plugin: "start", then one "poll".
        "ansible.windows.win_updates": module_result("updates_wire_two_pending.json"),
        "ansible.windows.win_command": {
            "changed": True,
            "rc": 0,
            "cmd": "hostname",
            "stdout": "PC-0101\r\n",
            "stderr": "",
        },
    }
    commands = {"ipconfig /all": (IPCONFIG, "", 0)}
    with WinRMStandIn(USER, PASSWORD, commands=commands, modules=modules) as server:
        yield server


def test_pywinrm_runs_a_command_through_the_whole_shell_life_cycle(
    standin: WinRMStandIn,
) -> None:
    session = winrm.Session(standin.endpoint, auth=(USER, PASSWORD), transport="basic")

    result = session.run_cmd("ipconfig", ["/all"])

    assert (result.status_code, result.std_out, result.std_err) == (0, IPCONFIG.encode(), b"")
    shell = standin.requests[1][1]
    assert standin.requests == [
        ("create", ""),
        ("command", shell),
        ("receive", shell),
        ("signal", shell),
        ("delete", shell),
    ]
    assert standin.shells == {}


def test_pywinrm_gets_stderr_and_exit_code(standin: WinRMStandIn) -> None:
    session = winrm.Session(standin.endpoint, auth=(USER, PASSWORD), transport="basic")

    result = session.run_cmd("format", ["C:"])

    assert result.status_code == 1
    assert b"no canned output for 'format C:'" in result.std_err


def test_wrong_credentials_are_a_clear_auth_error(standin: WinRMStandIn) -> None:
    session = winrm.Session(standin.endpoint, auth=(USER, "wrong"), transport="basic")

    with pytest.raises(InvalidCredentialsError, match="credentials were rejected"):
        session.run_cmd("ipconfig", ["/all"])
    assert standin.requests == [("unauthorized", "")]


def test_pywinrm_runs_a_command_over_ntlm_with_message_encryption(standin: WinRMStandIn) -> None:
    session = winrm.Session(standin.endpoint, auth=(NTLM_USER, PASSWORD), transport="ntlm")

    result = session.run_cmd("ipconfig", ["/all"])

    assert (result.status_code, result.std_out, result.std_err) == (0, IPCONFIG.encode(), b"")
    shell = standin.requests[3][1]
    assert standin.requests == [
        ("unauthorized", ""),
        ("challenge", ""),
        ("create", ""),
        ("command", shell),
        ("receive", shell),
        ("signal", shell),
        ("delete", shell),
    ]
    assert standin.ntlm_users == [NTLM_USER]
    # Every envelope went sealed: the stand-in only unseals what arrives encrypted.
    assert standin.content_types == [ENCRYPTED] * 5


def test_wrong_ntlm_password_is_a_clear_auth_error(standin: WinRMStandIn) -> None:
    session = winrm.Session(standin.endpoint, auth=(NTLM_USER, "wrong"), transport="ntlm")

    with pytest.raises(InvalidCredentialsError, match="credentials were rejected"):
        session.run_cmd("ipconfig", ["/all"])
    assert standin.requests == [("unauthorized", ""), ("challenge", ""), ("unauthorized", "")]
    assert standin.ntlm_users == []
    assert standin.content_types == []


def write_inventory(
    tmp_path: Path, standin: WinRMStandIn, password: str, transport: str = "basic"
) -> Path:
    """An inventory with pc-0102 behind the stand-in, over basic or NTLM authentication."""
    inventory = tmp_path / "hosts.yml"
    host = {
        "ansible_host": "127.0.0.1",
        "ansible_port": standin.port,
        "ansible_connection": "ansible.builtin.winrm",
        "ansible_winrm_transport": transport,
        "ansible_winrm_scheme": "http",
        "ansible_user": NTLM_USER if transport == "ntlm" else USER,
        "ansible_password": password,
        # What docs/WINDOWS.md tells real inventories: auto, which encrypts over HTTP.
        **({"ansible_winrm_message_encryption": "auto"} if transport == "ntlm" else {}),
        "inspect_windows_required_services": ["Spooler", "WinDefend"],
        "inspect_windows_admins_expected": ["Administrator", "CORP\\Domain Admins"],
    }
    inventory.write_text(
        json.dumps({"all": {"children": {"windows": {"hosts": {"pc-0102": host}}}}})
    )
    return inventory


def ansible_env(tmp_path: Path) -> dict[str, str]:
    return dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
        ANSIBLE_NOCOLOR="1",
    )


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
@pytest.mark.parametrize(
    ("module", "argument", "output"),
    [
        ("raw", "ipconfig /all", "Host Name . . . . . . . . . . . . : PC-0101"),
        ("ansible.windows.win_command", "hostname", "PC-0101"),
    ],
)
def test_ansible_reaches_the_standin_over_winrm(
    standin: WinRMStandIn,
    tmp_path: Path,
    module: str,
    argument: str,
    output: str,
    transport: str,
) -> None:
    inventory = write_inventory(tmp_path, standin, PASSWORD, transport)

    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible"),
            "-i",
            str(inventory),
            "pc-0102",
            "-m",
            module,
            "-a",
            argument,
        ],
        capture_output=True,
        text=True,
        env=ansible_env(tmp_path),
        cwd=REPO,
        timeout=120,
        check=False,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    assert output in run.stdout
    assert ("delete", standin.requests[-1][1]) == standin.requests[-1]
    if transport == "ntlm":
        # auto encrypts over HTTP: nothing reached the stand-in in clear.
        assert standin.ntlm_users and set(standin.ntlm_users) == {NTLM_USER}
        assert set(standin.content_types) == {ENCRYPTED}
    else:
        assert set(standin.content_types) == {"application/soap+xml;charset=UTF-8"}


def run_inspect(tmp_path: Path, inventory: Path, *extra: str) -> dict[str, dict[str, Any]]:
    """Run playbooks/inspect.yml on the stand-in; the judged rows by 'check_id subject'."""
    env = ansible_env(tmp_path) | {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"}
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(inventory),
            str(REPO / "playbooks" / "inspect.yml"),
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    output = json.loads(run.stdout)
    rows: dict[str, dict[str, Any]] = {}
    for play in output["plays"]:
        for task in play["tasks"]:
            result = task["hosts"].get("pc-0102", {})
            for row in result.get("opskeeper_checks", []):
                rows[f"{row['check_id']} {row['subject']}"] = row
    return rows


@pytest.mark.parametrize(
    ("check_mode", "transport"), [(False, "basic"), (True, "basic"), (False, "ntlm")]
)
def test_role_judges_recorded_results_through_winrm(
    standin: WinRMStandIn, tmp_path: Path, check_mode: bool, transport: str
) -> None:
    inventory = write_inventory(tmp_path, standin, PASSWORD, transport)

    rows = run_inspect(tmp_path, inventory, *(["--check"] if check_mode else []))

    statuses = {key: row["status"] for key, row in rows.items()}
    assert statuses == {
        "windows.disk.usage C:": "ok",
        "windows.disk.usage D:": "fail",
        "windows.memory.usage memory": "fail",
        "windows.service.required Spooler": "fail",
        "windows.service.required WinDefend": "ok",
        "windows.updates.pending windows-update": "warn",
        "windows.firewall.enabled Domain": "ok",
        "windows.firewall.enabled Private": "ok",
        "windows.firewall.enabled Public": "fail",
        "windows.defender.realtime defender": "fail",
        "windows.defender.signature_age defender": "fail",
        "windows.uptime os": "fail",
        "windows.admins.unexpected Administrators": "fail",
    }
    # The probe once, then win_updates (its action plugin starts, polls and ends its task).
    assert standin.module_runs[0] == "ansible.windows.win_powershell"
    assert set(standin.module_runs[1:]) == {"ansible.windows.win_updates"}
    if transport == "ntlm":
        assert set(standin.content_types) == {ENCRYPTED}


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_role_turns_rejected_credentials_into_an_error_row(
    standin: WinRMStandIn, tmp_path: Path, transport: str
) -> None:
    inventory = write_inventory(tmp_path, standin, "wrong-password", transport)

    rows = run_inspect(tmp_path, inventory)

    assert list(rows) == ["windows.probe host"]
    assert rows["windows.probe host"]["status"] == "error"
    assert rows["windows.probe host"]["message"].endswith(
        f"{transport}: the specified credentials were rejected by the server"
    )
    assert "command" not in [kind for kind, _ in standin.requests]


def test_opskeeper_inspect_records_pcs_and_a_rejected_login(
    standin: WinRMStandIn, tmp_path: Path
) -> None:
    """The whole nightly path: runner, events, store and report, one good PC and one bad login."""
    inventory = write_inventory(tmp_path, standin, PASSWORD)
    hosts = json.loads(inventory.read_text())["all"]["children"]["windows"]["hosts"]
    hosts["pc-0103"] = hosts["pc-0102"] | {"ansible_password": "wrong-password"}
    inventory.write_text(json.dumps({"all": {"children": {"windows": {"hosts": hosts}}}}))
    env = ansible_env(tmp_path) | {
        "OPSKEEPER_STATE_DIR": str(tmp_path / "state"),
        "OPSKEEPER_DB_URL": f"sqlite:///{tmp_path}/opskeeper.db",
    }

    run = subprocess.run(
        [str(Path(sys.executable).parent / "opskeeper"), "inspect", "-i", str(inventory)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
        check=False,
    )

    assert run.returncode == 5, run.stdout + run.stderr  # failures and an unreachable host
    (report,) = (tmp_path / "state" / "reports").glob("daily-*.json")
    by_host = {host["name"]: host for host in json.loads(report.read_text())["hosts"]}
    good = {
        (row["check_id"], row["subject"]): row["status"] for row in by_host["pc-0102"]["checks"]
    }
    assert good[("windows.disk.usage", "D:")] == "fail"
    assert good[("windows.admins.unexpected", "Administrators")] == "fail"
    assert len(good) == 13
    bad = {(row["check_id"], row["status"]): row["message"] for row in by_host["pc-0103"]["checks"]}
    assert "credentials were rejected" in bad[("host.reachable", "unreachable")]
    assert "credentials were rejected" in bad[("windows.probe", "error")]
    assert by_host["pc-0103"]["platform"] == "windows"


def test_role_turns_a_pc_that_does_not_answer_into_an_error_row(tmp_path: Path) -> None:
    with WinRMStandIn(USER, PASSWORD) as gone:
        inventory = write_inventory(tmp_path, gone, PASSWORD)
    # The stand-in has stopped: nothing listens on its port any more.

    rows = run_inspect(tmp_path, inventory)

    assert list(rows) == ["windows.probe host"]
    assert rows["windows.probe host"]["status"] == "error"
    assert "Connection refused" in rows["windows.probe host"]["message"]
