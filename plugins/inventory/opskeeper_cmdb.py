"""Ansible inventory plugin: the Opskeeper CMDB as an inventory."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable
from ansible.template import trust_as_template

try:
    from runner.cmdb import load as cmdb_load
    from runner.cmdb.inventory import inventory_hosts
    from runner.cmdb.source import shown_path
    from runner.errors import CmdbError
except ImportError:
    # Running from a checkout whose package is not installed: the repository root is two
    # folders up from this file.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from runner.cmdb import load as cmdb_load
    from runner.cmdb.inventory import inventory_hosts
    from runner.cmdb.source import shown_path
    from runner.errors import CmdbError

DOCUMENTATION = r"""
name: opskeeper_cmdb
short_description: Opskeeper's CMDB (asset records in YAML) as an Ansible inventory
description:
  - Reads the asset files of an Opskeeper CMDB (the C(*.yml) files under O(cmdb_dir)),
    validates the whole CMDB with the same code as C(opskeeper cmdb validate), and refuses
    it with every problem (file, line, asset, field, value and fix) when anything is wrong.
    It never yields a partial inventory.
  - A host is an asset with a C(management_address) (or with C(vars.ansible_connection)
    set to C(local)) that is not a service and whose lifecycle state is not C(spare) or
    C(retired). Assets in C(planned) and C(maintenance) are hosts; playbooks that must
    leave them alone exclude the groups C(lifecycle_planned) and C(lifecycle_maintenance).
  - Groups are C(kind_<kind>), C(platform_<platform>), C(site_<site>),
    C(criticality_<level>), C(lifecycle_<state>) and, with O(platform_groups), the bare
    platform name (C(linux), C(ios), C(windows), ...). A VM or service without a location
    is in the site of the asset it runs on.
  - Host variables are C(ansible_host) (the management address), the asset record under
    O(vars_prefix), and the asset's C(vars) as written. C(group_vars) and C(host_vars) next
    to the configuration file apply as in any inventory folder.
  - The configuration file must be named C(cmdb.yml) or end in C(.cmdb.yml). Asset files
    given as sources (as happens when the inventory folder is the source) yield the same
    inventory, so this plugin must come before C(yaml) and C(auto) in C(enable_plugins).
  - Needs the Opskeeper C(runner) package (installed with the repository) on the controller.
version_added: "0.1.0"
author: Opskeeper maintainers
extends_documentation_fragment:
  - constructed
options:
  plugin:
    description: Marks the file as this plugin's configuration.
    type: str
    required: true
    choices: [opskeeper_cmdb]
  cmdb_dir:
    description:
      - Folder of the asset files, relative to the configuration file. Every C(*.yml) and
        C(*.yaml) below it is read, except hidden files and C(group_vars)/C(host_vars).
    type: str
    default: assets
    env:
      - name: OPSKEEPER_CMDB_DIR
    ini:
      - section: opskeeper_cmdb
        key: cmdb_dir
  vars_prefix:
    description: Host variable that holds the asset record (tag, kind, location, relations ...).
    type: str
    default: cmdb
    env:
      - name: OPSKEEPER_CMDB_VARS_PREFIX
    ini:
      - section: opskeeper_cmdb
        key: vars_prefix
  platform_groups:
    description: Also put each host in a group named after its bare platform (C(linux), C(ios)).
    type: bool
    default: true
    env:
      - name: OPSKEEPER_CMDB_PLATFORM_GROUPS
    ini:
      - section: opskeeper_cmdb
        key: platform_groups
  expiry_warn_days:
    description:
      - Not used to build the inventory. The nightly inspection warns about warranties and
        support contracts that end within this many days.
    type: int
    default: 90
    env:
      - name: OPSKEEPER_CMDB_EXPIRY_WARN_DAYS
    ini:
      - section: opskeeper_cmdb
        key: expiry_warn_days
  discovery:
    description:
      - Not used to build the inventory. C(opskeeper cmdb reconcile) connects to every
        address of these networks on these TCP ports and reports each address that answers
        but is no asset's C(management_address) as found but not recorded.
      - Read from the configuration file only.
    type: dict
    suboptions:
      networks:
        description:
          - Networks in CIDR notation, at most 4096 addresses in all.
        type: list
        elements: str
        required: true
      ports:
        description: TCP ports to try on each address.
        type: list
        elements: int
        default: [22, 2222, 5985, 5986, 443]
      timeout:
        description: Seconds to wait for a connection, and for an SSH banner.
        type: float
        default: 1.0
      concurrency:
        description: Connections open at once, 1 to 1024.
        type: int
        default: 64
notes:
  - The command line reads the options from the configuration file only; set them there
    (not in C(ansible.cfg) or the environment) so that both see the same CMDB.
"""

EXAMPLES = r"""
# inventory/prod/cmdb.yml
plugin: opskeeper_cmdb
cmdb_dir: assets

# One group per label of the record's 'tags' (tag_erp, tag_backup, ...)
plugin: opskeeper_cmdb
keyed_groups:
  - key: cmdb.tags
    prefix: tag

