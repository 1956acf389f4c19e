"""The rules a valid CMDB keeps beyond the schema of one record.

Per record: what a kind of asset must have (hardware has a serial, vendor, model and
location; an Ansible host has a platform; a service has no address), variables that are
no secrets, and dates that make sense. Across records: unique tags, names, serials and
addresses, relations that point at assets that exist and are in service, no dependency
cycle, a port used by one cable, no asset named like a group, spare parts that fit
something. Each rule appends :class:`~runner.cmdb.source.Problem` s; none stops at the
first.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections import deque
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from runner.cmdb.inventory import effective_site, group_names
from runner.cmdb.model import (
    ACTIVE_STATES,
    CHOICES,
    GUEST_KINDS,
    HOSTING_KINDS,
    PHYSICAL_KINDS,
    PLATFORM_KINDS,
    TRANSITIONS,
    UNTARGETED_STATES,
    Asset,
    Settings,
)
from runner.cmdb.records import AssetEntry, SpareEntry, ValidAsset, ValidSpare
from runner.cmdb.source import Problem, field_name, line_at, show

_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_VAR = re.compile(r"(password|passwd|_pass$|secret|token|community)", re.IGNORECASE)


#: How each relation reads in "an asset cannot ... itself".
_SELF = {
    "runs_on": "run on",
    "depends_on": "depend on",
    "backed_up_to": "be backed up to",
    "connected_to": "be cabled to",
}


class _Report:
    """Collects problems of one record with its subject and file."""

    def __init__(self, entry: AssetEntry | SpareEntry, problems: list[Problem]) -> None:
        self.entry = entry
        self.problems = problems

    def add(self, loc: list[int | str], value: Any, fix: str, shown: str | None = None) -> None:
        """A problem with the value at ``loc``; ``shown`` replaces the quoted value."""
        self.problems.append(
            Problem(
                self.entry.shown,
                line_at(self.entry.raw, loc),
                f"{self.entry.subject()}: field '{field_name(loc)}' is "
                f"{shown or show(value)}; {fix}",
            )
        )

    def missing(self, loc: list[int | str], fix: str) -> None:
        self.problems.append(
            Problem(
                self.entry.shown,
                line_at(self.entry.raw, loc),
                f"{self.entry.subject()}: field '{field_name(loc)}' is missing; {fix}",
            )
        )


def check_asset(
    entry: AssetEntry, asset: Asset, settings: Settings, today: date, problems: list[Problem]
) -> None:
    report = _Report(entry, problems)
    kind = asset.kind
    planned = asset.state == "planned"

    if kind in PHYSICAL_KINDS:
        if asset.serial is None and not planned:
            report.missing(["serial"], f"add it: a {kind} is hardware with a serial number")
        for name in ("vendor", "model", "location"):
            if getattr(asset, name) is None:
                hint = " ({site: CODE, room: ROOM, rack: RACK})" if name == "location" else ""
                report.missing(
                    [name],
                    f"add it{hint}: a {kind} is hardware, recorded with its vendor, model "
                    "and location",
                )
    if kind in PLATFORM_KINDS and asset.is_host() and asset.platform is None:
        choices = ", ".join(CHOICES["platform"])
        report.missing(
            ["platform"],
            f"add it ({choices}): a {kind} with a management address is an Ansible host",
        )
    if kind == "service" and asset.management_address is not None:
        report.add(
            ["management_address"],
            asset.management_address,
            "a service is not an Ansible host: remove the address and point 'runs_on' at "
            "the server or VM it runs on",
        )
    if asset.runs_on is not None and kind not in GUEST_KINDS:
        report.add(
            ["runs_on"],
            asset.runs_on,
            f"only a vm or a service runs on another asset, not a {kind}: "
            "use 'depends_on' or 'connected_to'",
        )
    if kind == "service" and asset.connected_to:
        report.add(
            ["connected_to"],
            [link.asset for link in asset.connected_to],
            "a service has no cables: record the links on the hardware it runs on",
        )

    _check_vars(report, asset, settings)
    _check_dates(report, entry, asset, today)


def _check_vars(report: _Report, asset: Asset, settings: Settings) -> None:
    for key in asset.vars:
        loc: list[int | str] = ["vars", key]
        if not _VAR_NAME.match(key):
            report.add(loc, key, "expected a variable name: letters, digits and '_'")
        elif key == "ansible_host":
            report.add(
                loc,
                asset.vars[key],
                "set 'management_address' instead; the inventory makes it ansible_host",
            )
        elif key == settings.vars_prefix:
            report.add(
                loc,
                asset.vars[key],
                f"'{key}' holds the CMDB record in the inventory: rename the variable",
            )
        elif _SECRET_VAR.search(key):
            report.add(
                loc,
                None,
                "secrets never live in the CMDB: move it to Ansible Vault "
                f"(host_vars/{asset.name}/vault.yml) or the environment",
                shown="a secret (not shown here)",
            )


def _check_dates(report: _Report, entry: AssetEntry, asset: Asset, today: date) -> None:
    bought = asset.purchase_date
    if bought is not None:
        if asset.warranty_end is not None and asset.warranty_end < bought:
            report.add(
                ["warranty_end"],
                asset.warranty_end,
                f"the warranty ends before the purchase date {bought}: fix one of the two dates",
            )
        contract = asset.support_contract
        if contract is not None and contract.end < bought:
            report.add(
                ["support_contract", "end"],
                contract.end,
                f"the support contract ends before the purchase date {bought}: "
                "fix one of the two dates",
            )
        if bought > today and asset.state != "planned":
            report.add(
                ["purchase_date"],
                bought,
                f"that is in the future, but the asset is already {asset.state}: "
                "give the date it was bought",
            )

    history = asset.lifecycle.history
    for index, change in enumerate(history):
        loc: list[int | str] = ["lifecycle", "history", index]
        if change.date > today:
            report.add(
                [*loc, "date"],
                change.date,
                f"that is in the future, but the history lists changes that happened: "
                f"give the date it entered '{change.state}', or leave the change out until then",
            )
        if bought is not None and change.state != "planned" and change.date < bought:
            report.add(
                [*loc, "date"],
                change.date,
                f"the asset cannot be {change.state} before its purchase date {bought}: "
                "fix one of the two dates",
            )
        if index == 0:
            continue
        before = history[index - 1]
        if change.date < before.date:
            report.add(
                [*loc, "date"],
                change.date,
                f"it is earlier than the entry before it ({before.date}): "
                "list the changes oldest first, with their real dates",
            )
        if change.state == before.state:
            report.add(
                [*loc, "state"],
                change.state,
                "it repeats the entry before it: remove one of the two",
            )
        elif change.state not in TRANSITIONS[before.state]:
            allowed = ", ".join(sorted(TRANSITIONS[before.state]))
            then = (
                f"after {before.state} comes {allowed}"
                if allowed
                else "retired is final: a unit put back into service is a new asset"
            )
            report.add(
                [*loc, "state"],
                change.state,
                f"an asset cannot go from {before.state} to {change.state}; {then}",
            )
    if history[-1].state != asset.state:
        newest = line_at(entry.raw, ["lifecycle", "history", len(history) - 1])
        report.add(
            ["lifecycle", "state"],
            asset.state,
            f"the newest history entry (line {newest}) "
            f"says '{history[-1].state}': add a history entry for the change to "
            f"'{asset.state}' with its date",
        )

    for index, part in enumerate(asset.parts):
        loc = ["parts", index, "date"]
        if part.date > today:
            report.add(loc, part.date, "that is in the future: give the date of the work")
        elif index and part.date < asset.parts[index - 1].date:
            report.add(
                loc,
                part.date,
                f"it is earlier than the entry before it ({asset.parts[index - 1].date}): "
                "list the parts history oldest first",
            )
        if part.action == "replace" and (part.old_serial is None or part.new_serial is None):
            report.missing(
                ["parts", index, "old_serial" if part.old_serial is None else "new_serial"],
                "a replacement records the serials of the old and the new part",
            )


# Pass 3: the records together


def _normal_address(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address.lower().rstrip(".")


def check_unique(entries: list[AssetEntry], problems: list[Problem]) -> None:
    fields: dict[str, tuple[Callable[[str], str], str]] = {
        "tag": (str, "tag"),
        "name": (str, "name"),
        "serial": (lambda value: value.strip().upper(), "serial number"),
        "management_address": (_normal_address, "management address"),
    }
    for key, (normal, what) in fields.items():
        seen: dict[str, AssetEntry] = {}
        for entry in entries:
            value = entry.raw.get(key)
            if not isinstance(value, str) or not value:
                continue
            first = seen.setdefault(normal(value), entry)
            if first is entry:
                continue
            problems.append(
                Problem(
                    entry.shown,
                    entry.raw.line_of(key),
                    f"{entry.subject()}: field '{key}' is {show(value)}; {first.subject()} at "
                    f"{first.shown}:{first.raw.line_of(key)} has the same {what}: "
                    f"give each asset its own {what}",
                )
            )


def check_relations(
    valid: list[ValidAsset],
    names: Mapping[str, AssetEntry],
    problems: list[Problem],
) -> None:
    by_name = {item.record.name: item for item in valid}
    ports: dict[tuple[str, str], tuple[ValidAsset, int]] = {}
    for item in valid:
        asset, report = item.record, _Report(item.entry, problems)
        targets: list[tuple[list[int | str], str, str]] = []
        if asset.runs_on is not None:
            targets.append((["runs_on"], asset.runs_on, "runs_on"))
        for relation in ("depends_on", "backed_up_to"):
            targets += [
                ([relation, index], name, relation)
                for index, name in enumerate(getattr(asset, relation))
            ]
        targets += [
            (["connected_to", index, "asset"], link.asset, "connected_to")
            for index, link in enumerate(asset.connected_to)
        ]

        for loc, name, relation in targets:
            if name == asset.name:
                report.add(loc, name, f"an asset cannot {_SELF[relation]} itself: remove it")
                continue
            if name not in names:
                near = difflib.get_close_matches(name, list(names), n=1)
                hint = f" (did you mean '{near[0]}'?)" if near else ""
                report.add(
                    loc,
                    name,
                    f"no asset has that name{hint}: fix the name or add the asset",
                )
                continue
            target = by_name.get(name)
            if target is None:
                continue
            other = target.record
            if asset.state in ACTIVE_STATES and other.state in UNTARGETED_STATES:
                report.add(
                    loc,
                    name,
                    f"that asset is {other.state} ({target.entry.where()}), but this one is "
                    f"{asset.state}: point the relation at the asset that took over",
                )
            if relation == "runs_on" and other.kind not in HOSTING_KINDS:
                report.add(
                    loc,
                    name,
                    f"that asset is a {other.kind}, which runs nothing: "
                    "point it at a server, vm, pc or storage",
                )
            if relation == "connected_to" and other.kind == "service":
                report.add(loc, name, "that asset is a service, which has no ports: remove it")

        for index, link in enumerate(asset.connected_to):
            if link.asset == asset.name or link.asset not in by_name:
                continue
            ends = [(asset.name, link.local_port, "local_port"), (link.asset, link.port, "port")]
            for device, port, key in ends:
                if port is None:
                    continue
                first = ports.setdefault((device, port), (item, index))
                if first == (item, index):
                    continue
                other_item, other_index = first
                where = line_at(other_item.entry.raw, ["connected_to", other_index])
                report.add(
                    ["connected_to", index, key],
                    port,
                    f"port {port} of {device} is already taken by the link recorded at "
                    f"{other_item.entry.shown}:{where}: a port takes one cable; fix the port "
                    "or record each link once, on one of its ends",
                )


def check_cycles(valid: list[ValidAsset], problems: list[Problem]) -> None:
    edges: dict[str, list[tuple[str, list[int | str]]]] = {}
    known = {item.record.name for item in valid}
    by_name = {item.record.name: item for item in valid}
    for item in valid:
        asset = item.record
        out: list[tuple[str, list[int | str]]] = []
        if asset.runs_on in known and asset.runs_on != asset.name:
            out.append((asset.runs_on, ["runs_on"]))
        out += [
            (name, ["depends_on", index])
            for index, name in enumerate(asset.depends_on)
            if name in known and name != asset.name
        ]
        edges[asset.name] = out

    for component in _strongly_connected(edges):
        if len(component) < 2:
            continue
        start = min(component)
        hops = _cycle_from(start, component, edges)
        names = [start] + [name for name, _ in hops]
        chain = start + "".join(f" {loc[0]} {name}" for name, loc in hops)
        closing = by_name[names[-2]]
        _Report(closing.entry, problems).add(
            hops[-1][1],
            start,
            f"it closes the dependency cycle {chain}: an asset cannot depend "
            "on itself, even through others; remove one of these relations",
        )


def _strongly_connected(edges: Mapping[str, list[tuple[str, list[int | str]]]]) -> list[set[str]]:
    """Tarjan's algorithm, iteratively, over the names in ``edges``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = [target for target, _ in edges.get(node, [])]
            if position < len(targets):
                work.append((node, position + 1))
                target = targets[position]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def _cycle_from(
    start: str, component: set[str], edges: Mapping[str, list[tuple[str, list[int | str]]]]
) -> list[tuple[str, list[int | str]]]:
    """The shortest way from ``start`` back to itself inside one component: (name, loc) hops
    where ``loc`` is the relation field on the previous asset."""
    queue: deque[tuple[str, list[tuple[str, list[int | str]]]]] = deque([(start, [])])
    seen = {start}
    while queue:
        node, path = queue.popleft()
        for target, loc in sorted(edges.get(node, []), key=lambda edge: edge[0]):
            if target not in component:
                continue
            if target == start:
                return [*path, (target, loc)]
            if target not in seen:
                seen.add(target)
                queue.append((target, [*path, (target, loc)]))
    return []


