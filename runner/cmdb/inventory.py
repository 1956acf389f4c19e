"""The Ansible inventory a CMDB yields: which assets are hosts, their groups and variables.

These functions are pure so that the inventory plugin, the CLI and the tests compute the
same thing. Rules (docs/CMDB.md, "The inventory"):

* a host is an asset that Ansible can reach (a management address, or
  ``vars.ansible_connection: local``), that is not a service, and whose lifecycle state is
  not ``spare`` or ``retired``: those are never targeted. ``planned`` and ``maintenance``
  assets are hosts; playbooks that must leave them alone exclude
  ``lifecycle_planned`` or ``lifecycle_maintenance``;
* groups: ``kind_<kind>``, ``platform_<platform>``, ``site_<site>``,
  ``criticality_<level>``, ``lifecycle_<state>``, and the bare platform name (``linux``,
  ``ios``, ``windows``) that playbooks target;
* variables: ``ansible_host`` from the management address, the record under one key
  (``cmdb`` by default) and the asset's ``vars`` as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runner.cmdb.model import UNTARGETED_STATES, Asset

if TYPE_CHECKING:
    from runner.cmdb.load import Cmdb

_UNSAFE = re.compile(r"[^a-z0-9_]")


@dataclass(frozen=True)
class InventoryHost:
    """One inventory host: its name, its groups (sorted) and its variables."""

    name: str
    groups: list[str]
    variables: dict[str, Any]


def group_safe(text: str) -> str:
    """A value as part of a group name: lower case, anything but letters and digits as '_'."""
    return _UNSAFE.sub("_", text.lower())


def effective_site(asset: Asset, by_name: Mapping[str, Asset]) -> str | None:
    """The asset's site, or for a VM or service without one, the site of what it runs on."""
    seen: set[str] = set()
    current: Asset | None = asset
    while current is not None and current.name not in seen:
        if current.location is not None:
            return current.location.site
        seen.add(current.name)
        current = by_name.get(current.runs_on) if current.runs_on else None
    return None


def group_names(asset: Asset, site: str | None, platform_groups: bool = True) -> list[str]:
    """The groups an asset belongs to, sorted."""
    groups = {
        f"kind_{asset.kind}",
        f"criticality_{asset.criticality}",
        f"lifecycle_{asset.state}",
    }
    if asset.platform is not None:
        groups.add(f"platform_{asset.platform}")
        if platform_groups:
            groups.add(asset.platform)
    if site is not None:
        groups.add(f"site_{group_safe(site)}")
    return sorted(groups)


def is_targeted(asset: Asset) -> bool:
    """Whether jobs may target the asset: reachable, and neither spare nor retired."""
    return asset.is_host() and asset.state not in UNTARGETED_STATES


def mirrored_links(assets: Iterable[Asset]) -> dict[str, list[dict[str, Any]]]:
    """Cables as seen from their other end: asset name -> links recorded on other assets.

    A cable is recorded once, on one of its ends (the validation refuses a port taken twice),
    but both devices have the port cabled: the far end gets the link mirrored, its ports
    swapped, ``recorded_on`` naming the asset whose record holds it and ``asset_kind`` its
    kind (an inspection tells a cable to a switch from one to a PC that may be switched off).
    """
    mirrored: dict[str, list[dict[str, Any]]] = {}
    for asset in assets:
        for link in asset.connected_to:
            if link.asset == asset.name:
                continue
            entry: dict[str, Any] = {
                "asset": asset.name,
                "asset_kind": asset.kind,
                "recorded_on": asset.name,
            }
            if link.local_port is not None:
                entry["port"] = link.local_port
            if link.port is not None:
                entry["local_port"] = link.port
            mirrored.setdefault(link.asset, []).append(entry)
    return mirrored


def record_vars(
    asset: Asset, site: str | None, far_ends: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The asset's record as a JSON-safe mapping for the inventory (the ``cmdb`` variable).

    The lifecycle history and the parts history stay in the CMDB files: a host needs the
    current state and since when, not the whole story. ``far_ends`` are the cables other
    records hold to this asset (:func:`mirrored_links`); they join ``connected_to``.
    """
    data = asset.model_dump(
        mode="json",
        exclude={"vars", "parts", "lifecycle", "name", "management_address"},
        exclude_none=True,
    )
    data["lifecycle"] = {
        "state": asset.state,
        "since": asset.lifecycle.history[-1].date.isoformat(),
    }
    if site is not None:
        data["site"] = site
    relations = {}
    data["connected_to"] = data.get("connected_to", []) + (far_ends or [])
    for key in ("runs_on", "depends_on", "connected_to", "backed_up_to"):
        value = data.pop(key, None)
        if value:
            relations[key] = value
    data["relations"] = relations
    if not data.get("tags"):
        data.pop("tags", None)
    return data


def inventory_hosts(cmdb: Cmdb) -> list[InventoryHost]:
    """Every host of the CMDB's inventory, in file order."""
    settings = cmdb.settings
    by_name = {item.record.name: item.record for item in cmdb.assets}
    far_ends = mirrored_links(by_name.values())
    hosts = []
    for asset in by_name.values():
        if not is_targeted(asset):
            continue
        site = effective_site(asset, by_name)
        variables: dict[str, Any] = {}
        if asset.management_address is not None:
            variables["ansible_host"] = asset.management_address
        variables[settings.vars_prefix] = record_vars(asset, site, far_ends.get(asset.name))
        variables.update(asset.vars)
        hosts.append(
            InventoryHost(asset.name, group_names(asset, site, settings.platform_groups), variables)
        )
    return hosts
