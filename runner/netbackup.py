"""Versioned network configuration backups: one git repository, one file per device.

The *backup repository* (default ``<state>/network-backups``) holds ``<device>.cfg``, the
device's running configuration exactly as it answered ``show running-config``, secrets
included. A *backup run* writes the files of the devices it reached and then makes one
commit, whose message says who ran it and why; a device that failed keeps its previous
file, so one failure never holds back the others. History is git's: any two revisions of a
device can be compared.

Secrets never leave the repository in clear: every diff this module returns, and every line
the inspection reports as drift, goes through :func:`mask`, which replaces password hashes,
keys and SNMP communities with ``<masked>``.

Lines that change on every read without a change of configuration (``Building
configuration...``, ``Current configuration : N bytes``, ``! Last configuration change``)
are left out by :func:`normalize` before two configurations are compared.
"""

from __future__ import annotations

import difflib
import getpass
import logging
import os
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from runner.errors import OpskeeperError
from runner.store.db import ResultRow

if TYPE_CHECKING:
    from runner.jobs import EventSink, JobResult, JobSpec, ProgressCallback
    from runner.store.db import Store

log = logging.getLogger(__name__)

MASK = "<masked>"
SUFFIX = ".cfg"
AUTHOR = ("Opskeeper", "opskeeper@localhost")
_DEVICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TYPE = r"(?:[0-9]+ )?"
# IOS's encryption types: 0 clear, 5 MD5, 6 AES, 7 Vigenère, 8 PBKDF2, 9 scrypt.
_KEYWORD_TYPE = r"(?:level \d+ )?(?:[05-9] )?"

#: (what it masks, pattern): group 1 is kept, group 2 is the secret. Applied in order, so
#: the rules for commands whose secret is followed by more arguments come before the
#: general keyword rule, which masks the rest of its line. Table-tested in
#: tests/unit/network/data/masking.yml.
SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (what, re.compile(pattern))
    for what, pattern in (
        ("snmp community", r"^(\s*snmp-server community )(\S+)"),
        (
            "snmp host community",
            r"^(\s*snmp-server host \S+ (?:(?:informs|traps) )?(?:version (?:1|2c|3 \w+) )?)"
            r"(\S+)",
        ),
        ("snmp user auth", r"^(\s*snmp-server user .* auth \w+ )(\S+)"),
        ("snmp user priv", r"^(\s*snmp-server user .* priv (?:3des|des|aes(?: \d+)?) )(\S+)"),
        ("ospf key", rf"^(\s*ip ospf authentication-key {_TYPE})(\S+)"),
        ("ospf md5", rf"^(\s*ip ospf message-digest-key \d+ md5 {_TYPE})(\S+)"),
        ("ntp key", r"^(\s*ntp authentication-key \d+ md5 )(\S+)"),
        ("isakmp key", rf"^(\s*crypto isakmp key {_TYPE})(\S+)"),
        # "address"/"hostname" name the peer; its key follows "key" (the general rule).
        (
            "pre-shared key",
            rf"^(\s*pre-shared-key (?:local |remote )?{_TYPE})(?!(?:address|hostname) )(\S+)",
        ),
        ("wpa psk", rf"^(\s*wpa-psk (?:ascii|hex) {_TYPE})(\S+)"),
        (
            "fhrp text authentication",
            r"^(\s*(?:standby|vrrp|glbp)(?: \d+)? authentication (?:text )?)(?!md5 )(\S+)",
        ),
        ("nhrp authentication", r"^(\s*ip nhrp authentication )(\S+)"),
        # A password may hold spaces where IOS takes it as the command's last argument, so
        # the rest of the line goes.
        (
            "keyword secret",
            r"(?<!\S)((?:secret|password|key|key-string|server-key|area-password"
            rf"|domain-password) (?!{_KEYWORD_TYPE}{re.escape(MASK)}){_KEYWORD_TYPE})(\S.*)",
        ),
    )
)
#: Lines that only mention a keyword: free text, and commands whose keyword names no secret.
_NOT_SECRET = re.compile(
    r"^\s*(?:\d+ )?(?:description|remark) |^access-list \S+ remark |^key chain "
    r"|^crypto key |^(?:no )?password encryption aes\s*$"
)
#: A key chain's ``key N`` line numbers a key; the key itself is its ``key-string``.
_KEY_ID = re.compile(r"^\s+key \d+\s*$")
#: ``banner motd ^C``: the text runs to the next delimiter (shown as ``^C``).
_BANNER = re.compile(r"^banner \S+ (\^C|\S)(.*)$")
_VOLATILE = (
    "Building configuration",
    "Current configuration",
    "! Last configuration change",
    "! NVRAM config last updated",
    "! No configuration change since last restart",
    "ntp clock-period",
)


class BackupError(OpskeeperError):
    """The backup repository cannot be read or written."""


