"""The incident policy: severities and their clocks, severity rules, notifications.

Defaults follow the contract's table (``docs/INCIDENTS.md``); a YAML file overrides any
part of them. The file is found in this order: ``--policy``, the environment variable
``OPSKEEPER_INCIDENT_POLICY``, ``incident_policy.yml`` in the inventory folder. A file that
breaks a rule is refused whole, with the file and the field named.
"""

from __future__ import annotations

import fnmatch
import math
import os
import re
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from runner.errors import ConfigError

POLICY_ENV = "OPSKEEPER_INCIDENT_POLICY"
POLICY_FILE = "incident_policy.yml"

#: Severities, most severe first.
SEVERITIES = ("P1", "P2", "P3")

CLOCKS = ("respond", "restore", "resolve")
CRITICALITIES = ("low", "medium", "high", "critical")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OPENING = ("fail", "unreachable", "error", "warn")

#: The longest time a policy may name: longer promises are typing errors, and far larger
#: ones overflow the dates computed from them.
MAX_DURATION = timedelta(days=366)

#: A plain mail address: one @, no spaces, no display name or list separators.
_ADDRESS = re.compile(r"[^@\s<>(),;:\"\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")

#: Words that, in a query parameter's name, mark a secret (``api_key``, ``sig``...).
_SECRET_WORDS = ("token", "key", "secret", "pass", "pwd", "sig", "auth", "credential")

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

#: The longest a notifier may wait on one network operation, in seconds.
MAX_TIMEOUT = 300.0


class PolicyError(ConfigError):
    """The incident policy file breaks a rule."""


@dataclass(frozen=True)
class SeverityRule:
    """What a severity promises: its clocks (None: no such promise) and its calendar."""

    respond: timedelta | None
    restore: timedelta | None
    resolve: timedelta | None
    report: timedelta | None = None
    business_hours: bool = False
    mail: tuple[str, ...] = ()
    webhook: tuple[str, ...] = ()

    def budget(self, clock: str) -> timedelta | None:
        value: timedelta | None = getattr(self, clock)
        return value


@dataclass(frozen=True)
class BusinessHours:
    days: tuple[int, ...] = (0, 1, 2, 3, 4)
    start: time = time(8, 0)
    end: time = time(18, 0)


@dataclass(frozen=True)
class Smtp:
    host: str = "localhost"
    port: int = 25
    sender: str = "opskeeper@localhost"
    username: str | None = None
    #: The name of the environment variable that holds the password; never the password.
    password_env: str | None = None
    starttls: bool = False
    timeout: float = 10.0


@dataclass(frozen=True)
class Policy:
    source: str = "built-in defaults"
    severities: dict[str, SeverityRule] = field(default_factory=dict)
    default_severity: str = "P3"
    checks: dict[str, str] = field(default_factory=dict)
    open_on: tuple[str, ...] = ("fail", "unreachable")
    warn_opens: tuple[str, ...] = ()
    resolve_after: int = 2
    reopen_window: timedelta = timedelta(hours=72)
    near_breach: float = 0.8
    criticality_raise: dict[str, int] = field(default_factory=dict)
    impact_raise: dict[str, int] = field(default_factory=dict)
    down_with_critical_impact: str = "P1"
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    business_hours: BusinessHours = field(default_factory=BusinessHours)
    smtp: Smtp = field(default_factory=Smtp)
    #: Webhook URL -> the name of the environment variable holding its bearer token.
    webhook_tokens: dict[str, str] = field(default_factory=dict)
    webhook_timeout: float = 5.0
    #: Seconds the run (and a command that changed an incident) spends on delivery at most.
    delivery_budget: float = 15.0
    max_attempts: int = 10

    def declared(self, check_id: str) -> str:
        """The check's own severity: the first matching pattern, exact names first."""
        if check_id in self.checks:
            return self.checks[check_id]
        for pattern, severity in self.checks.items():
            if fnmatch.fnmatchcase(check_id, pattern):
                return severity
        return self.default_severity

    def opens(self, check_id: str, status: str) -> bool:
        if status == "warn":
            return "warn" in self.open_on or any(
                fnmatch.fnmatchcase(check_id, pattern) for pattern in self.warn_opens
            )
        return status in self.open_on


