"""The benchmark's arithmetic and the shape of its JSON results: pure functions only.

A *sample* is one timed run of one variant on N hosts. The figures of a variant at N are the
medians of its samples; the ratios compare those medians (``a/c`` is how many times longer
the hand-written playbook takes than Opskeeper's inspection, ``b/a`` what Opskeeper's runner
adds to the same playbook).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 1

#: The variants, in the order they are described and printed.
VARIANTS = {
    "a": "plain ansible-playbook, empty ansible.cfg, hand-written playbook",
    "b": "the hand-written playbook through Opskeeper's runner (ansible-runner), same config",
    "c": "Opskeeper's inspection (runner, playbooks/inspect.yml, the repo's ansible.cfg)",
    "m": "Opskeeper's inspection with the opt-in mitogen strategy",
    "am": "plain ansible-playbook as (a), with the mitogen strategy turned on",
}

#: What each figure of the JSON results means.
DEFINITIONS = {
    "wall_s": "wall time of the run, from process start to exit",
    "cpu_s": "user + system CPU of the run's process tree on the controller (wait4 of the "
    "child: every descendant it waited for; detached SSH ControlMasters and the hosts' own "
    "CPU are not in it)",
    "hosts_per_min": "hosts / median wall time",
    "events": "host-task results (ok/changed/skipping/failed/fatal lines of Ansible's "
    "output, one per ansible-runner runner_on_* event)",
    "events_per_s": "events / median wall time",
    "runner_events": "every event ansible-runner delivered (runs through the runner only)",
    "peak_rss_mb": "largest resident set of any one process of the run (ru_maxrss)",
    "peak_pss_mb": "largest sum of proportional set sizes over the run's process tree, "
    "sampled every 0.5 s",
    "controller_rss_mb": "peak RSS of the Python process that ran ansible-runner",
    "load_before": "the machine's 1-minute load average just before the run",
}

#: Figures of a sample that get a median. Rates are recomputed from the medians of their
#: parts so that they agree with the printed wall time.
MEDIAN_KEYS = (
    "wall_s",
    "cpu_s",
    "events",
    "peak_rss_mb",
    "peak_pss_mb",
    "controller_rss_mb",
)


@dataclass
class Sample:
    """One timed run of a variant on ``hosts`` hosts.

    ``cpu_s`` is user plus system time of the run's process tree (children included, as far
    as they are waited for); ``peak_rss_mb`` the largest resident set of any one process of
    the tree; ``peak_pss_mb`` the largest sum of proportional set sizes over the tree,
    sampled; ``controller_rss_mb`` the peak RSS of the Python process that ran
    ansible-runner (None for plain ansible-playbook). ``events`` counts host-task results
    (``ok:``, ``changed:``, ``skipping:``, ``failed:``, ``fatal:`` lines, one per
    ansible-runner ``runner_on_*`` event); ``runner_events`` every ansible-runner event.
    """

    variant: str
    hosts: int
    repeat: int
    wall_s: float
    cpu_s: float
    events: int
    peak_rss_mb: float
    peak_pss_mb: float
    controller_rss_mb: float | None = None
    runner_events: int | None = None
    rc: int | None = None
    ok: bool = True
    note: str = ""
    #: The machine's 1-minute load average just before the run (others share it).
    load_before: float | None = None


@dataclass
class Figures:
    """Medians of the samples of one variant at one N, and the rates derived from them."""

    variant: str
    hosts: int
    samples: int
    wall_s: float
    cpu_s: float
    events: float
    hosts_per_min: float
    events_per_s: float
    peak_rss_mb: float
    peak_pss_mb: float
    controller_rss_mb: float | None
    wall_s_all: list[float] = field(default_factory=list)


def median(values: Iterable[float | None]) -> float | None:
    """The median of the values that are not None; None when there are none."""
    present = [float(value) for value in values if value is not None]
    return statistics.median(present) if present else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator`` rounded to 2 places; None when either is missing or 0."""
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 2)


def figures(samples: Sequence[Sample]) -> Figures:
    """Median figures of the samples of one variant at one N (all must share both)."""
    if not samples:
        raise ValueError("no samples to summarise")
    variant, hosts = samples[0].variant, samples[0].hosts
    if any(s.variant != variant or s.hosts != hosts for s in samples):
        raise ValueError("samples of different variants or host counts cannot be summarised")

    values = {key: median(getattr(s, key) for s in samples) for key in MEDIAN_KEYS}
    wall = values["wall_s"] or 0.0
    events = values["events"] or 0.0
    return Figures(
        variant=variant,
        hosts=hosts,
        samples=len(samples),
        wall_s=round(wall, 2),
        cpu_s=round(values["cpu_s"] or 0.0, 2),
        events=events,
        hosts_per_min=round(hosts * 60 / wall, 1) if wall else 0.0,
        events_per_s=round(events / wall, 1) if wall else 0.0,
        peak_rss_mb=round(values["peak_rss_mb"] or 0.0, 1),
        peak_pss_mb=round(values["peak_pss_mb"] or 0.0, 1),
        controller_rss_mb=(
            round(values["controller_rss_mb"], 1)
            if values["controller_rss_mb"] is not None
            else None
        ),
        wall_s_all=[round(s.wall_s, 2) for s in samples],
    )


def ratios(by_variant: Mapping[str, Figures]) -> dict[str, float | None]:
    """Wall-time and CPU ratios between the variants present: a/c, b/a (and m/c, am/a)."""
    wall = {name: fig.wall_s for name, fig in by_variant.items()}
    cpu = {name: fig.cpu_s for name, fig in by_variant.items()}
    result = {
        "a/c": ratio(wall.get("a"), wall.get("c")),
        "b/a": ratio(wall.get("b"), wall.get("a")),
        "a/c cpu": ratio(cpu.get("a"), cpu.get("c")),
        "b/a cpu": ratio(cpu.get("b"), cpu.get("a")),
    }
    if "m" in by_variant:
        result["m/c"] = ratio(wall.get("m"), wall.get("c"))
    if "am" in by_variant:
        result["am/a"] = ratio(wall.get("am"), wall.get("a"))
    return result


@dataclass(frozen=True)
class Target:
    """One target of the issue: a figure, the limit it must meet, and whether it does."""

    name: str
    limit: str
    value: float | None
    met: bool | None


def at_least(name: str, value: float | None, limit: float, unit: str = "") -> Target:
    met = None if value is None else value >= limit
    return Target(name, f">= {limit:g}{unit}", value, met)


def at_most(name: str, value: float | None, limit: float, unit: str = "") -> Target:
    met = None if value is None else value <= limit
    return Target(name, f"<= {limit:g}{unit}", value, met)


def memory_slope(points: Sequence[tuple[int, float]]) -> float | None:
    """Least-squares growth of memory per extra host (MB/host) over (hosts, MB) points."""
    if len(points) < 2 or len({hosts for hosts, _ in points}) < 2:
        return None
    xs = [float(hosts) for hosts, _ in points]
    ys = [mb for _, mb in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return round(sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread, 3)


def as_dict(value: Any) -> Any:
    """A dataclass (or a list or dict of them) as plain JSON-ready data."""
    if isinstance(value, list):
        return [as_dict(item) for item in value]
    if isinstance(value, dict):
        return {key: as_dict(item) for key, item in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    return value
