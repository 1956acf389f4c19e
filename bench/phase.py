"""One run of variant b, c or m in a process of its own, so that it can be measured alone.

``python -m bench.phase VARIANT --inventory FILE --db-url URL --out FILE [--report FILE]``
runs the job through :func:`runner.jobs.run_job` exactly as ``opskeeper inspect`` does (minus
the report), then writes a small JSON summary to ``--out``. The parent measures this process
and its children (bench/procs.py); nothing after the job is worth measuring, so the summary
holds only what the job returned and this process's own peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
from pathlib import Path

from runner import config, inspection
from runner.jobs import JobResult, JobSpec, prepare, run_job
from runner.store import Store, open_store

BENCH = Path(__file__).resolve().parent
HANDWRITTEN = BENCH / "handwritten.yml"
EMPTY_CONFIG = BENCH / "empty-ansible.cfg"


def handwritten_spec(inventory: Path, report: Path | None) -> JobSpec:
    """Variant b: the hand-written playbook through the runner, with the empty ansible.cfg."""
    return JobSpec(
        kind="bench-handwritten",
        playbook=HANDWRITTEN,
        inventory=inventory,
        host_pattern="linux",
        extravars={"bench_report": str(report)} if report else {},
        ansible_config=EMPTY_CONFIG,
    )


def run_variant(variant: str, store: Store, inventory: Path, report: Path | None) -> JobResult:
    """Run variant b (hand-written playbook), c (``opskeeper inspect``'s job) or m (c with
    the mitogen strategy, which the parent selects through OPSKEEPER_STRATEGY)."""
    if variant == "b":
        spec = handwritten_spec(inventory, report)
        return run_job(store, spec, prepare(spec))
    return inspection.run(store, inspection.plan("inspect", inventory))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.phase")
    parser.add_argument("variant", choices=["b", "c", "m"])
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--report", type=Path)
    args = parser.parse_args()

    store = open_store(args.db_url)
    result = run_variant(args.variant, store, args.inventory, args.report)

    summary = {
        "run_id": result.run_id,
        "status": result.status,
        "rc": result.rc,
        "events": result.events,
        "counts": result.counts,
        "stdout": str(result.private_data_dir / "artifacts" / result.run_id / "stdout"),
        "state_dir": str(config.state_dir()),
        "controller_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    args.out.write_text(json.dumps(summary) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