@dataclass(frozen=True)
class Commit:
    """One backup run's commit: its id and, per device saved, the changed line count."""

    commit: str
    changed: dict[str, int]


def mask(text: str) -> str:
    """``text`` with every secret replaced by ``<masked>``; certificate bodies too.

    Free text (descriptions, remarks, banners) is left as written: it may mention a password
    without holding one.
    """
    lines = []
    in_certificate = False
    banner_end: str | None = None
    parent = ""
    for original in text.splitlines():
        line, stripped = original, original.strip()
        if not original[:1].isspace():
            parent = original
        if banner_end is not None:
            if banner_end in original:
                banner_end = None
        elif in_certificate:
            if stripped == "quit":
                in_certificate = False
            else:
                line = original[: len(original) - len(original.lstrip())] + MASK
        elif stripped.startswith("certificate "):
            in_certificate = True
        elif banner := _BANNER.match(original):
            banner_end = None if banner.group(1) in banner.group(2) else banner.group(1)
        elif not _NOT_SECRET.match(original) and not (
            parent.startswith("key chain ") and _KEY_ID.match(original)
        ):
            for _what, pattern in SECRET_PATTERNS:
                line = pattern.sub(rf"\g<1>{MASK}", line)
        lines.append(line)
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


class MaskedLine(str):
    """A configuration line that *shows* masked but *compares* as written.

    Diffing masked text would hide a changed secret (both sides read ``<masked>``); diffing
    these finds it, and prints it masked on both sides of the diff.
    """

    raw: str

    def __new__(cls, shown: str, raw: str) -> MaskedLine:
        line = super().__new__(cls, shown)
        line.raw = raw
        return line

    def __eq__(self, other: object) -> bool:
        return self.raw == (other.raw if isinstance(other, MaskedLine) else other)

    def __hash__(self) -> int:
        return hash(self.raw)


def masked_lines(text: str, *, keepends: bool = False) -> list[MaskedLine]:
    """Every line of ``text`` as a :class:`MaskedLine` (mask keeps one line per line)."""
    text = text.replace("\r\n", "\n")
    raw = text.splitlines(keepends=keepends)
    shown = mask(text).splitlines(keepends=keepends)
    return [MaskedLine(a, b) for a, b in zip(shown, raw, strict=True)]


def normalize(text: str) -> list[MaskedLine]:
    """The configuration's lines that matter for a comparison (no volatile or blank lines)."""
    return [
        MaskedLine(line.rstrip(), line.raw.rstrip())
        for line in masked_lines(text)
        if line.strip() and not line.lstrip().startswith(_VOLATILE)
    ]


def changed_lines(old: str, new: str) -> list[str]:
    """Added (``+``) and removed (``-``) lines between two configurations, masked."""
    diff = difflib.unified_diff(normalize(old), normalize(new), lineterm="", n=0)
    return [str(line) for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]


