"""The benchmark's pure parts: verdict comparison, medians and ratios, the JSON shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bench import figures, hosts, procs, run, verdicts
from bench.figures import Sample
from runner.lab import Lab

REPORT = {
    "lab-srv01": [
        {"check_id": "linux.disk.usage", "subject": "/srv/data", "status": "fail", "value": 95},
        {"check_id": "linux.disk.usage", "subject": "/", "status": "ok", "value": 24.1},
        {"check_id": "linux.port.listening", "subject": "2222/tcp", "status": "ok", "value": True},
        {"check_id": "linux.load.per_core", "subject": "cpu", "status": "ok", "value": 0.4},
    ],
    "lab-srv02": [
        {"check_id": "linux.service.required", "subject": "cron", "status": "fail", "value": 0},
    ],
}

ROWS = [
    ("lab-srv01", "linux.disk.usage", "/srv/data", "fail"),
    ("lab-srv01", "linux.disk.usage", "/", "ok"),
    ("lab-srv01", "linux.port.listening", "2222/tcp", "ok"),
    ("lab-srv01", "linux.load.per_core", "cpu", "warn"),
    ("lab-srv01", "cmdb.drift", "", "ok"),
    ("lab-srv02", "linux.service.required", "cron", "fail"),
]


def _sample(variant: str, wall: float, hosts_: int = 10, **extra: float) -> Sample:
    values = {"cpu_s": wall / 2, "events": 100, "peak_rss_mb": 80.0, "peak_pss_mb": 200.0}
    values.update(extra)
    return Sample(variant=variant, hosts=hosts_, repeat=1, wall_s=wall, **values)  # type: ignore[arg-type]


# Verdicts ------------------------------------------------------------------------------


def test_the_same_verdicts_agree_and_load_is_not_compared() -> None:
    handwritten = verdicts.from_handwritten(REPORT)
    opskeeper = verdicts.from_rows(ROWS)
    assert verdicts.compare(handwritten, opskeeper) == []
    # lab-srv01's load differs (ok against warn) but is not a shared check; cmdb.drift
    # exists on one side only and is not one either.
    assert verdicts.count_compared(handwritten) == 4


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param(
            [(*row[:3], "warn") if row[2] == "/srv/data" else row for row in ROWS],
            [
                "lab-srv01: linux.disk.usage '/srv/data': hand-written says fail, "
                "Opskeeper says warn"
            ],
            id="status-differs",
        ),
        pytest.param(
            [row for row in ROWS if row[2] != "/"],
            ["lab-srv01: linux.disk.usage '/': hand-written says ok, Opskeeper says nothing"],
            id="subject-missing",
        ),
        pytest.param(
            [*ROWS, ("lab-srv01", "linux.disk.usage", "/boot", "ok")],
            ["lab-srv01: linux.disk.usage '/boot': hand-written says nothing, Opskeeper says ok"],
            id="extra-subject",
        ),
        pytest.param(
            [*ROWS, ("lab-srv03", "linux.uptime", "system", "ok")],
            ["lab-srv03: linux.uptime 'system': hand-written says nothing, Opskeeper says ok"],
            id="extra-host",
        ),
    ],
)
def test_every_difference_is_a_mismatch(
    rows: list[tuple[str, str, str, str]], expected: list[str]
) -> None:
    mismatches = verdicts.compare(verdicts.from_handwritten(REPORT), verdicts.from_rows(rows))
    assert [m.describe() for m in mismatches] == expected


def test_planted_faults_that_a_run_misses() -> None:
    planted = [
        ("lab-srv01", "linux.disk.usage", "/srv/data", "fail"),
        ("lab-srv02", "linux.service.required", "cron", "fail"),
        ("lab-srv02", "linux.process.required", "cron", "fail"),
    ]
    found = verdicts.from_rows(ROWS)
    assert verdicts.missing_planted(found, planted) == [planted[2]]


def test_planted_faults_exist_only_among_the_hosts_that_run() -> None:
    assert hosts.planted(2) == [
        ("lab-srv01", "linux.disk.usage", "/srv/data", "fail"),
        ("lab-srv02", "linux.disk.usage", "/srv/data", "warn"),
    ]
    assert {fault[0] for fault in hosts.planted(200)} == {
        "lab-srv01",
        "lab-srv02",
        "lab-srv03",
        "lab-srv04",
    }


def test_the_hand_written_playbook_and_the_role_know_the_same_checks() -> None:
    """Every shared check id appears in the hand-written playbook and in the role's docs."""
    playbook = (run.HANDWRITTEN).read_text()
    role_readme = (Path(run.BENCH).parent / "roles/inspect_linux/README.md").read_text()
    for check in (*verdicts.SHARED_CHECKS, *verdicts.NOT_COMPARED):
        assert f"'{check}'" in playbook, check
        assert f"`{check}`" in role_readme, check


