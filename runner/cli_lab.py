"""``opskeeper lab``: start, stop and look at the built-in lab (runner/lab.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from runner.errors import LabError
from runner.lab import DEFAULT_SERVERS, MAX_SERVERS, SSH_PORT, Lab, LabHostState

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

T = TypeVar("T")


def _run(action: Callable[[], T]) -> T:
    """Run a lab action; turn LabError into one red line and exit code 1."""
    try:
        return action()
    except LabError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise SystemExit(1) from None


def _progress(line: str) -> None:
    console.print(escape(line))


def _table(states: list[LabHostState]) -> Table:
    table = Table(title="Lab hosts")
    for column in ("Host", "Address", "Port", "PID", "Running", "SSH"):
        table.add_column(column)
    for state in states:
        table.add_row(
            state.spec.name,
            state.spec.address,
            str(SSH_PORT),
            str(state.pid) if state.pid else "-",
            "[green]yes[/green]" if state.running else "[red]no[/red]",
            "[green]ok[/green]" if state.ssh_ok else "[red]no answer[/red]",
        )
    return table


@click.group("lab")
def lab() -> None:
    """Start, stop and check the built-in lab of Debian hosts (needs root)."""


@lab.command("up")
@click.option(
    "--servers",
    type=click.IntRange(1, MAX_SERVERS),
    default=DEFAULT_SERVERS,
    show_default=True,
    help="How many lab servers to run (lab-srv01..NN on 127.0.10.1..N).",
)
def up(servers: int) -> None:
    """Start lab-srv01..N and wait until each answers on SSH."""
    started = time.monotonic()
    states = _run(lambda: Lab().up(servers, progress=_progress))
    console.print(
        f"{len(states)} lab host(s) answer on SSH port {SSH_PORT} "
        f"({time.monotonic() - started:.1f} s)"
    )


@lab.command("down")
def down() -> None:
    """Stop every lab host; no process or mount is left behind."""
    stopped = _run(lambda: Lab().down())
    if stopped:
        console.print(f"stopped {', '.join(stopped)}")
    else:
        console.print("no lab host was running")


@lab.command("status")
def status() -> None:
    """Show which lab hosts run and which answer on SSH."""
    states = _run(lambda: Lab().status())
    if not states:
        console.print("no lab host is running: start the lab with `opskeeper lab up`")
        return
    console.print(_table(states))
    switches = Lab().switch_status()
    if switches:
        table = Table(title="Lab switches (simulated Cisco IOS; configuration in memory only)")
        for column in ("Switch", "Address", "Port", "PID", "SSH"):
            table.add_column(column)
        for sw in switches:
            ssh = "[green]ok[/green]" if sw.ssh_ok else "[red]no answer[/red]"
            table.add_row(sw.spec.name, sw.spec.address, str(sw.spec.port), str(sw.pid or "-"), ssh)
        console.print(table)


@lab.command("host-up")
@click.argument("name")
@click.option(
    "--index",
    type=click.IntRange(1, 254),
    required=True,
    help="N in the host's address 127.0.10.N.",
)
def host_up(name: str, index: int) -> None:
    """Start one lab host NAME on 127.0.10.N (a no-op if it runs)."""
    state = _run(lambda: Lab().start_host(name, index))
    console.print(f"{state.spec.name} up on {state.spec.address}:{SSH_PORT}")


@lab.command("host-down")
@click.argument("name")
def host_down(name: str) -> None:
    """Stop one lab host NAME and discard its changes."""
    _run(lambda: Lab().stop_host(name))
    console.print(f"{name} is down")


if __name__ == "__main__":
    lab()
