"""Discovery: which addresses of the CMDB's networks answer, whether recorded or not.

The census only asks the hosts the CMDB already knows, so it can never find a device
nobody recorded. Discovery is a TCP connect sweep of the networks in ``cmdb.yml``
(``discovery.networks``) on a few management ports: an address that accepts a connection
on any of them is a device. It completes the handshake and closes, sending nothing; on an
SSH port it first reads the one banner line the server sends on its own, which names the
software. No raw packets, so no privileges and no scanner are needed.

The sweep is bounded: at most :data:`~runner.cmdb.model.MAX_DISCOVERY_ADDRESSES` addresses
per run, ``concurrency`` connections at once, each given ``timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from runner.cmdb.model import MAX_DISCOVERY_ADDRESSES, Discovery
from runner.errors import CmdbError

log = logging.getLogger(__name__)

#: Ports whose server speaks first with one identification line ("SSH-2.0-OpenSSH_9.2").
BANNER_PORTS = frozenset({22, 2222})

#: Longest banner kept: RFC 4253 allows 255 characters.
BANNER_LENGTH = 255

#: Longest wait for a banner, whatever the connect timeout: servers send it at once.
BANNER_TIMEOUT = 2.0


@dataclass(frozen=True)
class Answer:
    """An address that accepted a connection: its open ports and, from SSH, its banner."""

    address: str
    ports: tuple[int, ...]
    banner: str | None = None


def addresses(networks: Iterable[str]) -> list[str]:
    """The addresses a sweep of ``networks`` connects to, in order and each once.

    A network's own address and its broadcast address are left out (``hosts()``); a /32,
    /31 or single address is swept as it is. Raises :class:`CmdbError` beyond the cap.
    """
    found: dict[str, None] = {}
    total = 0
    for text in networks:
        network = ipaddress.ip_network(text, strict=False)
        total += network.num_addresses
        if total > MAX_DISCOVERY_ADDRESSES:
            raise CmdbError(
                f"discovery: the networks {', '.join(networks)} hold more than "
                f"{MAX_DISCOVERY_ADDRESSES} addresses, the most one sweep may cover; "
                "list fewer or smaller networks in discovery.networks of cmdb.yml"
            )
        for host in network.hosts():
            found.setdefault(str(host), None)
    return list(found)


async def _connect(
    address: str, port: int, timeout: float, slots: asyncio.Semaphore
) -> tuple[bool, str | None]:
    async with slots:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
        except (OSError, TimeoutError):
            return False, None
        banner = None
        try:
            if port in BANNER_PORTS:
                with contextlib.suppress(OSError, TimeoutError, ValueError):
                    line = await asyncio.wait_for(reader.readline(), min(timeout, BANNER_TIMEOUT))
                    text = line.decode("ascii", "replace").strip()[:BANNER_LENGTH]
                    banner = text or None
        finally:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), timeout)
        return True, banner


async def _sweep(
    targets: Sequence[str], ports: Sequence[int], timeout: float, concurrency: int
) -> list[Answer]:
    slots = asyncio.Semaphore(concurrency)
    pairs = [(address, port) for address in targets for port in ports]
    outcomes = await asyncio.gather(
        *(_connect(address, port, timeout, slots) for address, port in pairs)
    )
    open_ports: dict[str, list[int]] = {}
    banners: dict[str, str] = {}
    for (address, port), (is_open, banner) in zip(pairs, outcomes, strict=True):
        if not is_open:
            continue
        open_ports.setdefault(address, []).append(port)
        if banner is not None:
            banners.setdefault(address, banner)
    return [
        Answer(address, tuple(sorted(found)), banners.get(address))
        for address, found in open_ports.items()
    ]


def sweep(
    networks: Sequence[str],
    ports: Sequence[int],
    timeout: float = 1.0,
    concurrency: int = 64,
) -> list[Answer]:
    """Connect to every address of ``networks`` on every port; return those that answered.

    A refused connection, a timeout or any other socket error means "not open". Raises
    :class:`CmdbError` when the networks hold more addresses than one sweep may cover.
    """
    targets = addresses(networks)
    wanted = sorted(set(ports))
    log.info(
        "discovery: %d addresses, ports %s, %d at once",
        len(targets),
        ", ".join(map(str, wanted)),
        concurrency,
    )
    answers = asyncio.run(_sweep(targets, wanted, timeout, max(1, concurrency)))
    log.info("discovery: %d addresses answered", len(answers))
    return answers


def run(discovery: Discovery) -> list[Answer]:
    """The sweep that a CMDB's ``discovery`` settings describe."""
    return sweep(discovery.networks, discovery.ports, discovery.timeout, discovery.concurrency)
