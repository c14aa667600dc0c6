"""The typed model of a Talk deployment, built from a loaded inventory.

    loaded = talkdeploy.inventory.load(Path("inventories/prod"))
    deployment, problems = talkdeploy.model.build(loaded)

`build` runs every validation rule (talkdeploy.rules) and returns the problems as
values; it never raises for a mistake in the inventory. The model holds:

- `Deployment.turn_servers: list[TurnServer]`, one per host of the `turn_servers` group:
  `name` (inventory hostname); `address` (where to probe it from outside: host variable
  `talkdeploy_probe_address`, else `ansible_host`, else `public_name`); `public_name`;
  `listening_port`; `tls_listening_port` (int, or None when TLS is off); `min_port`,
  `max_port`; `udp`, `tcp`, `tls`, `dtls` (bools); `secret` (the inventory's
  `coturn_static_auth_secret`, or None: kept or generated on the host — see
  `secret_source`); `variables` (the coturn role's defaults merged with the inventory's
  coturn_* values, in the normal form the role's own check gives them). The endpoint fields
  are the coturn role's `coturn_endpoint` fact, computed by the same function the role calls
  (plugins/module_utils/coturn.py `endpoint`; `TurnServer.endpoint()` returns that dict).
- `Deployment.nextcloud_hosts: list[NextcloudHost]`, one per host of the `nextcloud` group:
  `name`, `variables` (nextcloud_talk defaults merged with the inventory's talk_* values),
  `expected_turn_entries` (Talk's `turn_servers` entries, in Talk's JSON key order,
  with `secret` only when the inventory knows it).

Variables whose value the roles' checks refuse are reported once and replaced by the role
default while the model is built, so one typo gives one problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import talkdeploy.shared
from talkdeploy.inventory import NEXTCLOUD_GROUP, TURN_GROUP, LoadedHost, LoadedInventory
from talkdeploy.problems import Problem

talkdeploy.shared.enable()

SecretSource = Literal["inventory", "vault-locked", "host"]


@dataclass(frozen=True)
class TurnServer:
    name: str
    address: str
    public_name: str
    listening_port: int
    tls_listening_port: int | None
    min_port: int
    max_port: int
    udp: bool
    tcp: bool
    tls: bool
    dtls: bool
    secret: str | None
    variables: dict[str, Any] = field(repr=False)
    secret_source: SecretSource = "host"  # noqa: S105 - where it comes from, not a secret

    def endpoint(self) -> dict[str, Any]:
        """The coturn role's `coturn_endpoint` fact for this host."""
        return {
            "public_name": self.public_name,
            "listening_port": self.listening_port,
            "tls_listening_port": self.tls_listening_port,
            "min_port": self.min_port,
            "max_port": self.max_port,
            "udp": self.udp,
            "tcp": self.tcp,
            "tls": self.tls,
            "dtls": self.dtls,
        }


@dataclass(frozen=True)
class NextcloudHost:
    name: str
    variables: dict[str, Any] = field(repr=False)
    expected_turn_entries: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Deployment:
    turn_servers: list[TurnServer]
    nextcloud_hosts: list[NextcloudHost]
    inventory: LoadedInventory = field(repr=False)

    def turn_server(self, name: str) -> TurnServer:
        for server in self.turn_servers:
            if server.name == name:
                return server
        raise KeyError(name)


def coturn_settings(host: LoadedHost) -> dict[str, Any]:
    """The coturn_* values in normal form, as the coturn role will use them on this host.

    Computed by the role's own check (plugins/module_utils/coturn.py); a value the check
    refuses (already reported as a problem) is replaced by the role default, so that one
    mistake gives one problem and the rest of the model can still be built.
    """
    from ansible_collections.talkdeploy.talk.plugins.module_utils import coturn

    context = coturn.Context(coturn.ssh_port(host.inventory), host.groups)

    def checked(variables: dict[str, Any]) -> dict[str, Any]:
        wanted = {k: v for k, v in variables.items() if k in coturn.VARIABLES}
        return coturn.check(wanted, context).settings

    settings = {**checked(host.defaults), **checked(host.variables)}
    # The name and realm default to other values (inventory_hostname, the public name): when
    # those are refused too, the model still needs a name; the problems are reported anyway.
    settings.setdefault("coturn_public_name", host.name)
    settings.setdefault("coturn_realm", settings["coturn_public_name"])
    return settings


