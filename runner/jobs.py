"""Running playbooks through ansible-runner and recording what they find.

A job is one playbook run. It gets its own private data folder (``<state>/runs/<id>``),
its events are consumed as they arrive, and the check results they carry are written to
the store in batches. The run row is written before Ansible starts and ended after the
last batch, so a run that dies half-way is marked interrupted, never finished.
"""

from __future__ import annotations

import configparser
import getpass
import logging
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner import config
from runner.errors import RunError
from runner.inventory import Targets, check_numeric_variables, resolve_targets
from runner.store import Store
from runner.store.db import ResultRow

log = logging.getLogger(__name__)

#: The result key under which the ``opskeeper_check`` action plugin returns its verdicts.
CHECKS_KEY = "opskeeper_checks"

#: The result key under which a probe returns what the host says about itself.
CENSUS_KEY = "opskeeper_census"

#: Check id recorded for a host that Ansible could not reach.
UNREACHABLE_CHECK = "host.reachable"

#: Check id recorded for a host that ended the run without any verdict.
NO_RESULT_CHECK = "host.run"

PLAYBOOKS = config.REPO_ROOT / "playbooks"

#: Ansible's settings for every job unless its spec names another file.
ANSIBLE_CONFIG = config.REPO_ROOT / "ansible.cfg"

#: Environment variable that picks the Ansible strategy of every job: ``linear`` (the
#: default, Ansible's own) or ``mitogen`` (opt-in; needs ``pip install mitogen``).
STRATEGY_ENV = "OPSKEEPER_STRATEGY"
STRATEGIES = ("linear", "mitogen")

ProgressCallback = Callable[[int, int, str, str], None]

#: Called after the play with the sink, before the run ends: extra verdicts to record
#: (the CMDB's checks of an inspection, say).
Finalizer = Callable[["EventSink"], list[ResultRow]]


#: Environment variables a job's Ansible process does not get: ansible-runner writes the
#: whole environment of a run into its artifacts, and these would carry secrets there.
#: Names ending in _FILE (a path to a secret, like a vault password file) are kept.
SECRET_ENV = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL)|^OPSKEEPER_DB_URL$")


@contextmanager
def _without_secrets() -> Iterator[list[str]]:
    """Take secret-looking variables out of the environment while Ansible starts."""
    hidden = {
        name: value
        for name, value in os.environ.items()
        if SECRET_ENV.search(name.upper()) and not name.upper().endswith("_FILE")
    }
    for name in hidden:
        del os.environ[name]
    try:
        yield sorted(hidden)
    finally:
        os.environ.update(hidden)


def current_user() -> str:
    """The person behind the run: the sudo caller when run through sudo."""
    return os.environ.get("SUDO_USER") or getpass.getuser()


@dataclass(frozen=True)
class JobSpec:
    """What to run: the job's kind, its playbook, where and why."""

    kind: str
    playbook: Path
    inventory: Path
    host_pattern: str
    limit: str | None = None
    trigger: str = "manual"
    started_by: str = field(default_factory=current_user)
    extravars: dict[str, Any] = field(default_factory=dict)
    #: The ansible.cfg of the run; None means the repository's.
    ansible_config: Path | None = None
    #: ``linear`` or ``mitogen``; None means what OPSKEEPER_STRATEGY says, else linear.
    strategy: str | None = None


@dataclass
class JobResult:
    run_id: str
    status: str
    rc: int | None
    hosts: dict[str, tuple[str, str | None]]
    counts: dict[str, int]
    private_data_dir: Path
    census: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: How many events ansible-runner delivered.
    events: int = 0

    @property
    def has_failures(self) -> bool:
        return self.counts.get("fail", 0) + self.counts.get("error", 0) > 0

    @property
    def has_unreachable(self) -> bool:
        return any(outcome == "unreachable" for outcome, _ in self.hosts.values())


def strategy_settings(strategy: str | None) -> dict[str, str]:
    """Ansible environment variables that select ``strategy`` (see :data:`STRATEGY_ENV`).

    mitogen runs modules through one persistent Python interpreter per host instead of a
    new one per task; it is a third-party strategy plugin, which ansible-core 2.19 deprecates.
    """
    name = strategy or os.environ.get(STRATEGY_ENV) or "linear"
    if name == "linear":
        return {}
    if name != "mitogen":
        raise RunError(
            f"{STRATEGY_ENV}={name!r} is not a strategy Opskeeper knows; use one of: "
            f"{', '.join(STRATEGIES)}"
        )
    try:
        import ansible_mitogen
    except ImportError as exc:
        raise RunError(
            f"strategy 'mitogen' needs the mitogen package: `.venv/bin/pip install "
            f"'mitogen>=0.3.54,<0.4'`, or unset {STRATEGY_ENV}"
        ) from exc
    plugins = Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"
    return {"ANSIBLE_STRATEGY_PLUGINS": str(plugins), "ANSIBLE_STRATEGY": "mitogen_linear"}


