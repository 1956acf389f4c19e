"""``make bench``: Opskeeper's inspection against the playbook a team would write by hand.

For each host count N the benchmark brings up N bench lab hosts (bench/hosts.py), plants a
few faults, and runs in turns, ``--repeats`` times each:

* (a) plain ``ansible-playbook`` with an empty ansible.cfg on bench/handwritten.yml;
* (b) the same playbook through Opskeeper's runner (bench/phase.py);
* (c) Opskeeper's inspection, as ``opskeeper inspect`` runs it, into a throwaway store;
* (m) with ``--mitogen``: (c) with the opt-in mitogen strategy.

Every run is a child process measured on its own (bench/procs.py). After each repeat the
verdicts of (a) and (c) are compared (bench/verdicts.py). Then the store and the daily
report are timed on synthetic results (bench/storebench.py). The figures are printed and
written to ``bench/results/<UTC time>.json`` and ``bench/results/latest.json``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import os
import platform
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench import figures, hosts, procs, storebench, verdicts
from bench.figures import Sample
from runner import config
from runner.errors import OpskeeperError
from runner.fsutil import write_atomic
from runner.jobs import STRATEGY_ENV, strategy_settings
from runner.lab import SSH_PORT, Lab, server_spec
from runner.store import open_store

log = logging.getLogger(__name__)

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
HANDWRITTEN = BENCH / "handwritten.yml"
EMPTY_CONFIG = BENCH / "empty-ansible.cfg"
BIN = Path(sys.executable).parent

DEFAULT_SIZES = (10, 50, 200)
DEFAULT_VARIANTS = ("a", "b", "c", "m")
#: Variants that run ansible-playbook directly, with the empty ansible.cfg.
PLAIN = ("a", "am")
DEFAULT_REPEATS = 3
REPORT_RESULTS = 100_000
RUN_TIMEOUT = 3600.0

#: A host-task result line of Ansible's default output (one per ``runner_on_*`` event).
RESULT_LINE = re.compile(r"^(ok|changed|skipping|failed|fatal): \[", re.MULTILINE)

console = Console(highlight=False, soft_wrap=True)


@dataclass
class Bench:
    """One invocation: where it works, what it runs, and how to reach the bench hosts."""

    lab: Lab
    work: Path
    variants: list[str]
    started: float

    def say(self, line: str) -> None:
        elapsed = time.monotonic() - self.started
        console.print(f"[dim]{elapsed / 60:5.1f} min[/dim]  {escape(line)}")


# Running one variant -------------------------------------------------------------------


def _environment(variant: str, state: Path) -> dict[str, str]:
    """The child's environment: this one without Ansible or Opskeeper settings, plus the
    variant's own. (a) gets only ANSIBLE_CONFIG, pointing at the empty file."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ANSIBLE_", "OPSKEEPER_"))
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    if variant in PLAIN:
        env["ANSIBLE_CONFIG"] = str(EMPTY_CONFIG)
    else:
        env[config.STATE_DIR_ENV] = str(state)
    if variant == "am":
        # How a user turns mitogen on for one run, without an ansible.cfg.
        env.update(strategy_settings("mitogen"))
    if variant == "m":
        env[STRATEGY_ENV] = "mitogen"
    return env


def _argv(variant: str, inventory: Path, out: Path) -> list[str]:
    if variant in PLAIN:
        return [
            str(BIN / "ansible-playbook"),
            "-i",
            str(inventory),
            str(HANDWRITTEN),
            "-e",
            f"bench_report={out / 'verdicts.json'}",
        ]
    argv = [sys.executable, "-m", "bench.phase", variant]
    argv += ["--inventory", str(inventory), "--db-url", f"sqlite:///{out / 'store.db'}"]
    argv += ["--out", str(out / "summary.json")]
    if variant == "b":
        argv += ["--report", str(out / "verdicts.json")]
    return argv


def _stored_verdicts(database: Path) -> verdicts.Verdicts:
    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            "SELECT hosts.name, check_id, subject, status FROM check_results "
            "JOIN hosts ON hosts.id = check_results.host_id"
        ).fetchall()
    return verdicts.from_rows(rows)


@dataclass
class Outcome:
    """What a finished run left behind, read after the clock stopped."""

    events: int
    runner_events: int | None
    controller_mb: float | None
    verdicts: verdicts.Verdicts | None
    note: str


