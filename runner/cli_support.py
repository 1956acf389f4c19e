"""Terminal helpers shared by the CLI's command groups: progress, cancelling, the lab check."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from runner import config
from runner.errors import OpskeeperError
from runner.jobs import ProgressCallback

err_console = Console(stderr=True)

C = TypeVar("C", bound=Callable[..., Any])

#: Exit code of any command that a user's mistake or a failed job stopped.
EXIT_ERROR = 1


class OpskeeperGroup(click.Group):
    """Turns every :class:`OpskeeperError` into ``error:`` lines on stderr and exit code 1.

    Every command group uses it, so each also stands alone (tests invoke groups directly).
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OpskeeperError as exc:
            for line in str(exc).splitlines():
                err_console.print(f"[red]error:[/red] {line}", highlight=False, soft_wrap=True)
            ctx.exit(EXIT_ERROR)


def inventory_option(help_text: str = "Inventory file or folder.") -> Callable[[C], C]:
    """The ``-i/--inventory`` option of the commands that run jobs (default: the lab's)."""
    return click.option(
        "-i",
        "--inventory",
        type=click.Path(path_type=Path),
        default=config.default_inventory,
        show_default="inventory/lab",
        help=help_text,
    )


#: The ``-l/--limit`` option of the commands that run jobs.
limit_option = click.option(
    "-l", "--limit", help="Ansible host pattern to narrow the run (as --limit)."
)


def install_cancel() -> threading.Event:
    """SIGINT and SIGTERM ask the running job to stop; a second SIGINT stops at once."""
    cancel = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        if cancel.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        cancel.set()
        err_console.print("[yellow]stopping the run; it will be marked interrupted[/yellow]")

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return cancel


@contextmanager
def host_progress(verb: str) -> Iterator[ProgressCallback]:
    """A progress bar of hosts done out of all hosts, on stderr, gone when the job ends."""
    with Progress(
        TextColumn(f"[bold]{verb}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("hosts"),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=None)

        def on_host(done: int, total: int, host: str, outcome: str) -> None:
            progress.update(task, completed=done, total=total, description=f"{host}: {outcome}")

        yield on_host


def require_lab_up(inventory: Path) -> None:
    if inventory.resolve() != config.default_inventory().resolve():
        return
    from runner.lab import Lab

    if not any(host.running for host in Lab().status()):
        raise OpskeeperError(
            "the built-in lab is not up: start it with `sudo .venv/bin/opskeeper lab up` "
            "(or `make demo`), or pass --inventory for real hosts"
        )