def redact_url(url: str) -> str:
    """A URL fit to store in a message, log or show: credentials and query values masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an unreadable URL)"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    query = "&".join(
        f"{name}=***" if sep else "***"
        for name, sep, _ in (item.partition("=") for item in parts.query.split("&"))
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query if parts.query else "", ""))


def _hours(hours: float) -> timedelta:
    return timedelta(hours=hours)


DEFAULT_SEVERITIES = {
    "P1": SeverityRule(_hours(1 / 3), _hours(2), _hours(24), report=_hours(24)),
    "P2": SeverityRule(_hours(0.5), _hours(4), _hours(24)),
    "P3": SeverityRule(_hours(1), None, _hours(48)),
}

DEFAULT_CHECKS = {
    "host.reachable": "P2",
    "linux.service.required": "P2",
    "linux.process.required": "P2",
    "linux.port.listening": "P2",
    "linux.disk.*": "P3",
    "cmdb.*": "P3",
}


def defaults() -> Policy:
    return Policy(
        severities=dict(DEFAULT_SEVERITIES),
        checks=dict(DEFAULT_CHECKS),
        criticality_raise={"critical": 1},
        impact_raise={"critical": 1},
    )


def raise_severity(severity: str, steps: int) -> str:
    return SEVERITIES[max(0, SEVERITIES.index(severity) - steps)]


class _Reader:
    """Reads one policy file and names the file and field in every refusal."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, value: Any, rule: str) -> PolicyError:
        return PolicyError(f"{self.path}: field '{where}' is {value!r}; {rule}")

    def severity(self, where: str, value: Any) -> str:
        if value not in SEVERITIES:
            raise self.fail(where, value, f"expected one of: {', '.join(SEVERITIES)}")
        return str(value)

    def duration(self, where: str, value: Any, zero: bool = False) -> timedelta | None:
        """Minutes as a number, or a string like ``20m``, ``4h``, ``2d``; null for none.

        A clock needs a time above zero (null removes it); ``zero`` allows 0 where it means
        "never", as for the reopen window.
        """
        if value is None:
            return None
        units = {"m": 1.0, "h": 60.0, "d": 1440.0}
        shape = "expected minutes or a duration like 20m, 4h, 2d"
        minutes: float
        if isinstance(value, bool):
            raise self.fail(where, value, shape)
        if isinstance(value, int | float):
            minutes = float(value)
        elif isinstance(value, str) and value[-1:] in units:
            try:
                minutes = float(value[:-1]) * units[value[-1]]
            except ValueError:
                raise self.fail(where, value, "expected a duration like 20m, 4h, 2d") from None
        else:
            raise self.fail(where, value, shape)
        if not math.isfinite(minutes):
            raise self.fail(where, value, shape)
        if minutes < 0:
            raise self.fail(where, value, "a time cannot be negative")
        if minutes == 0 and not zero:
            raise self.fail(where, value, "a clock needs a time above zero; null removes it")
        if minutes > MAX_DURATION.total_seconds() / 60:
            raise self.fail(where, value, f"expected a time of at most {MAX_DURATION.days} days")
        return timedelta(minutes=minutes)

    def mapping(self, where: str, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(where, value, "expected a mapping")
        return value

    def strings(self, where: str, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(where, value, "expected a list of strings")
        return tuple(value)

    def webhooks(self, where: str, value: Any) -> tuple[tuple[str, str | None], ...]:
        """Webhooks: URLs, or mappings ``{url, token_env}``; each as (URL, token variable)."""
        if value is None:
            return ()
        if isinstance(value, str | dict):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(where, value, "expected a list of URLs or {url, token_env} mappings")
        found: list[tuple[str, str | None]] = []
        for item in value:
            if not isinstance(item, dict):
                found.append((self.webhook_url(where, item), None))
                continue
            for key in item:
                if key not in ("url", "token_env"):
                    # The key only: its value may well be the secret.
                    raise self.fail(f"{where}.{key}", key, "unknown field; expected url, token_env")
            name = item.get("token_env")
            if name is not None and (not isinstance(name, str) or not _ENV_NAME.fullmatch(name)):
                raise self.fail(
                    f"{where}.token_env",
                    name,
                    "expected the name of an environment variable, like OPSKEEPER_WEBHOOK_TOKEN",
                )
            found.append((self.webhook_url(f"{where}.url", item.get("url")), name))
        return tuple(found)

    def webhook_url(self, where: str, url: Any) -> str:
        """An http(s) URL with a host and no secret in it; refusals show it redacted."""
        if not isinstance(url, str):
            raise self.fail(where, url, "expected the webhook's http:// or https:// URL")
        try:
            parts = urlsplit(url)
            _ = parts.port  # reading it is what checks the port
        except ValueError:
            parts = None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or any(char.isspace() or not char.isprintable() for char in url)
        ):
            raise self.fail(
                where,
                redact_url(url),
                "expected an http:// or https:// URL with a host, like "
                "https://chat.example.com/hooks/ops",
            )
        names = [item.partition("=")[0].lower() for item in parts.query.split("&")]
        if "@" in parts.netloc or any(word in name for name in names for word in _SECRET_WORDS):
            raise self.fail(
                where,
                redact_url(url),
                "a secret in a URL is stored, logged and shown; take it out and name an "
                "environment variable in token_env that holds it (sent as 'Authorization: "
                "Bearer ...')",
            )
        return url

    def addresses(self, where: str, value: Any) -> tuple[str, ...]:
        found = self.strings(where, value)
        for address in found:
            self.address(where, address)
        return found

    def address(self, where: str, value: Any) -> str:
        if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
            raise self.fail(where, value, "expected a mail address like oncall@example.com")
        return value

    def number(self, where: str, value: Any, low: float, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(where, value, "expected a number")
        if not math.isfinite(value):
            raise self.fail(where, value, f"expected a finite number from {low} to {high}")
        if value < low or value > high:
            raise self.fail(where, value, f"expected at least {low} and at most {high}")
        return float(value)

    def whole(self, where: str, value: Any, low: int, high: int) -> int:
        """A count: an integer, never a fraction silently cut."""
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(
                where, value, f"expected a whole number of at least {low} and at most {high}"
            )
        return value

    def clock_time(self, where: str, value: Any) -> time:
        try:
            return time.fromisoformat(str(value))
        except ValueError:
            raise self.fail(where, value, "expected a time of day like 08:00") from None


_TOP = {
    "timezone",
    "severities",
    "default_severity",
    "checks",
    "open_on",
    "warn_opens",
    "resolve_after",
    "reopen_window",
    "near_breach",
    "criticality_raise",
    "impact_raise",
    "down_with_critical_impact",
    "business_hours",
    "smtp",
    "webhook_timeout",
    "delivery_budget",
    "max_attempts",
}


def parse(data: Any, path: Path) -> Policy:
    """A policy from a file's parsed YAML, on top of the defaults."""
    r = _Reader(path)
    base = defaults()
    data = r.mapping("(top)", data)
    for key in data:
        if key not in _TOP:
            raise r.fail(
                key, data[key], f"unknown field; expected one of: {', '.join(sorted(_TOP))}"
            )

    severities = dict(base.severities)
    tokens: dict[str, str] = {}
    for name, raw in r.mapping("severities", data.get("severities")).items():
        r.severity(f"severities.{name}", name)
        spec = r.mapping(f"severities.{name}", raw)
        old = severities[name]
        values: dict[str, Any] = {}
        for key in ("respond", "restore", "resolve", "report"):
            values[key] = (
                r.duration(f"severities.{name}.{key}", spec[key])
                if key in spec
                else getattr(old, key)
            )
        hours = spec.get("business_hours", old.business_hours)
        if not isinstance(hours, bool):
            raise r.fail(f"severities.{name}.business_hours", hours, "expected true or false")
        notify = r.mapping(f"severities.{name}.notify", spec.get("notify"))
        hooks = r.webhooks(f"severities.{name}.notify.webhook", notify.get("webhook"))
        for url, token_env in hooks:
            if token_env is None:
                continue
            if tokens.setdefault(url, token_env) != token_env:
                raise r.fail(
                    f"severities.{name}.notify.webhook.token_env",
                    token_env,
                    f"the same URL names {tokens[url]} elsewhere; give it one token_env",
                )
        severities[name] = SeverityRule(
            values["respond"],
            values["restore"],
            values["resolve"],
            report=values["report"],
            business_hours=hours,
            mail=r.addresses(f"severities.{name}.notify.mail", notify.get("mail")) or old.mail,
            webhook=tuple(url for url, _ in hooks) or old.webhook,
        )

    checks = dict(base.checks)
    for pattern, severity in r.mapping("checks", data.get("checks")).items():
        checks[str(pattern)] = r.severity(f"checks.{pattern}", severity)

    raises: dict[str, dict[str, int]] = {}
    for key in ("criticality_raise", "impact_raise"):
        table = dict(getattr(base, key))
        for level, steps in r.mapping(key, data.get(key)).items():
            if level not in CRITICALITIES:
                raise r.fail(
                    f"{key}.{level}", level, f"expected one of: {', '.join(CRITICALITIES)}"
                )
            table[str(level)] = r.whole(f"{key}.{level}", steps, 0, 2)
        raises[key] = table

    open_on = r.strings("open_on", data.get("open_on")) or base.open_on
    for status in open_on:
        if status not in OPENING:
            raise r.fail("open_on", status, f"expected some of: {', '.join(OPENING)}")

    try:
        zone = ZoneInfo(str(data.get("timezone", "UTC")))
    except (ZoneInfoNotFoundError, ValueError):
        raise r.fail(
            "timezone", data.get("timezone"), "expected a zone like Europe/Berlin"
        ) from None

    hours_spec = r.mapping("business_hours", data.get("business_hours"))
    days = r.strings("business_hours.days", hours_spec.get("days")) or (
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
    )
    for day in days:
        if day not in DAYS:
            raise r.fail("business_hours.days", day, f"expected some of: {', '.join(DAYS)}")
    business = BusinessHours(
        tuple(DAYS.index(day) for day in days),
        r.clock_time("business_hours.start", hours_spec.get("start", "08:00")),
        r.clock_time("business_hours.end", hours_spec.get("end", "18:00")),
    )
    if business.end <= business.start:
        raise r.fail("business_hours.end", str(business.end), "expected a time after start")

    smtp_spec = r.mapping("smtp", data.get("smtp"))
    if "password" in smtp_spec:
        raise r.fail(
            "smtp.password",
            "***",
            "passwords never go in a file: name an environment variable in smtp.password_env",
        )
    smtp = Smtp(
        host=str(smtp_spec.get("host", "localhost")),
        port=r.whole("smtp.port", smtp_spec.get("port", 25), 1, 65535),
        sender=r.address("smtp.from", smtp_spec.get("from", "opskeeper@localhost")),
        username=smtp_spec.get("username"),
        password_env=smtp_spec.get("password_env"),
        starttls=bool(smtp_spec.get("starttls", False)),
        timeout=r.number("smtp.timeout", smtp_spec.get("timeout", 10), 0.1, MAX_TIMEOUT),
    )

    window = r.duration("reopen_window", data.get("reopen_window", "72h"), zero=True)
    return Policy(
        source=str(path),
        severities=severities,
        default_severity=r.severity("default_severity", data.get("default_severity", "P3")),
        checks=checks,
        open_on=open_on,
        warn_opens=r.strings("warn_opens", data.get("warn_opens")),
        resolve_after=r.whole("resolve_after", data.get("resolve_after", 2), 1, 1000),
        reopen_window=window or timedelta(0),
        near_breach=r.number("near_breach", data.get("near_breach", 0.8), 0.01, 1.0),
        criticality_raise=raises["criticality_raise"],
        impact_raise=raises["impact_raise"],
        down_with_critical_impact=r.severity(
            "down_with_critical_impact", data.get("down_with_critical_impact", "P1")
        ),
        timezone=zone,
        business_hours=business,
        smtp=smtp,
        webhook_tokens=tokens,
        webhook_timeout=r.number(
            "webhook_timeout", data.get("webhook_timeout", 5), 0.1, MAX_TIMEOUT
        ),
        delivery_budget=r.number(
            "delivery_budget", data.get("delivery_budget", 15), 1, MAX_TIMEOUT
        ),
        max_attempts=r.whole("max_attempts", data.get("max_attempts", 10), 1, 1000),
    )


def policy_path(explicit: Path | None, inventory: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    if os.environ.get(POLICY_ENV):
        return Path(os.environ[POLICY_ENV])
    if inventory is not None:
        folder = inventory if inventory.is_dir() else inventory.parent
        if (folder / POLICY_FILE).is_file():
            return folder / POLICY_FILE
    return None


def load_policy(explicit: Path | None = None, inventory: Path | None = None) -> Policy:
    """The policy in force: the file found (see the module's text) over the defaults."""
    path = policy_path(explicit, inventory)
    if path is None:
        return defaults()
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the incident policy: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from exc
    return parse(data, path)