# Medians and ratios --------------------------------------------------------------------


def test_medians_and_rates() -> None:
    fig = figures.figures([_sample("c", 30.0), _sample("c", 10.0), _sample("c", 20.0)])
    assert (fig.wall_s, fig.cpu_s, fig.samples) == (20.0, 10.0, 3)
    assert fig.hosts_per_min == 30.0
    assert fig.events_per_s == 5.0
    assert fig.wall_s_all == [30.0, 10.0, 20.0]
    assert fig.controller_rss_mb is None


def test_median_of_an_even_count_and_of_nothing() -> None:
    assert figures.median([1.0, 4.0, None, 2.0, 3.0]) == 2.5
    assert figures.median([None]) is None


def test_samples_of_different_runs_are_not_mixed() -> None:
    with pytest.raises(ValueError, match="different variants"):
        figures.figures([_sample("a", 1.0), _sample("c", 1.0)])
    with pytest.raises(ValueError, match="no samples"):
        figures.figures([])


def test_ratios_between_variants() -> None:
    by_variant = {
        "a": figures.figures([_sample("a", 90.0)]),
        "b": figures.figures([_sample("b", 99.0)]),
        "c": figures.figures([_sample("c", 30.0)]),
    }
    ratios = figures.ratios(by_variant)
    assert ratios["a/c"] == 3.0
    assert ratios["b/a"] == 1.1
    assert ratios["a/c cpu"] == 3.0
    assert "m/c" not in ratios
    assert figures.ratio(1.0, 0.0) is None
    assert figures.ratio(None, 2.0) is None


def test_targets_say_whether_they_are_met() -> None:
    assert figures.at_least("a/c", 3.0, 3).met is True
    assert figures.at_least("a/c", 2.99, 3).met is False
    assert figures.at_most("b/a", 1.1, 1.10).met is True
    assert figures.at_most("report", None, 5, " s") == figures.Target(
        "report", "<= 5 s", None, None
    )


def test_memory_growth_per_host() -> None:
    assert figures.memory_slope([(10, 100.0), (50, 100.0), (200, 100.0)]) == 0.0
    assert figures.memory_slope([(10, 110.0), (110, 160.0)]) == 0.5
    assert figures.memory_slope([(10, 100.0)]) is None


# Running and the JSON document ---------------------------------------------------------


def test_variants_take_turns() -> None:
    assert [run._order(["a", "b", "c"], r) for r in (1, 2, 3, 4)] == [
        ["a", "b", "c"],
        ["b", "c", "a"],
        ["c", "a", "b"],
        ["a", "b", "c"],
    ]


def test_results_are_counted_from_ansible_output() -> None:
    output = (
        "TASK [Measure] ****\n"
        "ok: [lab-srv01]\n"
        "changed: [lab-srv02 -> localhost]\n"
        "skipping: [lab-srv03]\n"
        "fatal: [lab-srv04]: UNREACHABLE! => {}\n"
        "failed: [lab-srv05] (item=x) => {}\n"
        "PLAY RECAP ****\n"
        "lab-srv01 : ok=2 changed=0\n"
    )
    assert len(run.RESULT_LINE.findall(output)) == 5