def _outcome(variant: str, out: Path, state: Path) -> Outcome:
    """Read a run's output: its host-task results, its summary (b, c, m) and its verdicts.

    The runner's private data folder holds one file per event; only its stdout is kept.
    """
    note, controller_mb, runner_events = "", None, None
    stdout = out / "output.log"
    if variant not in PLAIN:
        try:
            summary = json.loads((out / "summary.json").read_text())
        except (OSError, ValueError):
            summary = {}
            note = f"no summary from the run; see {out / 'output.log'}"
        if summary:
            controller_mb = summary["controller_maxrss_kb"] / 1024
            runner_events = summary["events"]
            stdout = Path(summary["stdout"])
            if summary["status"] != "finished":
                note = f"run {summary['status']}"
            private = stdout.parents[2]
            if private.parent == state / "runs" and stdout.is_file():
                stdout = Path(shutil.copy(stdout, out / "runner-stdout.log"))
                shutil.rmtree(private, ignore_errors=True)
    try:
        events = len(RESULT_LINE.findall(stdout.read_text(errors="replace")))
    except OSError:
        events = 0

    found: verdicts.Verdicts | None = None
    if (out / "verdicts.json").is_file():
        found = verdicts.from_handwritten(json.loads((out / "verdicts.json").read_text()))
    elif (out / "store.db").is_file():
        found = _stored_verdicts(out / "store.db")
    return Outcome(events, runner_events, controller_mb, found, note)


def run_variant(
    bench: Bench, variant: str, count: int, repeat: int, inventory: Path
) -> tuple[Sample, verdicts.Verdicts | None]:
    """Run one variant on ``count`` hosts once; return its sample and its verdicts."""
    out = bench.work / f"n{count:03d}-r{repeat}-{variant}"
    out.mkdir(parents=True)
    state = bench.work / "state"
    if variant not in PLAIN:
        # The store exists and is migrated before the clock starts, as on any night but
        # the first.
        open_store(f"sqlite:///{out / 'store.db'}").engine.dispose()

    def tick(elapsed: float) -> None:
        logs = [out / "output.log", *state.glob("runs/*/artifacts/*/stdout")]
        done = sum(len(RESULT_LINE.findall(path.read_text(errors="replace"))) for path in logs)
        bench.say(f"    ... ({variant}) {elapsed / 60:.0f} min, {done} host-task results so far")

    load = os.getloadavg()[0]
    measured = procs.measure(
        _argv(variant, inventory, out),
        _environment(variant, state),
        out if variant in PLAIN else config.REPO_ROOT,
        out / "output.log",
        RUN_TIMEOUT,
        tick,
    )
    # No run may inherit the SSH connections of the one before.
    procs.close_masters(
        [
            procs.control_path(spec.address, SSH_PORT, hosts.USER, _cp_dir())
            for spec in (server_spec(i, hosts.SUBNET) for i in range(1, count + 1))
        ]
    )

    outcome = _outcome(variant, out, state)
    note = outcome.note
    if measured.rc != 0 and not note:
        note = f"exit code {measured.rc}; see {out / 'output.log'}"
    if outcome.verdicts is None and not note:
        note = "no verdicts"
    sample = Sample(
        variant=variant,
        hosts=count,
        repeat=repeat,
        wall_s=round(measured.wall_s, 2),
        cpu_s=round(measured.cpu_s, 2),
        events=outcome.events,
        peak_rss_mb=round(measured.peak_rss_mb, 1),
        peak_pss_mb=round(measured.peak_pss_mb, 1),
        controller_rss_mb=(
            round(outcome.controller_mb, 1) if outcome.controller_mb is not None else None
        ),
        runner_events=outcome.runner_events,
        rc=measured.rc,
        ok=not note,
        note=note,
        load_before=round(load, 2),
    )
    return sample, outcome.verdicts


def _cp_dir() -> Path:
    """Where Ansible's ssh connection keeps its ControlMaster sockets (its default)."""
    return Path.home() / ".ansible" / "cp"


# One host count ------------------------------------------------------------------------


def _order(variants: Sequence[str], repeat: int) -> list[str]:
    """Variants rotated by repeat, so that none always runs first (cold caches) or last."""
    shift = (repeat - 1) % len(variants)
    return [*variants[shift:], *variants[:shift]]


def _describe(sample: Sample) -> str:
    rate = sample.hosts * 60 / sample.wall_s if sample.wall_s else 0.0
    line = (
        f"{sample.wall_s:7.1f} s wall  {sample.cpu_s:7.1f} s CPU  {rate:6.0f} hosts/min  "
        f"{sample.events / sample.wall_s if sample.wall_s else 0:6.1f} events/s  "
        f"{sample.peak_pss_mb:6.0f} MB PSS"
    )
    return line + (f"  [{sample.note}]" if sample.note else "")


