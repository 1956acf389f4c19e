"""The lab's pure parts: apt sources, mirrors, host specs, inventory files, sudo hand-over."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from runner import config, lab
from runner.errors import LabError
from runner.lab import (
    AptSource,
    Lab,
    debian_mirrors,
    host_spec,
    parse_deb822_sources,
    parse_one_line_sources,
    read_apt_sources,
    render_server_inventory,
    server_spec,
    write_server_inventory,
)

REPO_INVENTORY = config.REPO_ROOT / "inventory" / "lab"

# One-line format: text, then (types, uris, suites, components) of each entry.
ONE_LINE_CASES = [
    pytest.param(
        "deb http://deb.debian.org/debian bookworm main contrib\n",
        [(("deb",), ("http://deb.debian.org/debian",), ("bookworm",), ("main", "contrib"))],
        id="plain",
    ),
    pytest.param(
        "deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://m.example/debian bookworm "
        "main",
        [(("deb",), ("http://m.example/debian",), ("bookworm",), ("main",))],
        id="options",
    ),
    pytest.param(
        "deb [ arch=amd64 ] http://m.example/debian bookworm-updates main\n",
        [(("deb",), ("http://m.example/debian",), ("bookworm-updates",), ("main",))],
        id="spaced-options",
    ),
    pytest.param(
        "# deb http://old.example/debian bookworm main\n\n"
        "deb-src http://m.example/debian bookworm main\n"
        "deb http://m.example/debian-security bookworm-security main # security\n",
        [
            (("deb-src",), ("http://m.example/debian",), ("bookworm",), ("main",)),
            (("deb",), ("http://m.example/debian-security",), ("bookworm-security",), ("main",)),
        ],
        id="comments-and-deb-src",
    ),
    pytest.param("deb http://m.example/debian\nrubbish\n", [], id="incomplete"),
]

# deb822 format: text, then (types, uris, suites, components) of each entry.
DEB822_CASES = [
    pytest.param(
        "Types: deb\n"
        "# http://snapshot.debian.org/archive/debian/20250520T000000Z\n"
        "URIs: http://deb.debian.org/debian\n"
        "Suites: bookworm bookworm-updates\n"
        "Components: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
        "\n"
        "Types: deb\n"
        "URIs: http://deb.debian.org/debian-security\n"
        "Suites: bookworm-security\n"
        "Components: main\n",
        [
            (
                ("deb",),
                ("http://deb.debian.org/debian",),
                ("bookworm", "bookworm-updates"),
                ("main",),
            ),
            (
                ("deb",),
                ("http://deb.debian.org/debian-security",),
                ("bookworm-security",),
                ("main",),
            ),
        ],
        id="debian-default",
    ),
    pytest.param(
        "types: deb deb-src\nuris: http://a.example/debian\n http://b.example/debian\n"
        "suites: bookworm\ncomponents: main non-free-firmware\n",
        [
            (
                ("deb", "deb-src"),
                ("http://a.example/debian", "http://b.example/debian"),
                ("bookworm",),
                ("main", "non-free-firmware"),
            )
        ],
        id="lowercase-keys-and-continuation",
    ),
    pytest.param(
        "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nComponents: main\n"
        "Enabled: no\n\n  \n"
        "Types: deb\nURIs: https://on.example/debian\nSuites: bookworm\nComponents: main\n",
        [(("deb",), ("https://on.example/debian",), ("bookworm",), ("main",))],
        id="disabled-paragraph",
    ),
    pytest.param("Types: deb\nSuites: bookworm\n", [], id="no-uris"),
]

# Mirror choice: sources, then the expected (mirror, security mirror).
MIRROR_CASES = [
    pytest.param(
        [
            ("deb", "https://download.docker.example/linux/debian", "bookworm", "stable"),
            ("deb", "http://packages.example/apt", "cloud-sdk-bookworm", "main"),
            ("deb-src", "http://src.example/debian", "bookworm", "main"),
            ("deb", "http://m.example/debian/", "bookworm", "main"),
            ("deb", "http://second.example/debian", "bookworm", "main"),
            ("deb", "http://m.example/debian-security", "bookworm-security", "main"),
        ],
        ("http://m.example/debian", "http://m.example/debian-security"),
        id="skips-third-party-and-deb-src",
    ),
    pytest.param(
        [
            ("deb", "cdrom:[Debian GNU/Linux 12]/", "bookworm", "main"),
            ("deb", "http://m.example/debian", "bookworm", "main"),
        ],
        ("http://m.example/debian", None),
        id="no-security-mirror",
    ),
    pytest.param(
        [
            ("deb", "http://m.example/debian", "bookworm-security", "main"),
            ("deb", "http://m.example/debian", "bookworm", "main"),
        ],
        ("http://m.example/debian", "http://m.example/debian"),
        id="security-first",
    ),
]


def _entries(sources: list[AptSource]) -> list[tuple[tuple[str, ...], ...]]:
    return [(s.types, s.uris, s.suites, s.components) for s in sources]


@pytest.mark.parametrize(("text", "expected"), ONE_LINE_CASES)
def test_one_line_sources(text: str, expected: list[tuple[tuple[str, ...], ...]]) -> None:
    assert _entries(parse_one_line_sources(text)) == expected


@pytest.mark.parametrize(("text", "expected"), DEB822_CASES)
def test_deb822_sources(text: str, expected: list[tuple[tuple[str, ...], ...]]) -> None:
    assert _entries(parse_deb822_sources(text)) == expected


@pytest.mark.parametrize(("rows", "expected"), MIRROR_CASES)
def test_debian_mirrors(rows: list[tuple[str, str, str, str]], expected: tuple[str, str]) -> None:
    sources = [AptSource((t,), (u,), (s,), (c,), "test") for t, u, s, c in rows]
    assert debian_mirrors(sources) == expected


def test_no_debian_mirror_is_a_lab_error() -> None:
    sources = [AptSource(("deb",), ("http://m.example/debian",), ("trixie",), ("main",), "t")]
    with pytest.raises(LabError, match="no Debian bookworm mirror"):
        debian_mirrors(sources)


def test_read_apt_sources_reads_both_formats_in_order(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text("deb http://first.example/debian bookworm main\n")
    (tmp_path / "sources.list.d" / "b.sources").write_text(
        "Types: deb\nURIs: http://third.example/debian\nSuites: bookworm\nComponents: main\n"
    )
    (tmp_path / "sources.list.d" / "a.list").write_text(
        "deb http://second.example/debian bookworm main\n"
    )
    (tmp_path / "sources.list.d" / "c.list.disabled").write_text(
        "deb http://ignored.example/debian bookworm main\n"
    )
    uris = [source.uris[0] for source in read_apt_sources(tmp_path)]
    assert uris == [
        "http://first.example/debian",
        "http://second.example/debian",
        "http://third.example/debian",
    ]


def test_read_apt_sources_without_sources_list(tmp_path: Path) -> None:
    assert read_apt_sources(tmp_path) == []


def test_server_specs_differ_in_data_size_and_fill() -> None:
    specs = [server_spec(i) for i in (1, 2, 3)]
    assert [s.name for s in specs] == ["lab-srv01", "lab-srv02", "lab-srv03"]
    assert [s.address for s in specs] == ["127.0.10.1", "127.0.10.2", "127.0.10.3"]
    assert len({s.data_mb for s in specs}) == 3
    assert len({round(100 * s.fill_mb / s.data_mb) for s in specs}) == 3
    assert all(0 < s.fill_mb < 0.6 * s.data_mb for s in map(server_spec, range(1, 201)))
    assert server_spec(120).name == "lab-srv120"


@pytest.mark.parametrize(
    ("name", "index", "message"),
    [
        ("Lab_Srv", 1, "not a valid host name"),
        ("-lead", 1, "not a valid host name"),
        ("../etc", 1, "not a valid host name"),
        ("ok", 0, "out of range"),
        ("ok", 255, "out of range"),
    ],
)
def test_bad_host_specs(name: str, index: int, message: str) -> None:
    with pytest.raises(LabError, match=message):
        host_spec(name, index)


def test_generated_inventory_holds_servers_beyond_three(tmp_path: Path) -> None:
    path = write_server_inventory(tmp_path, 5)
    assert path == tmp_path / "assets" / "generated-servers.yml"
    records = yaml.safe_load(path.read_text())["assets"]
    assert [(r["name"], r["tag"], r["management_address"]) for r in records] == [
        ("lab-srv04", "LAB-0104", "127.0.10.4"),
        ("lab-srv05", "LAB-0105", "127.0.10.5"),
    ]
    assert {r["runs_on"] for r in records} == {"control-node"}
    assert render_server_inventory(5).startswith("# Written by `opskeeper lab up --servers 5`")


@pytest.mark.parametrize("servers", [1, 3])
def test_generated_inventory_is_removed_for_three_or_fewer(tmp_path: Path, servers: int) -> None:
    write_server_inventory(tmp_path, 7)
    assert write_server_inventory(tmp_path, servers) is None
    assert not (tmp_path / "assets" / "generated-servers.yml").exists()


def _ansible_inventory(inventory: Path, state: Path) -> dict[str, object]:
    binary = Path(sys.executable).parent / "ansible-inventory"
    env = {**os.environ, config.STATE_DIR_ENV: str(state)}
    done = subprocess.run(
        [str(binary), "-i", str(inventory), "--list", "--export"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=config.REPO_ROOT,
    )
    return dict(json.loads(done.stdout))


def test_lab_inventory_with_generated_servers(tmp_path: Path, state: Path) -> None:
    inventory = tmp_path / "inventory"
    shutil.copytree(REPO_INVENTORY, inventory, ignore=shutil.ignore_patterns("generated-*"))
    write_server_inventory(inventory, 5)

    tree = _ansible_inventory(inventory, state)

    linux = tree["linux"]
    assert isinstance(linux, dict)
    assert sorted(linux["hosts"]) == ["control-node", *(f"lab-srv0{i}" for i in range(1, 6))]
    lab_servers = tree["lab_servers"]
    assert isinstance(lab_servers, dict)
    assert sorted(lab_servers["hosts"]) == [f"lab-srv0{i}" for i in range(1, 6)]
    assert tree["controller"] == {"hosts": ["control-node"]}


MSG = (
    "{{ ansible_ssh_private_key_file }} {{ ansible_ssh_common_args }} "
    "{{ ansible_user }}:{{ ansible_port }} {{ inspect_linux_time_sync_status }}"
)


def test_lab_inventory_variables_follow_the_state_folder(state: Path) -> None:
    binary = Path(sys.executable).parent / "ansible"
    env = {**os.environ, config.STATE_DIR_ENV: str(state)}
    done = subprocess.run(
        [
            str(binary),
            "-i",
            str(REPO_INVENTORY),
            "lab-srv02",
            "-m",
            "ansible.builtin.debug",
            "-a",
            json.dumps({"msg": MSG}),
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=config.REPO_ROOT,
    )
    assert f"{state}/lab/ssh/id_ed25519" in done.stdout
    assert f'UserKnownHostsFile=\\"{state}/lab/ssh/known_hosts\\"' in done.stdout
    assert "StrictHostKeyChecking=yes" in done.stdout
    assert "root:2222 warn" in done.stdout


def test_require_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lab.os, "geteuid", lambda: 1000)
    with pytest.raises(LabError, match=r"sudo \.venv/bin/opskeeper lab up"):
        lab.require_root()
    with pytest.raises(LabError, match="the lab needs root"):
        Lab().down()


def test_status_of_an_empty_lab(state: Path) -> None:
    assert Lab().status() == []


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_key_and_known_hosts_go_to_the_sudo_user(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUDO_UID", "4321")
    monkeypatch.setenv("SUDO_GID", "4322")
    the_lab = Lab()
    the_lab._ensure_client_key()
    the_lab._write_known_hosts()

    for path in (the_lab.ssh_dir, the_lab.ssh_key, the_lab.known_hosts, state):
        assert (path.stat().st_uid, path.stat().st_gid) == (4321, 4322), path
    assert the_lab.ssh_key.stat().st_mode & 0o077 == 0
    assert the_lab.lab_dir.stat().st_mode & 0o755 == 0o755


def test_host_files_and_setup_script(state: Path) -> None:
    the_lab = Lab()
    spec = host_spec("lab-srv02", 2)
    sshd = the_lab._render_sshd(spec)
    assert "ListenAddress 127.0.10.2:2222" in sshd
    assert "PermitRootLogin prohibit-password" in sshd
    setup = the_lab._render_setup(spec)
    assert f"lowerdir={the_lab.base_dir}" in setup
    assert "size=48m lab-data" in setup
    assert f"count={spec.fill_mb} " in setup
    assert setup.rstrip().endswith(
        'exec chroot "$root" /usr/bin/tini -- /usr/local/sbin/opskeeper-lab-init'
    )


# A second lab beside the built-in one (the benchmark's) ---------------------------------


def test_specs_on_another_subnet() -> None:
    spec = host_spec("lab-srv07", 7, subnet="127.0.11")
    assert spec.address == "127.0.11.7"
    assert spec.data_mb == host_spec("lab-srv07", 7).data_mb
    assert server_spec(12, "127.0.11").address == "127.0.11.12"
    assert server_spec(12).address == "127.0.10.12"
    with pytest.raises(LabError, match=r"use 1 to 254 \(127\.0\.11\.N\)"):
        host_spec("ok", 255, subnet="127.0.11")


@pytest.mark.parametrize("subnet", ["127.0.11.", "10.0.11", "127.0", "127.0.256", "127.a.1", ""])
def test_bad_subnets(subnet: str) -> None:
    with pytest.raises(LabError, match="is not a loopback /24"):
        Lab(subnet=subnet)


def test_default_lab_is_unchanged(state: Path) -> None:
    the_lab = Lab()
    assert the_lab.subnet == "127.0.10"
    assert not the_lab.shared_base
    assert the_lab.base_dir == state.resolve() / "lab" / "base"


def test_second_lab_uses_its_own_folders_and_another_base(tmp_path: Path) -> None:
    base = tmp_path / "main" / "lab" / "base"
    second = Lab(tmp_path / "bench", tmp_path / "bench-inventory", subnet="127.0.11", base_dir=base)
    assert second.shared_base
    assert second.base_dir == base.resolve()
    assert second.hosts_dir == (tmp_path / "bench" / "lab" / "hosts").resolve()
    assert second.known_hosts == (tmp_path / "bench" / "lab" / "ssh" / "known_hosts").resolve()

    spec = host_spec("lab-srv02", 2, second.subnet)
    assert "ListenAddress 127.0.11.2:2222" in second._render_sshd(spec)
    setup = second._render_setup(spec)
    assert f"lowerdir={base.resolve()}," in setup
    assert 'upperdir="$host/upper"' in setup
    assert f"host={second.hosts_dir / 'lab-srv02'}" in setup


def test_second_lab_never_builds_the_shared_base(tmp_path: Path) -> None:
    base = tmp_path / "main" / "lab" / "base"
    second = Lab(tmp_path / "bench", tmp_path / "inv", subnet="127.0.11", base_dir=base)
    with pytest.raises(LabError, match=r"shared lab base .* is not built"):
        second._prepare(lambda _line: None)
    assert not base.exists()


def test_generated_inventory_on_another_subnet(tmp_path: Path) -> None:
    path = write_server_inventory(tmp_path, 5, "127.0.11")
    assert path is not None
    records = yaml.safe_load(path.read_text())["assets"]
    assert [r["management_address"] for r in records] == ["127.0.11.4", "127.0.11.5"]
