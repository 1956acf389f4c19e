"""Judge measurements against thresholds on the controller: Opskeeper's check contract.

A *check* is one named test (``linux.disk.usage``) of one subject (``/srv/data``) on one
host. A probe measures; this action plugin judges. It never contacts the host and never
fails a task because of a verdict. Arguments, in one of two forms:

* list form: ``measurements`` (a list of ``{id, subject, value, unit}`` with optional
  ``error`` (why it could not be measured), ``status`` (a verdict made by the probe, used
  only when the check has no thresholds), ``message`` (what was observed, e.g.
  ``93.1 % used on /srv/data``) and ``details`` (a dict copied to the result)) and
  ``thresholds`` (a dict from check id to a threshold);
* single form: the keys of one measurement and of its threshold side by side
  (``id``, ``subject``, ``value``, ``warn``, ``fail``, ``worse`` ...).

A threshold is either ``{warn, fail, worse}`` (numbers, each optional; ``worse`` is
``higher`` (default) or ``lower``; a value equal to a limit breaches it) or
``{expect, status_if_not}`` (a string or boolean that must match, or a list: a non-empty
list names items that must all be in the measured list, an empty one means the measured
list must be empty; ``status_if_not`` is ``fail`` (default) or ``warn``).

The task result carries ``opskeeper_checks``, one row per measurement in input order::

    {"check_id", "subject", "status", "value", "unit", "thresholds", "message", "details"}

with ``status`` one of ``ok``, ``warn``, ``fail`` or ``error`` (could not be measured or
could not be judged), plus ``opskeeper_threshold_errors`` (every unusable threshold, used
or not) and ``opskeeper_summary`` (count per status). Only malformed arguments fail the
task. The judging functions are pure so that tests can import them; :class:`ActionModule`
only unpacks the arguments and packs the result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from ansible.plugins.action import ActionBase

STATUSES = ("ok", "warn", "fail", "error")
NUMERIC_KEYS = frozenset({"warn", "fail", "worse"})
EXPECT_KEYS = frozenset({"expect", "status_if_not"})
MEASUREMENT_KEYS = frozenset(
    {"id", "subject", "value", "unit", "error", "status", "message", "details"}
)


class CheckResult(TypedDict):
    """One judged check: the row the runner stores for a host."""

    check_id: str
    subject: str
    status: str
    value: Any
    unit: str
    thresholds: dict[str, Any]
    message: str
    details: dict[str, Any]


class ThresholdError(TypedDict):
    """A threshold that could not be used, and what to do about it."""

    check_id: str
    key: str
    value: Any
    message: str


class CheckInputError(ValueError):
    """The task arguments do not have the shape of the check contract."""


@dataclass(frozen=True)
class Limits:
    """Numeric thresholds. ``worse`` says which direction of the value is bad."""

    warn: float | None
    fail: float | None
    worse: str = "higher"

    def as_dict(self) -> dict[str, Any]:
        return {"warn": self.warn, "fail": self.fail, "worse": self.worse}


@dataclass(frozen=True)
class Expectation:
    """An expected string, boolean or list, and the status when it is not met."""

    expect: str | bool | list[Any]
    status_if_not: str = "fail"

    def as_dict(self) -> dict[str, Any]:
        return {"expect": self.expect, "status_if_not": self.status_if_not}


Threshold = Limits | Expectation


def to_number(value: Any) -> float | None:
    """Return ``value`` as a finite float, or None when it is not a number.

    Booleans are not numbers here; numeric strings ("80", " 1.5 ") are, because values that
    pass through inventory files or command output often arrive as text.
    """
    if isinstance(value, bool):
        return None

    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None

    return number if math.isfinite(number) else None


def format_number(number: float) -> str:
    """Format a number for a message: at most two decimals, no trailing zeros."""
    text = f"{number:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_value(value: Any) -> str:
    """Format a measured or expected value for a message."""
    if isinstance(value, bool):
        return "true" if value else "false"

    if isinstance(value, int | float):
        return format_number(float(value))

    if isinstance(value, str):
        return repr(value)

    if isinstance(value, Sequence):
        return "[" + ", ".join(str(item) for item in value) + "]"

    return repr(value)


def _threshold_error(check_id: str, key: str, value: Any, advice: str) -> ThresholdError:
    shown = repr(value) if isinstance(value, str) else format_value(value)
    where = f"threshold {key}" if key else "threshold"
    return {
        "check_id": check_id,
        "key": key,
        "value": value,
        "message": f"check {check_id}: {where} is {shown}; {advice}",
    }


def validate_threshold(check_id: str, spec: Any) -> tuple[Threshold | None, list[ThresholdError]]:
    """Validate one check's threshold dict; return it normalised, or the reasons it is bad."""
    if not isinstance(spec, Mapping):
        return None, [
            _threshold_error(
                check_id,
                "",
                spec,
                "set a dict with warn/fail/worse or with expect/status_if_not",
            )
        ]

    keys = set(spec)
    unknown = keys - NUMERIC_KEYS - EXPECT_KEYS
    errors = [
        _threshold_error(
            check_id, str(key), spec[key], "use warn, fail, worse, expect or status_if_not"
        )
        for key in sorted(unknown, key=str)
    ]
    if errors:
        return None, errors

    if keys & NUMERIC_KEYS and keys & EXPECT_KEYS:
        return None, [
            _threshold_error(
                check_id,
                "",
                dict(spec),
                "use either warn/fail/worse or expect/status_if_not, not both",
            )
        ]

    if not keys:
        return None, [_threshold_error(check_id, "", {}, "set warn and/or fail, or expect")]

    if keys & EXPECT_KEYS:
        return _validate_expectation(check_id, spec)

    return _validate_limits(check_id, spec)


