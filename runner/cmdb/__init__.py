"""The CMDB: asset records in YAML, validated, turned into an Ansible inventory.

The public interface, for the CLI, the inventory plugin and the nightly run:

* :func:`load_cmdb` / :func:`check_cmdb`: read and validate a CMDB folder;
* :func:`inventory_hosts`: the hosts, groups and variables Ansible gets from it;
* :func:`cmdb_checks`: spare stock, warranty and support checks in the check contract;
* :func:`impact`, :func:`graph_dot`, :func:`write_graph`: relations;
* :func:`reconcile`, :func:`drift_checks`, :func:`write_patch`: the census compared with
  the records.

Stock changes (:mod:`runner.cmdb.spares`) are imported from their module: they need the
store.
"""

from runner.cmdb.checks import CheckRow, cmdb_checks
from runner.cmdb.inventory import InventoryHost, inventory_hosts
from runner.cmdb.load import check_cmdb, default_root, default_roots, load_cmdb
from runner.cmdb.reconcile import Finding, Proposal, drift_checks, reconcile, write_patch
from runner.cmdb.records import Cmdb, CmdbInvalid
from runner.cmdb.relations import Impacted, graph_dot, impact, write_graph
from runner.cmdb.source import Problem

__all__ = [
    "CheckRow",
    "Cmdb",
    "CmdbInvalid",
    "Finding",
    "Impacted",
    "InventoryHost",
    "Problem",
    "Proposal",
    "check_cmdb",
    "cmdb_checks",
    "default_root",
    "default_roots",
    "drift_checks",
    "graph_dot",
    "impact",
    "inventory_hosts",
    "load_cmdb",
    "reconcile",
    "write_graph",
    "write_patch",
]