def bench_size(bench: Bench, count: int, repeats: int) -> dict[str, Any]:
    """Bring up ``count`` hosts, run every variant ``repeats`` times, compare verdicts."""
    bench.say(f"N = {count}: starting bench hosts on {hosts.SUBNET}.1-{count}")
    began = time.monotonic()
    bench.lab.up(count)
    hosts.plant_faults(bench.lab, count, lambda line: log.info("%s", line))
    hosts.warm_apt_caches(bench.lab, count)
    bench.say(
        f"N = {count}: {count} hosts up, faults planted, apt caches built "
        f"({time.monotonic() - began:.1f} s)"
    )
    inventory = hosts.write_inventory(bench.lab, count, bench.work / f"inventory-{count}.yml")
    planted = hosts.planted(count)

    samples: list[Sample] = []
    checks: list[dict[str, Any]] = []
    for repeat in range(1, repeats + 1):
        found: dict[str, verdicts.Verdicts | None] = {}
        for variant in _order(bench.variants, repeat):
            label = f"N = {count}, repeat {repeat}/{repeats}, ({variant})"
            bench.say(f"{label} {figures.VARIANTS[variant]} ...")
            sample, found[variant] = run_variant(bench, variant, count, repeat, inventory)
            samples.append(sample)
            bench.say(f"{label} {_describe(sample)}")
        checks.append(_check_verdicts(bench, count, repeat, found, planted))

    by_variant = {
        variant: figures.figures([s for s in samples if s.variant == variant])
        for variant in bench.variants
    }
    ratios = figures.ratios(by_variant)
    bench.say(f"N = {count}: " + ", ".join(f"{k} = {v}" for k, v in ratios.items() if v))
    return {
        "hosts": count,
        "samples": figures.as_dict(samples),
        "figures": {name: figures.as_dict(fig) for name, fig in by_variant.items()},
        "ratios": ratios,
        "verdicts": checks,
    }


def _check_verdicts(
    bench: Bench,
    count: int,
    repeat: int,
    found: dict[str, verdicts.Verdicts | None],
    planted: list[tuple[str, str, str, str]],
) -> dict[str, Any]:
    """Compare (a) with (c) (and with b and m when they ran); check the planted faults."""
    result: dict[str, Any] = {"repeat": repeat, "pairs": [], "planted_missing": {}}
    handwritten = found.get("a")
    for other in ("c", "b", "m", "am"):
        if other not in found or handwritten is None:
            continue
        theirs = found[other]
        mismatches = verdicts.compare(handwritten, theirs or {})
        result["pairs"].append(
            {
                "pair": f"a~{other}",
                "compared": verdicts.count_compared(handwritten),
                "mismatches": [m.describe() for m in mismatches],
            }
        )
        if mismatches:
            bench.say(f"N = {count}, repeat {repeat}: (a) and ({other}) disagree:")
            for mismatch in mismatches[:10]:
                console.print(f"    [red]{escape(mismatch.describe())}[/red]")
    for variant, theirs in found.items():
        missing = verdicts.missing_planted(theirs or {}, planted)
        if missing:
            result["planted_missing"][variant] = [list(fault) for fault in missing]
            bench.say(f"N = {count}: ({variant}) missed planted faults: {missing}")
    agree = all(not pair["mismatches"] for pair in result["pairs"])
    result["agree"] = agree and not result["planted_missing"] and bool(result["pairs"])
    if result["agree"]:
        compared = result["pairs"][0]["compared"]
        bench.say(
            f"N = {count}, repeat {repeat}: verdicts agree ({compared} shared verdicts of "
            f"(a) compared; {len(planted)} planted faults found by each run)"
        )
    return result


# The whole benchmark -------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    meminfo = Path("/proc/meminfo").read_text()
    total_kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))  # type: ignore[union-attr]
    os_name = "unknown"
    release = Path("/etc/os-release")
    if release.is_file():
        match = re.search(r'^PRETTY_NAME="?([^"\n]*)', release.read_text(), re.MULTILINE)
        os_name = match.group(1) if match else os_name

    def version(package: str) -> str | None:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": round(total_kb / 1024 / 1024, 1),
        "os": os_name,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "ansible_core": version("ansible-core"),
        "ansible_runner": version("ansible-runner"),
        "mitogen": version("mitogen"),
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
        "git_commit": _git_commit(),
    }