def _validate_limits(
    check_id: str, spec: Mapping[str, Any]
) -> tuple[Threshold | None, list[ThresholdError]]:
    errors: list[ThresholdError] = []
    limits: dict[str, float | None] = {}

    for key in ("warn", "fail"):
        raw = spec.get(key)
        if raw is None:
            limits[key] = None
            continue

        number = to_number(raw)
        if number is None:
            errors.append(_threshold_error(check_id, key, raw, f"set a number, e.g. {key}: 80"))
        limits[key] = number

    worse = spec.get("worse", "higher")
    if worse not in ("higher", "lower"):
        errors.append(_threshold_error(check_id, "worse", worse, "set higher or lower"))

    if errors:
        return None, errors

    warn, fail = limits["warn"], limits["fail"]
    if warn is not None and fail is not None:
        crossed = warn > fail if worse == "higher" else warn < fail
        if crossed:
            side = "above" if worse == "higher" else "below"
            return None, [
                _threshold_error(
                    check_id,
                    "warn",
                    spec["warn"],
                    f"it lies {side} fail ({format_number(fail)}) although {worse} is worse;"
                    " set warn between the healthy range and fail",
                )
            ]

    return Limits(warn=warn, fail=fail, worse=str(worse)), []


def _validate_expectation(
    check_id: str, spec: Mapping[str, Any]
) -> tuple[Threshold | None, list[ThresholdError]]:
    errors: list[ThresholdError] = []

    expect = spec.get("expect")
    if isinstance(expect, bool | str):
        expected: str | bool | list[Any] = expect
    elif isinstance(expect, Sequence):
        expected = list(expect)
    else:
        errors.append(
            _threshold_error(check_id, "expect", expect, "set a string, a boolean or a list")
        )
        expected = ""

    status_if_not = spec.get("status_if_not", "fail")
    if status_if_not not in ("warn", "fail"):
        errors.append(
            _threshold_error(check_id, "status_if_not", status_if_not, "set fail or warn")
        )

    if errors:
        return None, errors

    return Expectation(expect=expected, status_if_not=str(status_if_not)), []


def validate_thresholds(
    thresholds: Mapping[str, Any],
) -> tuple[dict[str, Threshold], dict[str, list[ThresholdError]]]:
    """Split a check-id → threshold dict into usable thresholds and errors by check id."""
    valid: dict[str, Threshold] = {}
    invalid: dict[str, list[ThresholdError]] = {}

    for check_id, spec in thresholds.items():
        threshold, errors = validate_threshold(str(check_id), spec)
        if threshold is None:
            invalid[str(check_id)] = errors
        else:
            valid[str(check_id)] = threshold

    return valid, invalid


