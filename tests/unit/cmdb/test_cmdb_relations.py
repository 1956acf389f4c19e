"""Impact (what depends on an asset, transitively) and the Graphviz drawing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli_cmdb import cmdb as cmdb_group
from runner.cmdb import Cmdb, graph_dot, impact, load_cmdb, write_graph
from runner.errors import CmdbError
from tests.unit.cmdb.cmdb_support import EXAMPLE, TODAY


@pytest.fixture(scope="module")
def example_cmdb() -> Cmdb:
    return load_cmdb(EXAMPLE, today=TODAY)


def test_impact_of_a_hypervisor_follows_runs_on_and_depends_on(example_cmdb: Cmdb) -> None:
    start, impacted = impact(example_cmdb, "hv01")

    assert start.name == "hv01"
    assert [(item.asset.name, item.depth, item.chain()) for item in impacted] == [
        ("vm-app01", 1, "vm-app01 runs_on hv01"),
        ("vm-db01", 1, "vm-db01 runs_on hv01"),
        ("svc-erp", 2, "svc-erp runs_on vm-app01 runs_on hv01"),
        ("svc-erp-db", 2, "svc-erp-db runs_on vm-db01 runs_on hv01"),
        ("svc-intranet", 3, "svc-intranet depends_on svc-erp-db runs_on vm-db01 runs_on hv01"),
    ]


def test_impact_by_tag_and_of_a_service(example_cmdb: Cmdb) -> None:
    start, impacted = impact(example_cmdb, "S-6001")

    assert start.name == "svc-erp-db"
    assert [item.asset.name for item in impacted] == ["svc-erp", "svc-intranet"]
    assert impacted[0].via == ("depends_on",)


def test_cables_and_backups_are_not_dependence(example_cmdb: Cmdb) -> None:
    _, of_switch = impact(example_cmdb, "sw-core01")
    _, of_nas = impact(example_cmdb, "nas01")

    assert [item.asset.name for item in of_switch] == ["sw-acc01"]  # its depends_on only
    assert [item.asset.name for item in of_nas] == ["bkp01"]  # depends_on, not backed_up_to


def test_impact_of_an_unknown_asset_names_the_near_ones(example_cmdb: Cmdb) -> None:
    with pytest.raises(CmdbError, match=r"no asset is named or tagged 'hv1' .*did you mean"):
        impact(example_cmdb, "hv1")


def test_impact_command_prints_a_tree() -> None:
    result = CliRunner().invoke(cmdb_group, ["impact", "vm-db01", "-i", str(EXAMPLE)])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "vm-db01 (vm, V-2001, critical)",
        "└── svc-erp-db (service, S-6001, critical)  runs_on vm-db01",
        "    ├── svc-erp (service, S-6002, critical)  depends_on svc-erp-db",
        "    └── svc-intranet (service, S-6004, medium)  depends_on svc-erp-db",
        "3 assets depend on vm-db01 (2 critical)",
    ]


def test_impact_command_json_and_nothing_depends() -> None:
    result = CliRunner().invoke(cmdb_group, ["impact", "pc-0101", "-i", str(EXAMPLE), "--json"])
    leaf = CliRunner().invoke(cmdb_group, ["impact", "pc-0101", "-i", str(EXAMPLE)])

    assert json.loads(result.stdout) == {"asset": "pc-0101", "impacted": []}
    assert leaf.stdout.splitlines()[-1] == "nothing depends on pc-0101"


def test_impact_command_with_unknown_asset_exits_1() -> None:
    result = CliRunner().invoke(cmdb_group, ["impact", "nope", "-i", str(EXAMPLE)])

    assert result.exit_code == 1
    assert result.stderr.startswith("error: no asset is named or tagged 'nope'")


def test_dot_has_every_asset_relation_and_port(example_cmdb: Cmdb) -> None:
    dot = graph_dot(example_cmdb)

    assert dot.startswith("digraph cmdb {\n") and dot.endswith("}\n")
    for item in example_cmdb.assets:
        assert f'  "{item.record.name}" [label=' in dot
    assert '"vm-db01" -> "hv01" [label=runs_on' in dot
    assert '"svc-erp" -> "svc-erp-db" [label=depends_on' in dot
    assert '"fs01" -> "nas01" [label=backed_up_to' in dot
    assert '"sw-acc01" -> "sw-core01" [dir=none, color="#95a5a6", taillabel="Te1/1/1", ' in dot
    assert 'subgraph "cluster_hq"' in dot and 'subgraph "cluster_branch"' in dot
    assert '"sw-old01" [label="sw-old01\\nswitch · N-3000", shape=hexagon' in dot
    assert "style=dashed" in dot.split('"sw-old01" [')[1].split("\n")[0]


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_graph_command_writes_dot_and_svg(tmp_path: Path) -> None:
    result = CliRunner().invoke(cmdb_group, ["graph", "-i", str(EXAMPLE), "-o", str(tmp_path)])

    assert result.exit_code == 0, result.output
    svg = (tmp_path / "cmdb.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert svg.count('class="node"') == 29
    assert "<title>hv01</title>" in svg and "svc&#45;erp&#45;db" in svg
    assert (tmp_path / "cmdb.dot").read_text(encoding="utf-8").startswith("digraph cmdb {")


def test_graph_without_graphviz_keeps_the_dot_and_says_how_to_install(
    example_cmdb,
    tmp_path: Path,
) -> None:
    with pytest.raises(CmdbError, match=r"install it with `apt-get install graphviz`"):
        write_graph(example_cmdb, tmp_path, dot_binary="no-such-dot")

    assert (tmp_path / "cmdb.dot").is_file()
    assert not (tmp_path / "cmdb.svg").exists()
