"""Reading an Ansible inventory before a job runs: which hosts it targets, and whether the
variables that roles declare as numbers are numbers.

Everything here runs in-process through Ansible's own inventory classes, so what is checked
is what ``ansible-playbook`` will see.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runner import config
from runner.errors import ConfigError

#: Platform groups, in the order a host in several is reported by.
PLATFORMS = ("linux", "ios", "windows")

#: Role argument-spec types whose values must parse as numbers.
_NUMERIC_TYPES = {"int": int, "float": float}


def _strict_ansible() -> None:
    """Point Ansible at the repo's config and make any unparsable source an error.

    The two settings are set on Ansible's constants rather than through the environment
    because Ansible reads its environment once, when it is first imported.
    """
    os.environ.setdefault("ANSIBLE_CONFIG", str(config.REPO_ROOT / "ansible.cfg"))
    os.environ.setdefault(config.STATE_DIR_ENV, str(config.state_dir()))
    from ansible import constants

    constants.INVENTORY_UNPARSED_IS_FAILED = True
    constants.INVENTORY_ANY_UNPARSED_IS_FAILED = True


def _parse_detail(warnings: str) -> str:
    """The first cause Ansible gave for an unparsable source, from its captured warnings."""
    lines = [line.strip() for line in warnings.splitlines()]
    for index, line in enumerate(lines):
        if line == "<<< caused by >>>":
            cause = next((later for later in lines[index + 1 :] if later), "")
            if cause:
                return cause
    return next((line for line in lines if line.startswith("[WARNING]")), "")


@dataclass
class Targets:
    """The hosts a job will run on, with each host's variables as the inventory sets them."""

    inventory: Path
    hosts: list[str]
    variables: dict[str, dict[str, Any]]
    #: host -> the first of :data:`PLATFORMS` whose group holds it.
    platforms: dict[str, str] = field(default_factory=dict)


def _display_path(path: Path) -> str:
    try:
        return str(path.relative_to(config.REPO_ROOT))
    except ValueError:
        return str(path)


def resolve_targets(inventory: Path, pattern: str, limit: str | None) -> Targets:
    """Hosts that ``pattern`` (a play's ``hosts:``) and ``limit`` select in ``inventory``.

    Raises :class:`ConfigError` for a missing or unparsable inventory and for a limit
    element that matches no host, naming the element and the hosts that exist.
    """
    inventory = inventory.resolve()
    shown = _display_path(inventory)
    if not inventory.exists():
        raise ConfigError(
            f"inventory {shown} does not exist; pass --inventory with a file or folder "
            f"(the built-in lab's is {_display_path(config.default_inventory())})"
        )
    if not os.access(inventory, os.R_OK):
        raise ConfigError(f"inventory {shown} is not readable; fix its permissions")

    _strict_ansible()
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured), contextlib.redirect_stdout(captured):
            manager = InventoryManager(loader=loader, sources=[str(inventory)])
    except AnsibleError as exc:
        first = str(exc).strip().splitlines()[0]
        detail = _parse_detail(captured.getvalue())
        raise ConfigError(
            f"inventory {shown} cannot be parsed: {first}"
            + (f": {detail}" if detail else "")
            + "; fix the file and check it with `ansible-inventory -i PATH --list`"
        ) from exc
    except Exception as exc:
        # An inventory plugin that crashes (a missing dependency, say) is still a problem
        # with this inventory, not a reason for a traceback.
        raise ConfigError(
            f"inventory {shown} cannot be loaded: {exc.__class__.__name__}: {exc}; "
            "check the inventory plugin's requirements (`make venv` installs them)"
        ) from exc

    known = sorted(host.name for host in manager.get_hosts("all"))
    if limit:
        for element in (part.strip() for part in limit.replace(":", ",").split(",")):
            if not element or element[0] in "!&":
                continue
            # Ansible warns on stderr about a pattern that matches nothing; the error
            # below says it once, with the hosts that do exist.
            with contextlib.redirect_stderr(io.StringIO()):
                matched = manager.list_hosts(element)
            if not matched:
                raise ConfigError(
                    f"--limit: {element!r} matches no host in {shown}; "
                    f"known hosts: {', '.join(known) or 'none'}"
                )
        manager.subset(limit)

    # A play's pattern may name a platform group this inventory lacks (no Windows PCs, say):
    # Ansible warns about it on stderr, but the hosts it does match are all that matters.
    with contextlib.redirect_stderr(io.StringIO()):
        hosts = [host.name for host in manager.get_hosts(pattern)]
    if not hosts:
        raise ConfigError(
            f"no host of {shown} is in {pattern!r}"
            + (f" within --limit {limit!r}" if limit else "")
            + "; add hosts to that group or change --limit"
        )
    variables = VariableManager(loader=loader, inventory=manager)
    per_host = {
        name: variables.get_vars(host=manager.get_host(name), include_hostvars=False)
        for name in hosts
    }
    platforms = {}
    for name in hosts:
        groups = {group.name for group in manager.get_host(name).get_groups()}
        found = next((platform for platform in PLATFORMS if platform in groups), None)
        if found:
            platforms[name] = found
    return Targets(inventory=inventory, hosts=hosts, variables=per_host, platforms=platforms)


def numeric_options(roles_dir: Path) -> dict[str, tuple[str, str]]:
    """Role options declared ``int`` or ``float`` in ``meta/argument_specs.yml``.

    Returns option name -> (role, type).
    """
    options: dict[str, tuple[str, str]] = {}
    for spec_file in sorted(roles_dir.glob("*/meta/argument_specs.yml")):
        role = spec_file.parent.parent.name
        specs = yaml.safe_load(spec_file.read_text()) or {}
        for entry in (specs.get("argument_specs") or {}).values():
            for name, option in (entry.get("options") or {}).items():
                kind = option.get("type")
                if kind in _NUMERIC_TYPES:
                    options[name] = (role, kind)
    return options


def check_numeric_variables(targets: Targets, roles_dir: Path) -> None:
    """Refuse a run where a host sets a numeric role option (a threshold) to a non-number."""
    options = numeric_options(roles_dir)
    problems: list[str] = []
    for host in targets.hosts:
        for name, value in targets.variables[host].items():
            if name not in options or isinstance(value, bool):
                continue
            role, kind = options[name]
            if isinstance(value, int | float) or (isinstance(value, str) and "{{" in value):
                continue
            try:
                _NUMERIC_TYPES[kind](str(value))
            except ValueError:
                problems.append(
                    f"{_display_path(targets.inventory)}: host {host!r}: variable {name!r} "
                    f"(role {role}) is {value!r}; expected a number ({kind}): set it in the "
                    f"host's or group's vars"
                )
    if problems:
        raise ConfigError("\n".join(problems))