def describe_limits(limits: Limits) -> str:
    """Name the limits in breach order, e.g. ``fail at 90, warn at 80``."""
    parts = [
        f"{name} at {format_number(level)}"
        for name, level in (("fail", limits.fail), ("warn", limits.warn))
        if level is not None
    ]
    text = ", ".join(parts) if parts else "no limits set"
    return text if limits.worse == "higher" else f"{text}; lower is worse"


def judge_limits(value: Any, limits: Limits) -> tuple[str, str]:
    """Return (status, reason) of a numeric value; a reason is given only for ``error``."""
    number = to_number(value)
    if number is None:
        what = "no value" if value is None else f"value {format_value(value)} is not a number"
        return "error", what

    def breached(level: float | None) -> bool:
        if level is None:
            return False
        return number >= level if limits.worse == "higher" else number <= level

    if breached(limits.fail):
        return "fail", ""
    if breached(limits.warn):
        return "warn", ""
    return "ok", ""


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value

    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False

    return None


def judge_expectation(value: Any, expectation: Expectation) -> tuple[str, str]:
    """Return (status, reason) of a value against an expected string, boolean or list.

    The reason says what is wrong for every status other than ``ok``.
    """
    expect, bad = expectation.expect, expectation.status_if_not
    if value is None:
        return "error", "no value"

    if isinstance(expect, bool):
        measured = _as_bool(value)
        if measured is None:
            return "error", f"value {format_value(value)} is not a boolean"
        if measured == expect:
            return "ok", ""
        return bad, f"expected {format_value(expect)}"

    if isinstance(expect, str):
        if str(value) == expect:
            return "ok", ""
        return bad, f"expected {expect!r}"

    if isinstance(value, str) or not isinstance(value, Sequence):
        return "error", f"value {format_value(value)} is not a list"

    if not expect:
        if len(value) == 0:
            return "ok", ""
        return bad, "expected none"

    missing = [item for item in expect if item not in value]
    if not missing:
        return "ok", ""
    return bad, "missing: " + ", ".join(str(item) for item in missing)


def _default_observation(check_id: str, subject: str, value: Any, unit: str) -> str:
    shown = format_value(value)
    if unit:
        shown = f"{shown} {unit}"
    where = f" on {subject}" if subject else ""
    return f"{check_id}{where} is {shown}"


def judge_measurement(measurement: Any, thresholds: Mapping[str, Any]) -> CheckResult:
    """Judge one measurement against the raw check-id → threshold dict.

    Never raises: whatever goes wrong becomes an ``error`` row that says why.
    """
    if not isinstance(measurement, Mapping) or not measurement.get("id"):
        return {
            "check_id": "unknown",
            "subject": "",
            "status": "error",
            "value": None,
            "unit": "",
            "thresholds": {},
            "message": f"measurement {measurement!r} has no check id; it cannot be judged",
            "details": {},
        }

    check_id = str(measurement["id"])
    subject = "" if measurement.get("subject") is None else str(measurement["subject"])
    value = measurement.get("value")
    unit = str(measurement.get("unit") or "")
    details = measurement.get("details")
    observed = str(measurement.get("message") or "") or _default_observation(
        check_id, subject, value, unit
    )
    where = f" on {subject}" if subject else ""

    result: CheckResult = {
        "check_id": check_id,
        "subject": subject,
        "status": "error",
        "value": value,
        "unit": unit,
        "thresholds": {},
        "message": "",
        "details": dict(details) if isinstance(details, Mapping) else {},
    }

    threshold: Threshold | None = None
    errors: list[ThresholdError] = []
    if check_id in thresholds:
        raw = thresholds[check_id]
        threshold, errors = validate_threshold(check_id, raw)
        result["thresholds"] = threshold.as_dict() if threshold else _raw_dict(raw)

    if measurement.get("error"):
        result["message"] = f"{check_id}{where} could not be measured: {measurement['error']}"
        return result

    if errors:
        result["message"] = "; ".join(error["message"] for error in errors)
        return result

    if threshold is None:
        declared = measurement.get("status")
        if declared is None:
            result["message"] = f"no thresholds for check {check_id}; {observed}"
        elif declared not in STATUSES:
            result["message"] = (
                f"{check_id}{where}: the probe declared status {declared!r};"
                f" expected one of: {', '.join(STATUSES)}"
            )
        else:
            result["status"] = str(declared)
            result["message"] = observed
        return result

    if isinstance(threshold, Limits):
        status, reason = judge_limits(value, threshold)
        number = to_number(value)
        if number is not None and not isinstance(value, int | float):
            result["value"] = int(number) if number.is_integer() else number
        verdict = describe_limits(threshold)
    else:
        status, reason = judge_expectation(value, threshold)
        verdict = reason

    result["status"] = status
    if status == "error":
        result["message"] = f"{check_id}{where} could not be judged: {reason}"
    elif verdict:
        result["message"] = f"{observed} ({verdict})"
    else:
        result["message"] = observed
    return result


