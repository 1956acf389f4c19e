"""The shape of a CMDB record: assets, their relations and parts history, and spare parts.

These models check one record on its own: the fields it may have, their types and their
allowed values. What needs more than one record (unique tags, relations that point at
assets that exist, cycles) or depends on the kind of asset is checked in
:mod:`runner.cmdb.load`, which also turns every error into a message with file and line.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr
from pydantic_core import PydanticCustomError

Kind = Literal[
    "server", "vm", "switch", "router", "firewall", "pc", "printer", "copier", "storage", "service"
]
Platform = Literal[
    "linux",
    "windows",
    "ios",
    "iosxe",
    "nxos",
    "eos",
    "junos",
    "panos",
    "fortios",
    "routeros",
    "esxi",
    "other",
]
Criticality = Literal["low", "medium", "high", "critical"]
State = Literal["planned", "in_use", "maintenance", "spare", "retired"]
PartAction = Literal["issue", "replace"]

KINDS: tuple[str, ...] = get_args(Kind)
PLATFORMS: tuple[str, ...] = get_args(Platform)
CRITICALITIES: tuple[str, ...] = get_args(Criticality)
STATES: tuple[str, ...] = get_args(State)

#: Kinds that are pieces of hardware with a serial number and a place to stand.
PHYSICAL_KINDS = frozenset(
    {"server", "switch", "router", "firewall", "pc", "printer", "copier", "storage"}
)

#: Kinds that playbooks log in to, so they need a platform to pick the connection and role.
PLATFORM_KINDS = frozenset({"server", "vm", "switch", "router", "firewall", "pc"})

#: Kinds that other assets can run on (``runs_on`` targets).
HOSTING_KINDS = frozenset({"server", "vm", "pc", "storage"})

#: Kinds that may carry ``runs_on``.
GUEST_KINDS = frozenset({"vm", "service"})

#: Lifecycle states that are never targeted by jobs.
UNTARGETED_STATES = frozenset({"spare", "retired"})

#: Lifecycle states of assets that work for the business now.
ACTIVE_STATES = frozenset({"in_use", "maintenance"})

#: Which lifecycle state may follow which. Retired is final.
TRANSITIONS: dict[str, frozenset[str]] = {
    "planned": frozenset({"in_use", "spare", "retired"}),
    "in_use": frozenset({"maintenance", "spare", "retired"}),
    "maintenance": frozenset({"in_use", "spare", "retired"}),
    "spare": frozenset({"in_use", "maintenance", "retired"}),
    "retired": frozenset(),
}

#: Allowed values of enumerated fields, by the field's own name, for messages.
CHOICES: dict[str, tuple[str, ...]] = {
    "kind": KINDS,
    "platform": PLATFORMS,
    "criticality": CRITICALITIES,
    "state": STATES,
    "action": get_args(PartAction),
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_LABEL = re.compile(r"^(?=.{1,63}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$")


def _fail(fix: str) -> PydanticCustomError:
    """A validation error whose text is the fix; the loader puts the field and value first."""
    return PydanticCustomError("cmdb_value", fix)


def _as_date(value: Any) -> date:
    # YAML turns 2024-03-01 into a date itself; quoted text is accepted in the same spelling.
    if isinstance(value, datetime):
        raise _fail("expected a date without a time, as YYYY-MM-DD")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise _fail("expected a real date, as YYYY-MM-DD") from None
    raise _fail("expected a date, as YYYY-MM-DD")


def _as_name(value: Any) -> str:
    if not isinstance(value, str):
        raise _fail("expected text: quote it")
    if not _NAME.match(value):
        raise _fail(
            "expected letters, digits, '.', '_' and '-' only, starting with a letter or digit"
        )
    return value


def _as_site(value: Any) -> str:
    if not isinstance(value, str):
        raise _fail("expected text: quote it")
    if not _SITE.match(value):
        raise _fail("expected a short site code: letters, digits, '_' and '-' only")
    return value


def _as_port(value: Any) -> str:
    # Port numbers on small switches are written as numbers; port names as text.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise _fail("expected a port name such as Gi1/0/1 or a port number")
    return value


def _as_address(value: Any) -> str:
    if not isinstance(value, str):
        raise _fail("expected an IP address (192.0.2.10) or a DNS name (sw01.example.net)")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    labels = value.rstrip(".").split(".")
    if value and all(_LABEL.match(label) for label in labels) and not labels[-1].isdigit():
        return value
    raise _fail("expected an IP address (192.0.2.10) or a DNS name (sw01.example.net)")


CmdbDate = Annotated[date, BeforeValidator(_as_date)]
Name = Annotated[str, BeforeValidator(_as_name)]
Site = Annotated[str, BeforeValidator(_as_site)]
Port = Annotated[str, BeforeValidator(_as_port)]
Address = Annotated[str, BeforeValidator(_as_address)]
Text = Annotated[StrictStr, Field(min_length=1)]
Count = Annotated[StrictInt, Field(ge=0)]


class Record(BaseModel):
    """Every CMDB mapping: unknown fields are errors, so a misspelt field is never ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Location(Record):
    site: Site
    room: Text | None = None
    rack: Text | None = None
    #: Height unit in the rack, counted from the bottom.
    unit: Count | None = None