def check_group_clash(valid: list[ValidAsset], problems: list[Problem]) -> None:
    by_name = {item.record.name: item.record for item in valid}
    groups: set[str] = {"all", "ungrouped"}
    for item in valid:
        groups.update(group_names(item.record, effective_site(item.record, by_name)))
    for item in valid:
        if item.record.name in groups:
            _Report(item.entry, problems).add(
                ["name"],
                item.record.name,
                "an inventory group has the same name: rename the asset",
            )


def check_spares(
    spares: list[SpareEntry],
    valid: list[ValidSpare],
    assets: list[AssetEntry],
    problems: list[Problem],
) -> None:
    keys = sorted(
        {key for entry in assets for key in (entry.text("name"), entry.text("tag")) if key}
    )
    seen: dict[str, SpareEntry] = {}
    for entry in spares:
        part = entry.text("part_number")
        if part is None:
            continue
        first = seen.setdefault(part, entry)
        if first is not entry:
            problems.append(
                Problem(
                    entry.shown,
                    entry.raw.line_of("part_number"),
                    f"{entry.subject()}: field 'part_number' is {show(part)}; the same part "
                    f"is already stocked at {first.where()}: keep one record per part "
                    "and add up the quantities",
                )
            )

    for item in valid:
        spare, report = item.record, _Report(item.entry, problems)
        if not spare.compatible_models and not spare.compatible_assets:
            report.missing(
                ["compatible_models"],
                "add the models this part fits, or 'compatible_assets' with asset tags",
            )
        for index, key in enumerate(spare.compatible_assets):
            if key not in keys:
                near = difflib.get_close_matches(key, keys, n=1)
                hint = f" (did you mean '{near[0]}'?)" if near else ""
                report.add(
                    ["compatible_assets", index],
                    key,
                    f"no asset has that tag or name{hint}: fix it or remove it",
                )