def test_variant_environments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANSIBLE_FORKS", "99")
    monkeypatch.setenv("OPSKEEPER_STRATEGY", "mitogen")
    plain = run._environment("a", tmp_path)
    assert plain["ANSIBLE_CONFIG"] == str(run.EMPTY_CONFIG)
    assert "ANSIBLE_FORKS" not in plain and "OPSKEEPER_STRATEGY" not in plain
    assert run.EMPTY_CONFIG.read_text().strip().startswith("#")
    assert all(line.startswith("#") for line in run.EMPTY_CONFIG.read_text().splitlines())
    inspection = run._environment("c", tmp_path)
    assert "ANSIBLE_CONFIG" not in inspection
    assert inspection["OPSKEEPER_STATE_DIR"] == str(tmp_path)
    assert run._environment("m", tmp_path)["OPSKEEPER_STRATEGY"] == "mitogen"


def test_the_inventory_of_the_bench_lab(tmp_path: Path) -> None:
    lab = hosts.bench_lab(tmp_path / "bench", tmp_path / "base")
    path = hosts.write_inventory(lab, 3, tmp_path / "inventory.yml")
    group = yaml.safe_load(path.read_text())["linux"]["children"]["bench_servers"]
    assert group["hosts"] == {
        "lab-srv01": {"ansible_host": "127.0.11.1"},
        "lab-srv02": {"ansible_host": "127.0.11.2"},
        "lab-srv03": {"ansible_host": "127.0.11.3"},
    }
    assert group["vars"]["ansible_ssh_private_key_file"] == str(lab.ssh_key)
    assert f"UserKnownHostsFile={lab.known_hosts}" in group["vars"]["ansible_ssh_common_args"]
    assert lab.known_hosts.is_relative_to(tmp_path / "bench")
    assert lab.base_dir == (tmp_path / "base").resolve()
    assert lab.inventory_dir != Lab().inventory_dir


def test_control_paths_follow_ansible() -> None:
    path = procs.control_path("127.0.11.7", 2222, "root", Path("/root/.ansible/cp"))
    # sha1("127.0.11.7-2222-root")[:10], Ansible's own naming of the socket.
    assert path == Path("/root/.ansible/cp/ba28442e6e")


def test_a_measured_command(tmp_path: Path) -> None:
    measured = procs.measure(
        ["sh", "-c", "echo hello; exit 3"],
        {"PATH": "/usr/bin:/bin"},
        tmp_path,
        tmp_path / "log",
        30,
    )
    assert measured.rc == 3
    assert (tmp_path / "log").read_text() == "hello\n"
    assert measured.wall_s >= 0 and measured.cpu_s >= 0
    assert measured.peak_rss_mb > 0


def test_the_json_document_holds_every_figure() -> None:
    samples = [_sample(v, w, controller_rss_mb=90.0) for v, w in (("a", 90), ("b", 95), ("c", 30))]
    size = {
        "hosts": 50,
        "samples": figures.as_dict(samples),
        "figures": {s.variant: figures.as_dict(figures.figures([s])) for s in samples},
        "ratios": figures.ratios({s.variant: figures.figures([s]) for s in samples}),
        "verdicts": [{"repeat": 1, "agree": True, "pairs": [], "planted_missing": {}}],
    }
    store = {
        "store": {"known_hosts_results_per_s": 80_000.0},
        "report": {"html_total_s": 3.1},
    }
    found = run.targets([size], store)
    assert [(t.name, t.met) for t in found] == [
        ("a/c at N = 50", True),
        ("b/a at N = 50", True),
        ("check results stored per second (SQLite, known hosts)", True),
        ("daily HTML report of 100,000 results (s)", True),
    ]
    memory = run.memory_vs_n([size])
    assert memory["points"]["c"] == [
        {"hosts": 50, "peak_pss_mb": 200.0, "peak_rss_mb": 80.0, "controller_rss_mb": 90.0}
    ]
    text = json.dumps({"sizes": [size], "targets": figures.as_dict(found), "memory": memory})
    figure = json.loads(text)["sizes"][0]["figures"]["c"]
    assert set(figure) == {
        "variant",
        "hosts",
        "samples",
        "wall_s",
        "cpu_s",
        "events",
        "hosts_per_min",
        "events_per_s",
        "peak_rss_mb",
        "peak_pss_mb",
        "controller_rss_mb",
        "wall_s_all",
    }
