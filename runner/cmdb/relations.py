"""Relations between assets: what depends on what, and the CMDB drawn as a graph.

*Impact* follows dependence backwards. When X fails, everything that ``depends_on`` X or
``runs_on`` X fails with it, and so on transitively. ``connected_to`` is a cable, not a
dependence: links are recorded on either end and networks are built with redundant
paths, so following cables would mark the whole network as affected by any switch.
``backed_up_to`` is not followed either: a failed backup target stops backups, not the
service. Both are drawn in the graph.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from runner.cmdb.inventory import effective_site
from runner.cmdb.load import Cmdb
from runner.cmdb.model import UNTARGETED_STATES, Asset
from runner.errors import CmdbError
from runner.fsutil import write_atomic

log = logging.getLogger(__name__)

#: Relations that make the source fail when the target fails.
DEPENDENCE = ("runs_on", "depends_on")


@dataclass(frozen=True)
class Impacted:
    """An asset that fails when the asset in question fails, and why.

    ``path`` runs from the failed asset to this one; ``via`` holds the relation of each
    step, as written on the dependent asset (``vm-db01 runs_on hv01``).
    """

    asset: Asset
    depth: int
    path: tuple[str, ...]
    via: tuple[str, ...]

    def chain(self) -> str:
        """The path as it reads in the CMDB, from this asset down to the failed one."""
        parts = [self.path[-1]]
        for name, relation in zip(reversed(self.path[:-1]), reversed(self.via), strict=True):
            parts.append(f"{relation} {name}")
        return " ".join(parts)


def dependents(cmdb: Cmdb) -> dict[str, list[tuple[str, str]]]:
    """For each asset name, the assets that depend on it directly, with the relation."""
    reverse: dict[str, list[tuple[str, str]]] = {asset.name: [] for asset in cmdb.records()}
    for asset in cmdb.records():
        if asset.runs_on is not None:
            reverse[asset.runs_on].append((asset.name, "runs_on"))
        for name in asset.depends_on:
            reverse[name].append((asset.name, "depends_on"))
    for users in reverse.values():
        users.sort()
    return reverse


def impact(cmdb: Cmdb, key: str) -> tuple[Asset, list[Impacted]]:
    """The asset named or tagged ``key``, and everything that depends on it, transitively.

    Breadth first, so each asset appears once with its shortest path; ordered by depth,
    then name.
    """
    start = cmdb.require(key).record
    reverse = dependents(cmdb)
    found: list[Impacted] = []
    seen = {start.name}
    queue: deque[tuple[str, tuple[str, ...], tuple[str, ...]]] = deque(
        [(start.name, (start.name,), ())]
    )
    while queue:
        name, path, via = queue.popleft()
        for user, relation in reverse[name]:
            if user in seen:
                continue
            seen.add(user)
            step = (user, (*path, user), (*via, relation))
            found.append(Impacted(cmdb.by_name[user].record, len(path), step[1], step[2]))
            queue.append(step)
    found.sort(key=lambda item: (item.depth, item.asset.name))
    return start, found


def impact_tree(start: Asset, impacted: list[Impacted]) -> list[str]:
    """The impact as an indented tree of lines, each child under the asset it depends on."""
    children: dict[str, list[Impacted]] = {}
    for item in impacted:
        children.setdefault(item.path[-2], []).append(item)

    lines = [_label(start)]

    def walk(name: str, indent: str) -> None:
        kids = children.get(name, [])
        for position, item in enumerate(kids):
            last = position == len(kids) - 1
            lines.append(
                f"{indent}{'└── ' if last else '├── '}{_label(item.asset)}  {item.via[-1]} {name}"
            )
            walk(item.asset.name, indent + ("    " if last else "│   "))

    walk(start.name, "")
    return lines


def _label(asset: Asset) -> str:
    return f"{asset.name} ({asset.kind}, {asset.tag}, {asset.criticality})"


# The graph

_SHAPES = {
    "server": "box3d",
    "vm": "box",
    "storage": "cylinder",
    "switch": "hexagon",
    "router": "diamond",
    "firewall": "octagon",
    "pc": "rect",
    "printer": "note",
    "copier": "note",
    "service": "ellipse",
}
_COLOURS = {"critical": "#c0392b", "high": "#e67e22", "medium": "#2980b9", "low": "#7f8c8d"}
_EDGES = {
    "runs_on": 'style=bold, color="#34495e"',
    "depends_on": 'color="#c0392b"',
    "backed_up_to": 'style=dotted, color="#27ae60"',
    "connected_to": 'dir=none, color="#95a5a6"',
}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def graph_dot(cmdb: Cmdb) -> str:
    """The assets and their relations as Graphviz DOT: one cluster per site.

    Node shape by kind, outline colour by criticality, dashed outline for spare and
    retired assets. Edges point from the asset that carries the relation to its target.
    """
    by_name = {asset.name: asset for asset in cmdb.records()}
    sites: dict[str, list[Asset]] = {}
    for asset in by_name.values():
        sites.setdefault(effective_site(asset, by_name) or "", []).append(asset)

    lines = [
        "digraph cmdb {",
        "  graph [rankdir=BT, fontname=Helvetica, fontsize=11, compound=true];",
        "  node [fontname=Helvetica, fontsize=10, penwidth=1.6];",
        "  edge [fontname=Helvetica, fontsize=8];",
    ]
    for site in sorted(sites):
        indent = "  "
        if site:
            lines.append(f"  subgraph {_quote('cluster_' + site)} {{")
            lines.append(f'    label={_quote("site " + site)}; style=rounded; color="#bdc3c7";')
            indent = "    "
        for asset in sorted(sites[site], key=lambda item: item.name):
            style = "dashed" if asset.state in UNTARGETED_STATES else "solid"
            label = f"{asset.name}\\n{asset.kind} · {asset.tag}"
            lines.append(
                f'{indent}{_quote(asset.name)} [label="{label}", shape={_SHAPES[asset.kind]}, '
                f'color="{_COLOURS[asset.criticality]}", style={style}];'
            )
        if site:
            lines.append("  }")

    for asset in sorted(by_name.values(), key=lambda item: item.name):
        source = _quote(asset.name)
        if asset.runs_on is not None:
            lines.append(
                f"  {source} -> {_quote(asset.runs_on)} [label=runs_on, {_EDGES['runs_on']}];"
            )
        for name in asset.depends_on:
            lines.append(
                f"  {source} -> {_quote(name)} [label=depends_on, {_EDGES['depends_on']}];"
            )
        for name in asset.backed_up_to:
            lines.append(
                f"  {source} -> {_quote(name)} [label=backed_up_to, {_EDGES['backed_up_to']}];"
            )
        for link in asset.connected_to:
            ports = ""
            if link.local_port:
                ports += f", taillabel={_quote(link.local_port)}"
            if link.port:
                ports += f", headlabel={_quote(link.port)}"
            lines.append(f"  {source} -> {_quote(link.asset)} [{_EDGES['connected_to']}{ports}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class GraphFiles:
    dot: Path
    svg: Path


def write_graph(cmdb: Cmdb, folder: Path, dot_binary: str = "dot") -> GraphFiles:
    """Write ``cmdb.dot`` and render ``cmdb.svg`` with Graphviz into ``folder``.

    The DOT file is written first, so it is there even when Graphviz is missing, which is
    a :class:`CmdbError` that says how to install it.
    """
    dot_path = write_atomic(folder / "cmdb.dot", graph_dot(cmdb))
    svg_path = folder / "cmdb.svg"
    binary = shutil.which(dot_binary)
    if binary is None:
        raise CmdbError(
            f"Graphviz is not installed ({dot_binary!r} is not on PATH), so no SVG was drawn; "
            f"install it with `apt-get install graphviz` (the DOT file is at {dot_path})"
        )
    try:
        result = subprocess.run(
            [binary, "-Tsvg", str(dot_path)], capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise CmdbError(f"cannot run Graphviz ({binary}): {exc}") from exc
    if result.returncode != 0:
        raise CmdbError(
            f"Graphviz could not draw {dot_path}: {result.stderr.strip() or result.returncode}"
        )
    write_atomic(svg_path, result.stdout)
    log.info("graph written to %s and %s", dot_path, svg_path)
    return GraphFiles(dot_path, svg_path)