def _raw_dict(raw: Any) -> dict[str, Any]:
    return {str(key): item for key, item in raw.items()} if isinstance(raw, Mapping) else {}


def judge_all(
    measurements: Sequence[Any], thresholds: Mapping[str, Any]
) -> tuple[list[CheckResult], list[ThresholdError]]:
    """Judge every measurement; also return every unusable threshold, used or not."""
    _, invalid = validate_thresholds(thresholds)
    results = [judge_measurement(item, thresholds) for item in measurements]
    errors = [error for check_errors in invalid.values() for error in check_errors]
    return results, errors


def summarize(results: Sequence[CheckResult]) -> dict[str, int]:
    """Count results per status, every status present."""
    counts = dict.fromkeys(STATUSES, 0)
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    return counts


def parse_args(args: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """Turn task arguments (list form or single form) into measurements and thresholds."""
    if "measurements" in args or "thresholds" in args:
        extra = sorted(set(args) - {"measurements", "thresholds"})
        if extra:
            raise CheckInputError(
                f"opskeeper_check: unexpected argument(s) {', '.join(extra)} beside"
                " measurements/thresholds; use either the list form or the single form"
            )

        measurements = args.get("measurements")
        if measurements is None:
            measurements = []
        if isinstance(measurements, Mapping):
            measurements = [measurements]
        if isinstance(measurements, str) or not isinstance(measurements, Sequence):
            raise CheckInputError(
                f"opskeeper_check: measurements is {type(measurements).__name__}"
                f" {measurements!r}; expected a list of dicts with id, subject, value"
            )

        thresholds = args.get("thresholds")
        if thresholds is None:
            thresholds = {}
        if not isinstance(thresholds, Mapping):
            raise CheckInputError(
                f"opskeeper_check: thresholds is {type(thresholds).__name__} {thresholds!r};"
                " expected a dict from check id to {warn, fail, worse} or {expect, status_if_not}"
            )
        return list(measurements), dict(thresholds)

    unknown = sorted(set(args) - MEASUREMENT_KEYS - NUMERIC_KEYS - EXPECT_KEYS)
    if unknown:
        raise CheckInputError(
            f"opskeeper_check: unknown argument(s) {', '.join(unknown)}; the single form takes"
            f" {', '.join(sorted(MEASUREMENT_KEYS | NUMERIC_KEYS | EXPECT_KEYS))}"
        )
    if not args.get("id"):
        raise CheckInputError(
            "opskeeper_check: no check given; set measurements and thresholds,"
            " or id and value with warn/fail or expect"
        )

    measurement = {key: value for key, value in args.items() if key in MEASUREMENT_KEYS}
    threshold = {key: value for key, value in args.items() if key in NUMERIC_KEYS | EXPECT_KEYS}
    thresholds = {str(args["id"]): threshold} if threshold else {}
    return [measurement], thresholds


def summary_text(counts: Mapping[str, int]) -> str:
    total = sum(counts.values())
    return f"judged {total}: " + ", ".join(f"{counts[status]} {status}" for status in STATUSES)


class ActionModule(ActionBase):  # type: ignore[misc]
    """Judge measurements on the controller; see the module docstring for the contract."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(
        self, tmp: str | None = None, task_vars: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        del tmp

        try:
            measurements, thresholds = parse_args(dict(self._task.args))
        except CheckInputError as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            return result

        checks, errors = judge_all(measurements, thresholds)
        counts = summarize(checks)
        result.update(
            changed=False,
            opskeeper_checks=checks,
            opskeeper_threshold_errors=errors,
            opskeeper_summary=counts,
            msg=summary_text(counts),
        )
        return result
