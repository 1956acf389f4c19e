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

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    field_validator,
)
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


#: Most addresses one discovery sweep may cover, over all its networks: a /20. Larger
#: networks are someone else's job (a scanner with rate limits), not a nightly side task.
MAX_DISCOVERY_ADDRESSES = 4096

#: TCP ports that answer on what Opskeeper manages: SSH (and the lab's 2222), WinRM, HTTPS.
DISCOVERY_PORTS = (22, 2222, 5985, 5986, 443)

_NETWORK_FIX = "expected a network in CIDR notation, such as 192.0.2.0/24"


def _as_network(value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(_NETWORK_FIX)
    try:
        network = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise _fail(_NETWORK_FIX) from None
    if str(network.network_address) != value.strip().split("/")[0]:
        raise _fail(f"it has host bits set: write the network, {network.with_prefixlen}")
    if network.num_addresses > MAX_DISCOVERY_ADDRESSES:
        raise _fail(
            f"it holds {network.num_addresses} addresses, more than the "
            f"{MAX_DISCOVERY_ADDRESSES} one sweep may cover: list smaller networks "
            "(a /20 or less), only those where assets live"
        )
    return network.with_prefixlen


def _as_tcp_port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise _fail("expected a TCP port number from 1 to 65535")
    return value


def _as_seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 30:
        raise _fail("expected seconds, more than 0 and at most 30, such as 1 or 0.5")
    return float(value)


def _as_concurrency(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1024:
        raise _fail("expected how many connections may be open at once, from 1 to 1024")
    return value


Network = Annotated[str, BeforeValidator(_as_network)]
TcpPort = Annotated[int, BeforeValidator(_as_tcp_port)]


class Discovery(Record):
    """Where ``cmdb reconcile`` looks for devices that answer but have no record: a TCP
    connect sweep of ``networks`` on ``ports``."""

    networks: Annotated[list[Network], Field(min_length=1)]
    ports: Annotated[list[TcpPort], Field(min_length=1)] = list(DISCOVERY_PORTS)
    #: Seconds to wait for a connection (and for an SSH banner).
    timeout: Annotated[float, BeforeValidator(_as_seconds)] = 1.0
    #: Connections open at once.
    concurrency: Annotated[int, BeforeValidator(_as_concurrency)] = 64

    @field_validator("networks", mode="after")
    @classmethod
    def _within_the_cap(cls, networks: list[str]) -> list[str]:
        total = sum(ipaddress.ip_network(network).num_addresses for network in networks)
        if total > MAX_DISCOVERY_ADDRESSES:
            raise _fail(
                f"together they hold {total} addresses, more than the "
                f"{MAX_DISCOVERY_ADDRESSES} one sweep may cover: list fewer or smaller networks"
            )
        return networks


#: Keys of the plugin configuration file (``cmdb.yml``) besides the ``constructed`` ones.
CONFIG_KEYS = (
    "plugin",
    "cmdb_dir",
    "vars_prefix",
    "platform_groups",
    "expiry_warn_days",
    "discovery",
)

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
    discovery: Discovery | None = None