def _git_commit() -> str | None:
    done = subprocess.run(
        ["git", "-C", str(config.REPO_ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or None


def _cpu_model() -> str | None:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else None


def store_and_report(bench: Bench, repeats: int) -> dict[str, Any]:
    """Median store throughput and report time over ``repeats`` rounds."""
    stores, reports = [], []
    for round_ in range(1, repeats + 1):
        folder = bench.work / f"store-{round_}"
        folder.mkdir()
        stores.append(storebench.measure_store(folder, REPORT_RESULTS, seed=round_))
        reports.append(storebench.measure_report(folder, REPORT_RESULTS, seed=round_))
        shutil.rmtree(folder)
        bench.say(
            f"store and report, round {round_}/{repeats}: "
            f"{stores[-1].known_hosts_results_per_s:,.0f} results/s into SQLite "
            f"({stores[-1].new_hosts_results_per_s:,.0f}/s for new hosts); daily report of "
            f"{reports[-1].results:,} results in {reports[-1].html_total_s:.2f} s "
            f"(build {reports[-1].build_s:.2f} s, HTML {reports[-1].render_html_s:.2f} s)"
        )

    def med(values: list[float]) -> float:
        return round(figures.median(values) or 0.0, 2)

    return {
        "store": {
            "results": REPORT_RESULTS,
            "batch": storebench.BATCH,
            "known_hosts_results_per_s": med([s.known_hosts_results_per_s for s in stores]),
            "new_hosts_results_per_s": med([s.new_hosts_results_per_s for s in stores]),
            "rounds": figures.as_dict(stores),
        },
        "report": {
            "results": REPORT_RESULTS,
            "build_s": med([r.build_s for r in reports]),
            "render_html_s": med([r.render_html_s for r in reports]),
            "html_total_s": med([r.html_total_s for r in reports]),
            "json_s": med([r.json_s for r in reports]),
            "rounds": figures.as_dict(reports),
        },
    }


def memory_vs_n(sizes: list[dict[str, Any]]) -> dict[str, Any]:
    """Controller memory of each variant against N, and its growth per host."""
    table: dict[str, list[dict[str, Any]]] = {}
    slopes: dict[str, dict[str, float | None]] = {}
    for variant in {name for size in sizes for name in size["figures"]}:
        points = [
            {
                "hosts": size["hosts"],
                "peak_pss_mb": size["figures"][variant]["peak_pss_mb"],
                "peak_rss_mb": size["figures"][variant]["peak_rss_mb"],
                "controller_rss_mb": size["figures"][variant]["controller_rss_mb"],
            }
            for size in sizes
            if variant in size["figures"]
        ]
        table[variant] = points
        slopes[variant] = {
            key: figures.memory_slope([(p["hosts"], p[key]) for p in points if p[key] is not None])
            for key in ("peak_pss_mb", "controller_rss_mb")
        }
    return {"points": table, "mb_per_host": slopes}


def targets(sizes: list[dict[str, Any]], store_report: dict[str, Any]) -> list[figures.Target]:
    """The issue's targets, judged on the figures."""
    found: list[figures.Target] = []
    for size in sizes:
        if size["hosts"] >= 50:
            found.append(figures.at_least(f"a/c at N = {size['hosts']}", size["ratios"]["a/c"], 3))
    for size in sizes:
        found.append(figures.at_most(f"b/a at N = {size['hosts']}", size["ratios"]["b/a"], 1.10))
    found.append(
        figures.at_least(
            "check results stored per second (SQLite, known hosts)",
            store_report["store"]["known_hosts_results_per_s"],
            50_000,
        )
    )
    found.append(
        figures.at_most(
            "daily HTML report of 100,000 results (s)",
            store_report["report"]["html_total_s"],
            5,
            " s",
        )
    )
    return found


def _print_summary(document: dict[str, Any]) -> None:
    table = Table(title="Inspection benchmark (medians)", title_justify="left")
    for column in ("N", "run", "wall s", "CPU s", "hosts/min", "events/s", "RSS MB", "PSS MB"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for size in document["sizes"]:
        for variant, fig in size["figures"].items():
            table.add_row(
                str(size["hosts"]),
                f"({variant})",
                f"{fig['wall_s']:.1f}",
                f"{fig['cpu_s']:.1f}",
                f"{fig['hosts_per_min']:.0f}",
                f"{fig['events_per_s']:.1f}",
                f"{fig['peak_rss_mb']:.0f}",
                f"{fig['peak_pss_mb']:.0f}",
                end_section=variant == list(size["figures"])[-1],
            )
    console.print(table)
    for size in document["sizes"]:
        ratios = ", ".join(f"{k} {v}" for k, v in size["ratios"].items() if v is not None)
        console.print(f"N = {size['hosts']}: {ratios}")
    store = document["store_and_report"]
    if store:
        console.print(
            f"store: {store['store']['known_hosts_results_per_s']:,.0f} check results/s into "
            f"SQLite; daily report of {store['report']['results']:,} results: "
            f"{store['report']['html_total_s']:.2f} s"
        )
    marks = {True: "[green]met[/green]", False: "[red]NOT met[/red]", None: "n/a"}
    for target in document["targets"]:
        console.print(
            f"  {target['name']}: {target['value']} ({target['limit']}) {marks[target['met']]}"
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, DEFAULT_SIZES)),
        help="host counts, comma-separated (default %(default)s; at most 200)",
    )
    parser.add_argument(
        "--repeats", type=int, default=DEFAULT_REPEATS, help="runs per variant and N"
    )
    parser.add_argument(
        "--variants",
        default=",".join(DEFAULT_VARIANTS),
        help="runs to make, comma-separated, from: "
        + "; ".join(f"{key} = {text}" for key, text in figures.VARIANTS.items())
        + " (default %(default)s)",
    )
    parser.add_argument(
        "--skip-store", action="store_true", help="leave out the store and report figures"
    )
    parser.add_argument("--keep-up", action="store_true", help="leave the bench hosts running")
    parser.add_argument("--down", action="store_true", help="only stop the bench hosts")
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help="results folder (default bench/results)"
    )
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(size) for size in str(args.sizes).split(",") if size.strip()]
    except ValueError:
        parser.error(f"--sizes {args.sizes!r}: give host counts like 10,50,200")
    if not args.sizes or any(not 1 <= size <= 200 for size in args.sizes):
        parser.error(f"--sizes {args.sizes}: each host count must be 1 to 200")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    args.variants = [v.strip() for v in str(args.variants).split(",") if v.strip()]
    unknown = [v for v in args.variants if v not in figures.VARIANTS]
    if unknown or not args.variants:
        parser.error(f"--variants: {unknown or 'none'}; choose from {', '.join(figures.VARIANTS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    state = config.state_dir() / "bench"
    main_lab = Lab()
    lab = hosts.bench_lab(state, main_lab.base_dir)
    try:
        if args.down:
            stopped = lab.down()
            console.print(f"stopped {len(stopped)} bench hosts")
            return 0
        return _run(args, argv, main_lab, lab, state)
    except OpskeeperError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        return 1


def _run(
    args: argparse.Namespace, argv: Sequence[str] | None, main_lab: Lab, lab: Lab, state: Path
) -> int:
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    work = state / "work" / stamp
    work.mkdir(parents=True)
    variants = args.variants
    bench = Bench(lab=lab, work=work, variants=variants, started=time.monotonic())
    command = shlex.join(["python", "-m", "bench", *(argv if argv is not None else sys.argv[1:])])
    document: dict[str, Any] = {
        "schema": figures.SCHEMA_VERSION,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "machine": machine(),
        "settings": {
            "sizes": args.sizes,
            "repeats": args.repeats,
            "variants": {v: figures.VARIANTS[v] for v in variants},
            "definitions": figures.DEFINITIONS,
            "bench_subnet": hosts.SUBNET,
            "shared_checks": list(verdicts.SHARED_CHECKS),
            "not_compared": verdicts.NOT_COMPARED,
            "planted": [list(fault) for fault in hosts.PLANTED],
        },
        "sizes": [],
        "store_and_report": {},
    }
    bench.say(f"benchmark {stamp}: sizes {args.sizes}, {args.repeats} repeats, runs {variants}")
    bench.say(f"work folder {work}")
    main_lab.ensure_base(progress=bench.say)
    try:
        for count in args.sizes:
            document["sizes"].append(bench_size(bench, count, args.repeats))
    finally:
        if not args.keep_up:
            stopped = lab.down()
            bench.say(f"stopped {len(stopped)} bench hosts")
    if not args.skip_store:
        document["store_and_report"] = store_and_report(bench, args.repeats)

    document["memory_vs_n"] = memory_vs_n(document["sizes"])
    found = targets(document["sizes"], document["store_and_report"]) if not args.skip_store else []
    document["targets"] = figures.as_dict(found)
    agree = all(check["agree"] for size in document["sizes"] for check in size["verdicts"])
    document["verdicts_agree"] = agree
    document["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    document["duration_s"] = round(time.monotonic() - bench.started, 1)

    args.output.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2) + "\n"
    path = write_atomic(args.output / f"{stamp}.json", text)
    write_atomic(args.output / "latest.json", text)
    _print_summary(document)
    console.print(f"results: {path}")
    if not agree:
        console.print("[red]the verdicts of (a) and (c) differ: see the lines above[/red]")
        return 1
    return 0
