"""The benchmark's own lab: N hosts on 127.0.11.N, its inventory, and the faults it plants.

The bench lab is a second :class:`runner.lab.Lab` under ``<state>/bench`` (``var/bench``):
its hosts, keys and lock are its own, and its overlays lie over the built-in lab's Debian
base, which it never writes. So the benchmark can run while someone else uses the built-in
lab on 127.0.10.N.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable
from pathlib import Path

import yaml

from runner.errors import LabError
from runner.fsutil import write_atomic
from runner.lab import SSH_PORT, Lab, server_spec

log = logging.getLogger(__name__)

SUBNET = "127.0.11"
USER = "root"

#: Faults planted on the first hosts, and the verdict both runs must give for each:
#: (host index, check id, subject, status).
PLANTED = (
    (1, "linux.disk.usage", "/srv/data", "fail"),
    (2, "linux.disk.usage", "/srv/data", "warn"),
    (3, "linux.service.required", "cron", "fail"),
    (3, "linux.process.required", "cron", "fail"),
    (4, "linux.cert.expiry", "/etc/ssl/certs/opskeeper/bench.pem", "warn"),
)

#: How full /srv/data is made on hosts 1 and 2 (fail at 90 %, warn at 80 %).
FILL_PERCENT = {1: 95, 2: 85}
CERT_DAYS = 12


def bench_lab(state_dir: Path, base_dir: Path) -> Lab:
    """The bench lab under ``state_dir``, over the base in ``base_dir`` (read only)."""
    return Lab(state_dir, state_dir / "lab-inventory", subnet=SUBNET, base_dir=base_dir)


def host_names(count: int) -> list[str]:
    return [server_spec(index, SUBNET).name for index in range(1, count + 1)]


def planted(count: int) -> list[tuple[str, str, str, str]]:
    """The planted verdicts that exist among ``count`` hosts, with host names."""
    return [
        (server_spec(index, SUBNET).name, check, subject, status)
        for index, check, subject, status in PLANTED
        if index <= count
    ]


def write_inventory(lab: Lab, count: int, path: Path) -> Path:
    """Write a YAML inventory of the first ``count`` bench hosts, group ``linux``.

    Connection settings are inventory variables (what a user passes without an ansible.cfg);
    the ``inspect_linux_*`` variables tell Opskeeper what the lab's hosts run, as the
    built-in lab's group_vars do.
    """
    hosts = {
        spec.name: {"ansible_host": spec.address}
        for spec in (server_spec(index, SUBNET) for index in range(1, count + 1))
    }
    variables = {
        "ansible_user": USER,
        "ansible_port": SSH_PORT,
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_ssh_private_key_file": str(lab.ssh_key),
        "ansible_ssh_common_args": (
            f"-o UserKnownHostsFile={lab.known_hosts} -o StrictHostKeyChecking=yes"
        ),
        "inspect_linux_required_services": ["ssh", "cron"],
        "inspect_linux_required_processes": ["sshd", "cron"],
        "inspect_linux_required_ports": [SSH_PORT],
        "inspect_linux_time_sync_status": "warn",
    }
    tree = {"linux": {"children": {"bench_servers": {"hosts": hosts, "vars": variables}}}}
    header = f"# Written by the benchmark (bench/): {count} bench lab hosts on {SUBNET}.N.\n"
    return write_atomic(path, header + yaml.safe_dump(tree, sort_keys=False))


def warm_apt_caches(lab: Lab, count: int) -> None:
    """Build apt's package cache on every host that has none yet.

    A fresh lab host has the base's package lists but no ``pkgcache.bin``; the first apt
    command builds it (about 1.3 s of CPU). A real server has one from its last
    ``apt-get update``, so the benchmark builds it before any timed run, for every variant
    alike, rather than charge it to whichever run comes first.
    """
    command = ["sh", "-c", "test -s /var/cache/apt/pkgcache.bin || apt-cache stats >/dev/null"]
    names = host_names(count)
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for name, output in zip(
            names, pool.map(lambda n: _must(lab, n, command), names), strict=True
        ):
            log.debug("host %r: apt cache ready %s", name, output)


def _must(lab: Lab, name: str, command: list[str]) -> str:
    done = lab.exec(name, command, timeout=60)
    if done.returncode != 0:
        raise LabError(
            f"bench host {name}: {' '.join(command)!r} failed (exit {done.returncode}): "
            f"{done.stderr.strip() or done.stdout.strip()}"
        )
    return done.stdout


def plant_faults(lab: Lab, count: int, say: Callable[[str], None]) -> None:
    """Make the planted faults true on the first hosts (each step can run again)."""
    for index, percent in FILL_PERCENT.items():
        if index > count:
            continue
        name = server_spec(index, SUBNET).name
        size_mb = int(
            _must(lab, name, ["df", "--output=size", "-BM", "/srv/data"]).split()[-1][:-1]
        )
        # The lab's own ballast stays; the fill file tops it up to the wanted percentage.
        script = (
            "rm -f /srv/data/bench-fill; "
            "used=$(df --output=used -BK /srv/data | tail -1 | tr -dc 0-9); "
            f"want=$(({size_mb} * 1024 * {percent} / 100)); "
            'head -c "$(((want - used) * 1024))" /dev/zero > /srv/data/bench-fill'
        )
        _must(lab, name, ["sh", "-c", script])
        say(f"{name}: /srv/data filled to {percent} %")
    if count >= 3:
        name = server_spec(3, SUBNET).name
        _must(lab, name, ["sh", "-c", "service cron stop >/dev/null; true"])
        say(f"{name}: cron stopped")
    if count >= 4:
        name = server_spec(4, SUBNET).name
        script = (
            "mkdir -p /etc/ssl/certs/opskeeper && "
            "openssl req -x509 -newkey ed25519 -nodes -subj /CN=bench -keyout /root/bench-key.pem "
            f"-days {CERT_DAYS} -out /etc/ssl/certs/opskeeper/bench.pem 2>/dev/null"
        )
        _must(lab, name, ["sh", "-c", script])
        say(f"{name}: a certificate that expires in {CERT_DAYS} days")