class HistoryEntry(Record):
    """A lifecycle change: the state the asset entered, and when."""

    state: State
    date: CmdbDate


class Lifecycle(Record):
    state: State
    history: Annotated[list[HistoryEntry], Field(min_length=1)]


class SupportContract(Record):
    vendor: Text | None = None
    id: Text | None = None
    end: CmdbDate


class Link(Record):
    """A cable: the other asset, its port, and the port on this asset."""

    asset: Name
    port: Port | None = None
    local_port: Port | None = None


class PartRecord(Record):
    """A part issued to or replaced in an asset, written by ``opskeeper spares``."""

    date: CmdbDate
    part: Text
    action: PartAction
    quantity: Annotated[StrictInt, Field(ge=1)] = 1
    old_serial: Text | None = None
    new_serial: Text | None = None
    reason: Text | None = None
    by: Text | None = None


class System(Record):
    """What the operating system reports; the census compares these with the device."""

    os: Text | None = None
    os_version: Text | None = None
    cpus: Annotated[StrictInt, Field(ge=1)] | None = None
    memory_mb: Annotated[StrictInt, Field(ge=1)] | None = None


class Asset(Record):
    """A configuration item: one server, VM, switch, router, firewall, PC, printer, copier,
    storage system or service. ``name`` is its Ansible inventory hostname."""

    tag: Name
    name: Name
    kind: Kind
    platform: Platform | None = None
    description: Text | None = None
    serial: Text | None = None
    vendor: Text | None = None
    model: Text | None = None
    location: Location | None = None
    owner: Text
    department: Text | None = None
    criticality: Criticality
    lifecycle: Lifecycle
    purchase_date: CmdbDate | None = None
    warranty_end: CmdbDate | None = None
    support_contract: SupportContract | None = None
    management_address: Address | None = None
    system: System | None = None
    tags: list[Text] = []
    vars: dict[StrictStr, Any] = {}
    runs_on: Name | None = None
    depends_on: list[Name] = []
    connected_to: list[Link] = []
    backed_up_to: list[Name] = []
    parts: list[PartRecord] = []

    @property
    def state(self) -> str:
        return self.lifecycle.state

    def is_host(self) -> bool:
        """Whether Ansible can target it at all: it has an address or runs on the controller."""
        if self.kind == "service":
            return False
        return self.management_address is not None or self.vars.get("ansible_connection") == "local"


class SpareLocation(Record):
    site: Site
    room: Text | None = None
    shelf: Text | None = None


class Spare(Record):
    """Stock of one spare part: how many there are, where, and what they fit."""

    part_number: Text
    model: Text
    description: Text | None = None
    vendor: Text | None = None
    compatible_models: list[Text] = []
    compatible_assets: list[Name] = []
    quantity: Count
    minimum: Count
    location: SpareLocation


#: Keys of the plugin configuration file (``cmdb.yml``) besides the ``constructed`` ones.
CONFIG_KEYS = ("plugin", "cmdb_dir", "vars_prefix", "platform_groups", "expiry_warn_days")

#: Options that Ansible's ``constructed`` fragment adds to the plugin configuration.
CONSTRUCTED_KEYS = (
    "strict",
    "compose",
    "groups",
    "keyed_groups",
    "use_extra_vars",
    "leading_separator",
)


class Settings(BaseModel):
    """The plugin configuration as the CMDB tools read it (``cmdb.yml``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    plugin: Literal["opskeeper_cmdb"]
    cmdb_dir: Text = "assets"
    vars_prefix: Annotated[StrictStr, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = "cmdb"
    platform_groups: bool = True
    expiry_warn_days: Count = 90