class BackupRepo:
    """The git repository of backups at ``path`` (created on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def ensure(self) -> None:
        """Create the repository (private to its owner) unless it exists."""
        if (self.path / ".git").is_dir():
            return
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.path, 0o700)
        self._git("init", "--quiet", "--initial-branch=main")

    def file(self, device: str) -> Path:
        """The working-tree file of ``device``'s backup."""
        if not _DEVICE.match(device):
            raise BackupError(
                f"device name {device!r} cannot name a backup file: use letters, digits, "
                "'.', '_' and '-'"
            )
        return self.path / f"{device}{SUFFIX}"

    def commit_run(self, devices: Iterable[str], who: str, reason: str, run_id: str) -> Commit:
        """Commit the files of ``devices`` (those this run wrote) as one commit.

        The commit is made even when nothing changed, so that history shows every run.
        """
        self.ensure()
        saved = sorted(d for d in devices if self.file(d).is_file())
        if saved:
            self._git("add", "--", *(self.file(d).name for d in saved))
        previous = self.head()
        message = (
            f"Backup of {len(saved)} device(s) by {who}: {reason}\n\n"
            f"Run: {run_id}\nDevices: {', '.join(saved) or 'none'}\n"
        )
        self._git("commit", "--quiet", "--allow-empty", "-m", message)
        commit = self.head() or ""

        changed = {}
        for device in saved:
            old = self.show(previous, device) if previous else ""
            changed[device] = len(changed_lines(old or "", self.show(commit, device) or ""))
        log.info("backup %s: %d device(s) committed by %s", commit[:12], len(saved), who)
        return Commit(commit, changed)

    def head(self) -> str | None:
        """The newest commit id, or None in an empty repository."""
        if not (self.path / ".git").is_dir():
            return None
        result = self._git("rev-parse", "--verify", "--quiet", "HEAD", check=False)
        return result.stdout.strip() or None

    def show(self, rev: str, device: str) -> str | None:
        """``device``'s backup at revision ``rev``, or None when it has none there."""
        result = self._git("show", f"{rev}:{self.file(device).name}", check=False)
        return result.stdout if result.returncode == 0 else None

    def revisions(self, device: str) -> list[str]:
        """Commits that changed ``device``'s backup, newest first."""
        if self.head() is None:
            return []
        result = self._git("log", "--format=%H", "--", self.file(device).name)
        return result.stdout.split()

    def diff(self, device: str, old: str | None = None, new: str | None = None) -> str:
        """Masked unified diff of ``device``'s backup between revisions ``old`` and ``new``.

        Without revisions: the two newest backups that differ; with one: that one against
        the newest.
        """
        revisions = self.revisions(device)
        if not revisions:
            raise BackupError(
                f"no backup of {device!r} in {self.path}: run `opskeeper backup network` first"
            )
        if old is None:
            new, old = revisions[0], revisions[1] if len(revisions) > 1 else revisions[0]
        new = new or revisions[0]
        texts = []
        for rev in (old, new):
            text = self.show(rev, device)
            if text is None:
                raise BackupError(
                    f"revision {rev!r} has no backup of {device!r}: pick one of "
                    f"`git -C {self.path} log --oneline -- {self.file(device).name}`"
                )
            texts.append(text)
        return "".join(
            difflib.unified_diff(
                masked_lines(texts[0], keepends=True),
                masked_lines(texts[1], keepends=True),
                fromfile=f"{device}@{old[:12]}",
                tofile=f"{device}@{new[:12]}",
            )
        )

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": AUTHOR[0],
            "GIT_AUTHOR_EMAIL": AUTHOR[1],
            "GIT_COMMITTER_NAME": AUTHOR[0],
            "GIT_COMMITTER_EMAIL": AUTHOR[1],
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
        }
        try:
            result = subprocess.run(
                ["git", "-C", str(self.path), *args],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BackupError(f"git {args[0]} in {self.path} could not run: {exc}") from exc
        if check and result.returncode != 0:
            raise BackupError(
                f"git {args[0]} in {self.path} failed: {result.stderr.strip() or result.stdout}"
            )
        return result


def who_ran() -> str:
    """The person behind this run: the sudo user when there is one."""
    return os.environ.get("SUDO_USER") or getpass.getuser()


def saved_devices(repo: BackupRepo, hosts: Sequence[str], since: float) -> list[str]:
    """Hosts whose backup file was written at or after ``since`` (a time.time() value)."""
    saved = []
    for host in hosts:
        path = repo.file(host)
        if path.is_file() and path.stat().st_mtime >= since:
            saved.append(host)
    return saved


def default_repo() -> Path:
    """The backup repository: OPSKEEPER_NETWORK_BACKUP_DIR, else under the state folder."""
    from runner import config

    return config.network_backup_dir()


@dataclass
class BackupRun:
    """A prepared backup run: the job, the repository and why it runs."""

    spec: JobSpec
    repo: BackupRepo
    reason: str
    started: float = 0.0
    commit: Commit | None = None

    def finalize(self, sink: EventSink) -> list[ResultRow]:
        """Commit the files this run wrote; one ``net.config.changed`` row per device."""
        hosts = [host for host, (outcome, _) in sink.outcomes.items() if outcome == "ok"]
        saved = saved_devices(self.repo, hosts, self.started)
        self.commit = self.repo.commit_run(saved, self.spec.started_by, self.reason, sink.run_id)
        short = self.commit.commit[:12]
        rows = []
        for device, count in sorted(self.commit.changed.items()):
            message = (
                f"{count} line(s) changed, commit {short}"
                if count
                else f"unchanged since the previous backup, commit {short}"
            )
            rows.append(
                ResultRow(
                    device, CHANGED_CHECK, "running-config", "ok", count, "lines", None, message
                )
            )
        return rows


CHANGED_CHECK = "net.config.changed"


def plan(inventory: Path, limit: str | None, reason: str, repo: Path | None = None) -> BackupRun:
    """A backup run of the inventory's ``ios`` hosts into ``repo`` (default: the state's)."""
    from runner.inspection import play_hosts
    from runner.jobs import PLAYBOOKS, JobSpec

    repo_path = (repo or default_repo()).resolve()
    playbook = PLAYBOOKS / "backup_network.yml"
    spec = JobSpec(
        "backup",
        playbook,
        inventory,
        play_hosts(playbook),
        limit=limit,
        extravars={"opskeeper_network_backup_dir": str(repo_path)},
    )
    return BackupRun(spec, BackupRepo(repo_path), reason)


def run(store: Store, backup: BackupRun, progress: ProgressCallback | None = None) -> JobResult:
    """Fetch every device's configuration and commit what was fetched as one commit."""
    import time

    from runner.jobs import prepare, run_job

    targets = prepare(backup.spec)
    backup.repo.ensure()
    backup.started = time.time() - 1.0
    return run_job(store, backup.spec, targets, progress=progress, finalize=backup.finalize)