def host_key_checking(ansible_config: Path) -> str:
    """Whether a run checks SSH host keys: ANSIBLE_HOST_KEY_CHECKING when the environment
    sets it, else ``host_key_checking`` of the run's ansible.cfg, else Ansible's default (on).

    ansible-runner sets ANSIBLE_HOST_KEY_CHECKING=False unless it is given one, and an
    environment variable outranks ansible.cfg: without this, every run would connect to
    hosts whose key has changed, which plain ansible-playbook refuses.
    """
    if "ANSIBLE_HOST_KEY_CHECKING" in os.environ:
        return os.environ["ANSIBLE_HOST_KEY_CHECKING"]
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ansible_config, encoding="utf-8")
    return parser.get("defaults", "host_key_checking", fallback="True")


def new_run_id() -> str:
    """A sortable, unique run id: UTC start time plus a random suffix."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class EventSink:
    """Consumes ansible-runner events: verdicts to the store, hosts done to the progress.

    A host is done when a task result carries ``done_key`` (the judged checks of an
    inspection, the census of a census run), or when it fails or cannot be reached. Census
    facts are kept in :attr:`census` for whoever compares them with the CMDB.
    """

    def __init__(
        self,
        store: Store,
        run_id: str,
        hosts: list[str],
        progress: ProgressCallback | None,
        batch_size: int = 500,
        flush_seconds: float = 1.0,
        done_key: str = CHECKS_KEY,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.expected = set(hosts)
        self.progress = progress
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.pending: list[ResultRow] = []
        self.last_flush = time.monotonic()
        self.outcomes: dict[str, tuple[str, str | None]] = {}
        self.counts: dict[str, int] = {}
        self.events = 0
        self.stats_seen = False
        self.done_key = done_key
        self.census: dict[str, dict[str, Any]] = {}

    def __call__(self, event: dict[str, Any]) -> bool:
        self.events += 1
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        host = data.get("host")
        if kind == "runner_on_unreachable" and host:
            reason = _reason(data.get("res"))
            self._add(
                ResultRow(host, UNREACHABLE_CHECK, "", "unreachable", None, None, None, reason)
            )
            self._host_done(host, "unreachable", reason)
        elif kind == "runner_on_failed" and host and not data.get("ignore_errors"):
            reason = f"task {data.get('task', '?')!r} failed: {_reason(data.get('res'))}"
            self._add(ResultRow(host, NO_RESULT_CHECK, "", "error", None, None, None, reason))
            self._host_done(host, "failed", reason)
        elif kind == "playbook_on_stats":
            self.stats_seen = True
        elif kind == "runner_on_ok" and host:
            res = data.get("res") or {}
            checks = res.get(CHECKS_KEY)
            if isinstance(checks, list):
                for check in checks:
                    self._add(_row(host, check))
            if isinstance(res.get(CENSUS_KEY), dict):
                self.census[host] = res[CENSUS_KEY]
            if self.done_key in res:
                self._host_done(host, "ok", None)
        if len(self.pending) >= self.batch_size or (
            self.pending and time.monotonic() - self.last_flush >= self.flush_seconds
        ):
            self.flush()
        return True

    def _add(self, row: ResultRow) -> None:
        self.pending.append(row)
        self.counts[row.status] = self.counts.get(row.status, 0) + 1

    def _host_done(self, host: str, outcome: str, reason: str | None) -> None:
        # A host judged by several plays counts once; a later failure overrides "ok".
        first = host not in self.outcomes
        if first or outcome != "ok":
            self.outcomes[host] = (outcome, reason)
        if first and self.progress:
            self.progress(len(self.outcomes), len(self.expected), host, outcome)

    def flush(self) -> None:
        rows, self.pending = self.pending, []
        self.store.add_results(self.run_id, rows)
        self.last_flush = time.monotonic()

    def add(self, rows: list[ResultRow]) -> None:
        """Record verdicts that did not come from an event (they are flushed with the rest)."""
        for row in rows:
            self._add(row)

    def close(self) -> None:
        """Record a row for every expected host that produced no verdict, then flush."""
        for host in sorted(self.expected - self.outcomes.keys()):
            reason = "the host ended the run without any result"
            self._add(ResultRow(host, NO_RESULT_CHECK, "", "error", None, None, None, reason))
            self.outcomes[host] = ("failed", reason)
        self.flush()


def _shown(path: Path) -> str:
    """A repository path relative to the repository, any other one as it is."""
    resolved = path.resolve()
    inside = config.REPO_ROOT in resolved.parents
    return str(resolved.relative_to(config.REPO_ROOT)) if inside else str(resolved)


def _reason(res: Any) -> str:
    if not isinstance(res, dict):
        return "no reason given"
    msg = res.get("msg") or res.get("stderr") or res.get("module_stderr") or "no reason given"
    return " ".join(str(msg).split())[:500]


def _row(host: str, check: dict[str, Any]) -> ResultRow:
    return ResultRow(
        host=host,
        check_id=str(check.get("check_id", "unknown")),
        subject=str(check.get("subject") or ""),
        status=str(check.get("status", "error")),
        value=check.get("value"),
        unit=check.get("unit"),
        thresholds=check.get("thresholds"),
        message=check.get("message"),
    )


def prepare(spec: JobSpec) -> Targets:
    """Everything that can be refused before a run starts (strategy, inventory, limit,
    thresholds); return the hosts the run targets."""
    if not spec.playbook.is_file():
        raise RunError(f"playbook {spec.playbook} does not exist")
    strategy_settings(spec.strategy)
    targets = resolve_targets(spec.inventory, spec.host_pattern, spec.limit)
    check_numeric_variables(targets, config.REPO_ROOT / "roles")
    return targets


def run_job(
    store: Store,
    spec: JobSpec,
    targets: Targets,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    finalize: Finalizer | None = None,
    done_key: str = CHECKS_KEY,
) -> JobResult:
    """Run one playbook through ansible-runner and record it; return how it went.

    ``finalize`` adds verdicts after a play that ran to its end, before the run ends.
    """
    import ansible_runner

    run_id = new_run_id()
    private = config.runs_dir() / run_id
    private.mkdir(mode=0o700)
    store.start_run(
        run_id,
        kind=spec.kind,
        playbook=_shown(spec.playbook),
        trigger=spec.trigger,
        started_by=spec.started_by,
        inventory=str(targets.inventory),
        limit=spec.limit,
        hosts=targets.hosts,
        platforms=targets.platforms,
    )
    sink = EventSink(store, run_id, targets.hosts, progress, done_key=done_key)
    cancel = cancel or threading.Event()
    bindir = Path(sys.executable).parent
    ansible_config = spec.ansible_config or ANSIBLE_CONFIG
    envvars = {
        "ANSIBLE_CONFIG": str(ansible_config),
        "ANSIBLE_HOST_KEY_CHECKING": host_key_checking(ansible_config),
        config.STATE_DIR_ENV: str(config.state_dir()),
        # Where the network inspection measures drift against (roles/inspect_ios).
        config.NETWORK_BACKUP_DIR_ENV: str(config.network_backup_dir()),
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_NOCOLOR": "1",
        **strategy_settings(spec.strategy),
    }
    log.info("run %s: %s on %d hosts", run_id, spec.kind, len(targets.hosts))

    status, rc, message = "failed", None, None
    try:
        with _without_secrets() as hidden:
            if hidden:
                log.info("run %s: not passing %s to Ansible", run_id, ", ".join(hidden))
            result = ansible_runner.run(
                private_data_dir=str(private),
                project_dir=str(config.REPO_ROOT),
                playbook=str(spec.playbook),
                inventory=str(targets.inventory),
                limit=spec.limit,
                ident=run_id,
                envvars=envvars,
                extravars=spec.extravars or None,
                event_handler=sink,
                cancel_callback=cancel.is_set,
                quiet=True,
            )
        rc = result.rc
        if result.status == "canceled":
            status, message = "interrupted", "the run was cancelled"
        elif sink.stats_seen:
            # The play ran to its end (rc 2 or 4 only say that some hosts failed or were
            # unreachable, and their rows say which). rc 2 alone could be a usage error.
            status = "finished"
        else:
            status = "failed"
            message = f"ansible-playbook ended with status {result.status}, rc {rc}"
        if status == "finished" and finalize is not None:
            sink.add(finalize(sink))
        sink.close()
    except BaseException as exc:
        status = "interrupted"
        message = f"the controller stopped the run: {exc.__class__.__name__}"
        sink.flush()
        raise
    finally:
        store.finish_run(run_id, status, rc, sink.outcomes, message)
        log.info("run %s: %s (rc %s, %d events)", run_id, status, rc, sink.events)

    if status == "failed":
        stdout = private / "artifacts" / run_id / "stdout"
        raise RunError(f"run {run_id}: {message}; see {stdout}")
    return JobResult(
        run_id, status, rc, sink.outcomes, sink.counts, private, sink.census, sink.events
    )