def talk_filters() -> dict[str, Any]:
    """The nextcloud_talk role's own filters (talk_turn_entries, talk_endpoint_servers, ...).

    They live in the collection's plugins/filter/talk.py, which the role calls by FQCN
    (talkdeploy.talk.talk_turn_entries); the CLI calls the same functions.
    """
    from ansible_collections.talkdeploy.talk.plugins.filter.talk import FilterModule

    filters: dict[str, Any] = FilterModule().filters()
    return filters


def expected_turn_entries(
    loaded: LoadedInventory,
    servers: list[TurnServer],
    talk_variables: dict[str, Any],
    with_secrets: bool = True,
) -> list[dict[str, str]]:
    """Talk's `turn_servers` entries, computed by the nextcloud_talk role's own filter.

    An entry carries `secret` only when the inventory knows it (and with_secrets is set).
    """
    entries: list[dict[str, str]] = talk_filters()["talk_turn_entries"](
        [server.endpoint() for server in servers],
        [server.secret or "" for server in servers],
        str(talk_variables.get("talk_turn_schemes", "auto")),
        str(talk_variables.get("talk_turn_protocols", "auto")),
    )
    result = []
    for server, entry in zip(servers, entries, strict=True):
        entry = dict(entry)
        if not with_secrets or server.secret is None:
            entry.pop("secret", None)
        result.append(entry)
    return result


def _turn_server(host: LoadedHost) -> TurnServer:
    from ansible_collections.talkdeploy.talk.plugins.module_utils import coturn

    settings = coturn_settings(host)
    endpoint = coturn.endpoint(settings)
    secret: str | None = None
    source: SecretSource = "host"
    if "coturn_static_auth_secret" in host.unresolved:
        source = "vault-locked"
    elif settings.get("coturn_static_auth_secret"):
        secret, source = settings["coturn_static_auth_secret"], "inventory"
    address = str(
        host.inventory.get("talkdeploy_probe_address")
        or host.inventory.get("ansible_host")
        or endpoint["public_name"]
    )
    return TurnServer(
        name=host.name,
        address=address,
        secret=secret,
        secret_source=source,
        variables=settings,
        public_name=str(endpoint["public_name"]),
        listening_port=int(endpoint["listening_port"]),
        tls_listening_port=endpoint["tls_listening_port"],
        min_port=int(endpoint["min_port"]),
        max_port=int(endpoint["max_port"]),
        udp=bool(endpoint["udp"]),
        tcp=bool(endpoint["tcp"]),
        tls=bool(endpoint["tls"]),
        dtls=bool(endpoint["dtls"]),
    )


def build(loaded: LoadedInventory) -> tuple[Deployment, list[Problem]]:
    """The deployment the inventory describes, and every problem found in it."""
    from talkdeploy import rules

    problems: list[Problem] = []
    for host in loaded.hosts.values():
        problems.extend(rules.check_variables(loaded, host))

    turn_servers = [_turn_server(host) for host in loaded.group_hosts(TURN_GROUP)]
    nextcloud_hosts = []
    for host in loaded.group_hosts(NEXTCLOUD_GROUP):
        talk_variables = _talk_variables(host)
        entries = expected_turn_entries(loaded, turn_servers, talk_variables)
        nextcloud_hosts.append(NextcloudHost(host.name, talk_variables, entries))
    deployment = Deployment(turn_servers, nextcloud_hosts, loaded)
    problems.extend(rules.check_deployment(deployment))
    return deployment, _unique(problems)


def _talk_variables(host: LoadedHost) -> dict[str, Any]:
    """talk_* values in normal form; refused ones (reported) replaced by the role default."""
    from ansible_collections.talkdeploy.talk.plugins.module_utils import talk

    def checked(variables: dict[str, Any]) -> dict[str, Any]:
        wanted = {k: v for k, v in variables.items() if k in talk.VARIABLES}
        return talk.check(wanted).settings

    return {**checked(host.defaults), **checked(host.variables)}


def _unique(problems: list[Problem]) -> list[Problem]:
    """One problem per mistake: a group_vars value wrong on every host is reported once."""
    hosts: dict[tuple[str, str, str, str, str], list[str | None]] = {}
    for problem in problems:
        key = (problem.file, problem.key, problem.message, problem.fix, problem.severity)
        seen = hosts.setdefault(key, [])
        if problem.host not in seen:
            seen.append(problem.host)
    ordered: list[Problem] = []
    for (file, key_, message, fix, severity), names in hosts.items():
        host = names[0] if len(names) == 1 else None
        ordered.append(Problem(file, key_, message, fix, severity, host))  # type: ignore[arg-type]
    return ordered