# Run against every critical Linux host at the head office that is not in maintenance:
#   ansible-playbook -i inventory/prod playbooks/inspect.yml \
#     --limit 'linux:&site_hq:&criticality_critical:!lifecycle_maintenance'
"""

#: Options handed to the CMDB loader, so that it sees what Ansible resolved.
_OPTIONS = ("cmdb_dir", "vars_prefix", "platform_groups", "expiry_warn_days")

#: CMDB roots whose full list of problems has been raised in this process: the 'auto'
#: plugin hands cmdb.yml back to this plugin after it failed, and once is enough.
_REPORTED: set[Path] = set()

#: Validation outcomes by configuration file, options and file states: a folder source
#: hands every asset file to this plugin, and each yields the same inventory.
_LOADED: dict[tuple[Any, ...], tuple[Any, list[Any]]] = {}

#: What makes a string a Jinja template.
_TEMPLATE_MARKS = ("{{", "{%", "{#")


def _validated(config_file: Path, overrides: dict[str, Any]) -> tuple[Any, list[Any]]:
    """The CMDB (or its problems), validated once per process while no file changes."""
    root = config_file.resolve().parent
    files = sorted(path for path in root.rglob("*") if path.suffix in (".yml", ".yaml"))
    state = tuple((str(path), path.stat().st_mtime_ns, path.stat().st_size) for path in files)
    key = (str(config_file.resolve()), tuple(sorted(overrides.items())), state)
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = cmdb_load.check_cmdb(config_file, overrides=overrides)
    return _LOADED[key]


def _trusted(value: Any, templates: bool) -> Any:
    """Strings marked as trusted, the way Ansible marks strings read from inventory files.

    An asset's ``vars`` may hold templates, as host_vars files may. The record itself is
    data: a string of it that looks like a template stays untrusted, so it is never run.
    """
    if isinstance(value, str):
        if templates or not any(mark in value for mark in _TEMPLATE_MARKS):
            return trust_as_template(value)
        return value
    if isinstance(value, Mapping):
        return {key: _trusted(item, templates) for key, item in value.items()}
    if isinstance(value, list):
        return [_trusted(item, templates) for item in value]
    return value


def _is_config(path: Path) -> bool:
    return path.name == cmdb_load.CONFIG_NAME or path.name.endswith(cmdb_load.CONFIG_SUFFIX)


def _config_of(path: Path) -> Path | None:
    """The CMDB configuration file that an asset file belongs to, if any."""
    for folder in list(path.resolve().parents)[:6]:
        try:
            found = cmdb_load.find_config(folder)
        except CmdbError:
            continue
        assets = (found.parent / cmdb_load.cmdb_dir_of(found)).resolve()
        return found if assets in path.resolve().parents else None
    return None


class InventoryModule(BaseInventoryPlugin, Constructable):  # type: ignore[misc]
    NAME = "opskeeper_cmdb"

    def verify_file(self, path: str) -> bool:
        if not super().verify_file(path):
            return False
        if _is_config(Path(path)):
            return True
        return path.endswith((".yml", ".yaml")) and _config_of(Path(path)) is not None

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        source = Path(path)
        config_file = source if _is_config(source) else _config_of(source)
        if config_file is None:
            raise AnsibleParserError(f"{path} is not part of an Opskeeper CMDB")
        self._read_config_data(str(config_file))

        overrides = {key: self.get_option(key) for key in _OPTIONS}
        cmdb, problems = _validated(config_file, overrides)
        if cmdb is None and not _is_config(source):
            # An asset file never fails: Ansible would hand it to the next plugin (yaml),
            # which reads it as a nonsense inventory. The configuration file reports.
            self.display.vvv(f"{path}: part of the invalid CMDB {config_file}; skipped")
            return
        if cmdb is None:
            root = config_file.resolve().parent
            if root in _REPORTED:
                raise AnsibleParserError(
                    f"the CMDB {shown_path(config_file)} is not valid (its problems are "
                    "listed with the first failure above)"
                )
            _REPORTED.add(root)
            count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
            lines = "\n".join(str(problem) for problem in problems)
            raise AnsibleParserError(
                f"the CMDB {shown_path(config_file)} has {count} and yields no host until "
                f"each is fixed (`opskeeper cmdb validate {shown_path(root)}` lists them):"
                f"\n{lines}"
            )
        self._populate(cmdb)

    def _populate(self, cmdb: Any) -> None:
        strict = self.get_option("strict")
        record_key = self.get_option("vars_prefix")
        for host in inventory_hosts(cmdb):
            self.inventory.add_host(host.name)
            for group in host.groups:
                self.inventory.add_group(group)
                self.inventory.add_child(group, host.name)
            for key, value in host.variables.items():
                templates = key not in (record_key, "ansible_host")
                self.inventory.set_variable(host.name, key, _trusted(value, templates))

            hostvars = self.inventory.get_host(host.name).get_vars()
            self._set_composite_vars(self.get_option("compose"), hostvars, host.name, strict)
            self._add_host_to_composed_groups(
                self.get_option("groups"), hostvars, host.name, strict
            )
            self._add_host_to_keyed_groups(
                self.get_option("keyed_groups"), hostvars, host.name, strict
            )
