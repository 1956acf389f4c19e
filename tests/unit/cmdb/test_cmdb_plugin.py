"""The opskeeper_cmdb inventory plugin, through ``ansible-inventory`` as Ansible runs it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from tests.unit.cmdb.cmdb_support import (
    HERE,
    REPO,
    ansible_inventory,
    ansible_playbook,
)

GOLDEN = HERE / "golden" / "example-list.json"


def _regen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cmdb_regen_golden", HERE / "regen_golden.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _hosts(listing: dict[str, object]) -> set[str]:
    meta = listing["_meta"]
    assert isinstance(meta, dict)
    return set(meta["hostvars"])


def test_example_inventory_matches_the_golden_file() -> None:
    regen = _regen()

    produced = regen.render(regen.inventory_list())

    assert produced == GOLDEN.read_text(encoding="utf-8"), (
        "the inventory changed: review it, then run tests/unit/cmdb/regen_golden.py"
    )


def test_golden_file_shows_the_promised_groups_and_vars() -> None:
    listing = json.loads(GOLDEN.read_text(encoding="utf-8"))
    hostvars = listing["_meta"]["hostvars"]

    assert listing["linux"]["hosts"] == sorted(
        [
            "bkp01",
            "fs01",
            "hv01",
            "hv02",
            "ops01",
            "srv-br01",
            "srv-br02",
            "vm-app01",
            "vm-db01",
            "vm-web01",
        ]
    )
    assert listing["ios"]["hosts"] == ["rtr-br01", "sw-acc01", "sw-br01", "sw-core01"]
    assert listing["windows"]["hosts"] == ["dc01", "pc-0101", "pc-0102", "pc-0201"]
    assert listing["site_branch"]["hosts"] == [
        "cop-br01",
        "pc-0201",
        "rtr-br01",
        "srv-br01",
        "srv-br02",
        "sw-br01",
    ]
    assert listing["lifecycle_maintenance"]["hosts"] == ["bkp01"]
    assert listing["tag_erp"]["hosts"] == ["vm-app01", "vm-db01"]
    assert "pc-0103" not in hostvars and "sw-old01" not in hostvars
    assert hostvars["hv01"]["ansible_host"] == "192.0.2.11"
    assert hostvars["hv01"]["cmdb"]["tag"] == "A-1001"
    assert hostvars["sw-core01"]["ansible_network_os"] == "cisco.ios.ios"  # group_vars apply
    assert hostvars["vm-db01"]["cmdb"]["relations"] == {
        "runs_on": "hv01",
        "backed_up_to": ["nas01"],
    }


def test_the_configuration_file_as_source_gives_the_same_hosts(tmp_path: Path) -> None:
    result = ansible_inventory("inventory/example/cmdb.yml", tmp_path)

    assert result.returncode == 0, result.stderr
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert _hosts(json.loads(result.stdout)) == _hosts(golden)


def test_an_asset_file_as_source_gives_the_whole_cmdb(tmp_path: Path) -> None:
    result = ansible_inventory("inventory/example/assets/branch.yml", tmp_path)

    assert result.returncode == 0, result.stderr
    assert "hv01" in _hosts(json.loads(result.stdout))
    assert "Skipping" not in result.stderr  # the yaml plugin never saw the asset file


def test_invalid_cmdb_is_refused_whole(base: Path, tmp_path: Path) -> None:
    (base / "assets" / "case.yml").write_text(
        "assets:\n  - {tag: B-2, name: c1, kind: vm, platform: linux, owner: ops,"
        " criticality: low, lifecycle: {state: in_use, history: [{state: in_use,"
        " date: 2023-01-01}]}}\n",
        encoding="utf-8",
    )
    message = (
        f"{base}/assets/case.yml:2: asset 'c1' (B-2): field 'tag' is 'B-2'; asset 'vm1' (B-2) "
        f"at {base}/assets/base.yml:22 has the same tag: give each asset its own tag"
    )

    result = ansible_inventory(base, tmp_path)

    assert result.returncode != 0
    assert f"the CMDB {base}/cmdb.yml has 1 problem and yields no host until" in result.stderr
    assert message in result.stderr.splitlines()
    assert f"Completely failed to parse inventory source {base}/cmdb.yml" in result.stderr
    assert "hv1" not in result.stdout and "vm1" not in result.stdout


def test_invalid_cmdb_yields_no_host_even_when_ansible_only_warns(
    base: Path, tmp_path: Path
) -> None:
    (base / "assets" / "empty.yml").write_text("", encoding="utf-8")

    result = ansible_inventory(base, tmp_path, fail_unparsed=False)

    assert f"{base}/assets/empty.yml:1: the file is empty" in result.stderr
    assert _hosts(json.loads(result.stdout)) == set()


def test_vars_may_hold_templates_the_record_may_not(base: Path, tmp_path: Path) -> None:
    text = (base / "assets" / "base.yml").read_text(encoding="utf-8")
    text = text.replace(
        "    runs_on: hv1\n",
        "    runs_on: hv1\n    description: 'uses {{ secret_lookup }}'\n"
        "    vars:\n      ansible_user: \"{{ 'ad' ~ 'min' }}\"\n",
    )
    (base / "assets" / "base.yml").write_text(text, encoding="utf-8")
    playbook = tmp_path / "show.yml"
    playbook.write_text(
        "- hosts: vm1\n  gather_facts: false\n  tasks:\n"
        '    - ansible.builtin.debug:\n        msg: "{{ ansible_user }}|{{ cmdb.description }}"\n',
        encoding="utf-8",
    )
    result = ansible_playbook(base, playbook, tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert '"msg": "admin|uses {{ secret_lookup }}"' in result.stdout


def test_a_cable_recorded_on_one_end_reaches_the_other(tmp_path: Path) -> None:
    listing = json.loads(ansible_inventory(REPO / "inventory" / "example", tmp_path).stdout)
    links = listing["_meta"]["hostvars"]["sw-acc01"]["cmdb"]["relations"]["connected_to"]

    assert {
        "asset": "pc-0101",
        "asset_kind": "pc",
        "local_port": "Gi1/0/10",
        "recorded_on": "pc-0101",
    } in links


def test_uplinks_are_own_cables_and_those_other_network_gear_records(tmp_path: Path) -> None:
    """inspect_ios's default: a port cabled to a switch is an uplink whichever end records
    the cable; a port that a PC records is not (PCs are switched off at night)."""
    playbook = tmp_path / "uplinks.yml"
    defaults = REPO / "roles" / "inspect_ios" / "defaults" / "main.yml"
    playbook.write_text(
        "- hosts: ios\n  gather_facts: false\n  tasks:\n"
        f"    - ansible.builtin.include_vars: {defaults}\n"
        "    - ansible.builtin.debug:\n"
        "        msg: \"UPLINKS {{ inventory_hostname }} {{ inspect_ios_uplinks | join(',') }}\"\n",
        encoding="utf-8",
    )
    result = ansible_playbook(REPO / "inventory" / "lab", playbook, tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "UPLINKS sw-lab01 GigabitEthernet0/1,GigabitEthernet0/2" in result.stdout
    assert "UPLINKS sw-lab02 GigabitEthernet0/2,GigabitEthernet0/1" in result.stdout
