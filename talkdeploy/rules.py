"""Validation rules: one function per mistake, each returning Problems (never raising).

Two kinds of rules run from talkdeploy.model.build:

- variable rules (`check_variables`), per host, before the model is built: unknown
  role variables (with a "did you mean"), values the role's argument spec rejects
  (checked by Ansible's own validator), variables for a role the host does not run,
  strings where a boolean is expected;
- deployment rules (`check_deployment`: TURN_RULES per TURN server, then Talk and group
  rules), on the built model: secret format, ports and
  their clashes, relay range, TLS settings, transports, peer/listening IP lists,
  coturn_extra_options, Talk's TURN entries and `host:port` forms, Talk's own asserts,
  the nftables backend on a web server, groups.

Every Problem names the file that set the value (or the file to set it in), the key,
what is wrong and how to fix it.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talkdeploy.inventory import NEXTCLOUD_GROUP, TURN_GROUP, LoadedHost, LoadedInventory
from talkdeploy.problems import Problem, Severity
from talkdeploy.specs import ROLE_GROUPS, check_value, converted_value, role_for, variable_specs

if TYPE_CHECKING:
    from talkdeploy.model import Deployment, TurnServer

WEB_SERVER_PORTS = (80, 443)
PORT_VARIABLES = (
    "coturn_listening_port",
    "coturn_tls_listening_port",
    "coturn_min_port",
    "coturn_max_port",
    "firewall_ssh_port",
)
SMALL_RELAY_RANGE = 1000  # each TURN allocation holds one relay port
HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$"
)
# turnserver.conf options set by a dedicated variable; coturn_extra_options must not repeat them.
MANAGED_OPTIONS = {
    "listening-port": "coturn_listening_port",
    "tls-listening-port": "coturn_tls_listening_port",
    "min-port": "coturn_min_port",
    "max-port": "coturn_max_port",
    "cert": "coturn_cert",
    "pkey": "coturn_pkey",
    "realm": "coturn_realm",
    "static-auth-secret": "coturn_static_auth_secret",
    "use-auth-secret": "coturn_static_auth_secret",
    "no-udp": "coturn_no_udp",
    "no-tcp": "coturn_no_tcp",
    "no-tls": "coturn_no_tls",
    "no-dtls": "coturn_no_dtls",
    "denied-peer-ip": "coturn_denied_peer_ips",
    "allowed-peer-ip": "coturn_allowed_peer_ips",
    "listening-ip": "coturn_listening_ips",
    "relay-ip": "coturn_relay_ips",
    "external-ip": "coturn_external_ips",
}


class Where:
    """Locates a host's variables: the file that set one, or the file to set it in."""

    def __init__(self, inventory: LoadedInventory, host: LoadedHost, group: str) -> None:
        self.inventory = inventory
        self.host = host
        self.group = group

    def __call__(self, key: str) -> str:
        origin = self.host.origins.get(key)
        if origin is not None:
            return origin
        return self.inventory.group_vars_file(self.group)

    def set_by_inventory(self, key: str) -> bool:
        return key in self.host.inventory

    def problem(self, key: str, message: str, fix: str, severity: Severity = "error") -> Problem:
        return Problem(self(key), key, message, fix, severity, self.host.name)


# --------------------------------------------------------------------------- variables


def check_variables(
    inventory: LoadedInventory, host: LoadedHost
) -> tuple[list[Problem], dict[str, Any]]:
    """Per-host variable checks; returns the problems and the variables usable for the model.

    Invalid values are replaced by the role default (or dropped) in the returned
    variables, so a single typo produces a single problem.
    """
    specs = variable_specs(inventory.specs)
    where = Where(inventory, host, _main_group(host))
    problems: list[Problem] = []
    usable = host.variables
    known_roles = set(inventory.specs)
    for key, value in sorted(host.inventory.items()):
        role = role_for(key)
        if role is None:
            continue
        spec = specs.get(key)
        if spec is None:
            if role not in known_roles:
                continue  # that role's spec is not available; nothing to compare with
            problems.append(_unknown_variable(where, key, specs))
            usable.pop(key, None)
            continue
        group = ROLE_GROUPS.get(spec.role)
        if group is not None and not host.in_group(group):
            if _set_for_all(host.origins.get(key, "")):
                continue  # group_vars/all reaches every host on purpose
            problems.append(
                where.problem(
                    key,
                    f"{key} belongs to the {spec.role} role, which runs only on the "
                    f"`{group}` group; {host.name} is not in it, so the value has no effect",
                    f"move {key} to group_vars/{group} or add {host.name} to `{group}`",
                    "warning",
                )
            )
            continue  # its value is never used, so its type does not matter
        errors = check_value(spec, value)
        if errors:
            if _is_secret(key, spec.ansible_spec):  # Ansible's message may quote the value
                errors = [f"{key} is not a valid {spec.type} (value not shown: it is a secret)"]
            problems.append(
                where.problem(
                    key,
                    f"{key}: {'; '.join(errors)}",
                    _type_fix(spec.type, spec.choices),
                )
            )
            _fall_back(usable, host, key)
            continue
        if spec.type == "bool" and isinstance(value, str):
            problems.append(
                where.problem(
                    key,
                    f"{key} is the string {value!r}; the role reads it as "
                    f"{converted_value(spec, value)!r} but templates see a non-empty string",
                    f"write a YAML boolean: `{key}: {str(converted_value(spec, value)).lower()}`",
                    "warning",
                )
            )
        value = converted_value(spec, value)
        if key in PORT_VARIABLES and isinstance(value, int) and not 1 <= value <= 65535:
            problems.append(
                where.problem(key, f"{key} is {value}, outside 1-65535", "use a port 1-65535")
            )
            _fall_back(usable, host, key)
            continue
        usable[key] = value
    for key, reason in sorted(host.unresolved.items()):
        if role_for(key) is None:
            continue
        problems.append(
            where.problem(
                key,
                f"{key} could not be read: {reason}; it was not checked",
                "pass --vault-password-file (or set ANSIBLE_VAULT_PASSWORD_FILE)"
                if "vault" in reason
                else "make the value a literal or a template of inventory variables only",
                "warning",
            )
        )
    return problems, usable


def _set_for_all(origin: str) -> bool:
    parts = Path(origin.partition(":")[0]).parts
    return any(
        parts[i] == "group_vars" and parts[i + 1].split(".")[0] == "all"
        for i in range(len(parts) - 1)
    )


def _is_secret(key: str, ansible_spec: Any) -> bool:
    return "secret" in key or bool(ansible_spec.get("no_log"))


def _fall_back(usable: dict[str, Any], host: LoadedHost, key: str) -> None:
    """Build the model with the role default instead of an invalid value (one problem only)."""
    if key in host.defaults:
        usable[key] = host.defaults[key]
    else:
        usable.pop(key, None)


def _main_group(host: LoadedHost) -> str:
    if host.in_group(TURN_GROUP):
        return TURN_GROUP
    if host.in_group(NEXTCLOUD_GROUP):
        return NEXTCLOUD_GROUP
    return "all"


def _unknown_variable(where: Where, key: str, specs: dict[str, Any]) -> Problem:
    role = role_for(key)
    same_role = [name for name, spec in specs.items() if spec.role == role]
    close = difflib.get_close_matches(key, same_role, n=1, cutoff=0.75)
    if close:
        fix = f"did you mean {close[0]}?"
    else:
        fix = f"remove it, or see roles/{role}/meta/argument_specs.yml for the {role} variables"
    return where.problem(key, f"{key} is not a variable of the {role} role", fix)


def _type_fix(kind: str, choices: tuple[Any, ...] | None) -> str:
    if choices:
        return "use one of: " + ", ".join(str(choice) for choice in choices)
    examples = {
        "int": "a whole number, e.g. 3478",
        "bool": "true or false",
        "list": "a YAML list",
        "dict": "a YAML mapping",
        "str": "a string",
        "path": "an absolute path on the host",
    }
    return f"give {examples.get(kind, 'a ' + kind)}"


# --------------------------------------------------------------------------- TURN servers

TurnRule = Callable[["TurnServer", Where], Iterable[Problem]]


def secret_format(server: TurnServer, where: Where) -> Iterator[Problem]:
    from talkdeploy.secrets import MIN_LENGTH, format_problem

    if server.secret is None:
        return
    problem = format_problem(server.secret)
    if problem:
        yield where.problem(
            "coturn_static_auth_secret",
            f"{problem}; the coturn role refuses it",
            f"use at least {MIN_LENGTH} hex characters (vault-encrypted): "
            "talkdeploy secret generate -i INVENTORY --force",
        )


def relay_range(server: TurnServer, where: Where) -> Iterator[Problem]:
    low, high = server.min_port, server.max_port
    if low > high:
        yield where.problem(
            "coturn_min_port",
            f"relay range {low}-{high} is reversed: coturn_min_port is above coturn_max_port",
            "set coturn_min_port below coturn_max_port, e.g. 49152 and 65535",
        )
        return
    if low < 1024:
        yield where.problem(
            "coturn_min_port",
            f"relay range starts at {low}, among the privileged ports below 1024",
            "start the relay range at 1024 or above (default 49152)",
        )
    size = high - low + 1
    if size < SMALL_RELAY_RANGE:
        yield where.problem(
            "coturn_min_port",
            f"relay range {low}-{high} has only {size} ports; each TURN allocation holds "
            "one, so at most that many participants can be relayed at once",
            f"widen it to at least {SMALL_RELAY_RANGE} ports (default 49152-65535)",
            "warning",
        )


def _ssh_port(server: TurnServer, where: Where) -> int:
    for key in ("ansible_port", "ansible_ssh_port"):
        value = where.host.inventory.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return 22


def port_clashes(server: TurnServer, where: Where) -> Iterator[Problem]:
    listeners = [("coturn_listening_port", server.listening_port)]
    if server.tls_listening_port is not None:
        listeners.append(("coturn_tls_listening_port", server.tls_listening_port))
        if server.tls_listening_port == server.listening_port:
            yield where.problem(
                "coturn_tls_listening_port",
                f"the TLS port and the plain port are both {server.listening_port}; coturn "
                "cannot bind the same port twice (it accepts TLS on the plain port anyway)",
                "use another coturn_tls_listening_port (default 5349)",
            )
    for key, port in listeners:
        if server.min_port <= port <= server.max_port:
            yield where.problem(
                key,
                f"{key} {port} lies inside the relay range {server.min_port}-{server.max_port}",
                "move the listening port out of the relay range or shrink the range",
            )
    ssh = _ssh_port(server, where)
    for key, port in listeners:
        if port == ssh and (server.tcp or key == "coturn_tls_listening_port"):
            yield where.problem(
                key,
                f"{key} {port} is the SSH port Ansible connects to on {server.name}",
                "choose another port for coturn (443, 3478 or 5349)",
            )
    if server.min_port <= ssh <= server.max_port:
        yield where.problem(
            "coturn_min_port",
            f"the SSH port {ssh} lies inside the relay range {server.min_port}-"
            f"{server.max_port}; the firewall opens that range to everyone",
            "move SSH or the relay range so that they do not overlap",
            "warning",
        )
    if where.host.in_group(NEXTCLOUD_GROUP):
        for key, port in listeners:
            if port in WEB_SERVER_PORTS and (server.tcp or key == "coturn_tls_listening_port"):
                yield where.problem(
                    key,
                    f"{server.name} also runs Nextcloud, whose web server holds TCP {port}; "
                    f"coturn cannot listen on TCP {port} there",
                    "use 3478/5349 for coturn on this host, or run coturn on its own host",
                )


def tls_settings(server: TurnServer, where: Where) -> Iterator[Problem]:
    variables = server.variables
    cert, pkey = bool(variables.get("coturn_cert")), bool(variables.get("coturn_pkey"))
    if cert != pkey:
        missing = "coturn_pkey" if cert else "coturn_cert"
        yield where.problem(
            missing,
            "only one of coturn_cert and coturn_pkey is set; TLS needs both, so it stays off",
            f"set {missing} to the path of the "
            + ("private key" if missing == "coturn_pkey" else "certificate chain")
            + " on the TURN host",
        )
    elif not cert and where.set_by_inventory("coturn_tls_listening_port"):
        yield where.problem(
            "coturn_tls_listening_port",
            "a TLS port is set but coturn_cert and coturn_pkey are not, so TLS stays off",
            "set coturn_cert and coturn_pkey (e.g. /etc/letsencrypt/live/NAME/fullchain.pem "
            "and privkey.pem, readable by the turnserver user)",
        )
    if server.tls and _is_ip(server.public_name):
        yield where.problem(
            "coturn_public_name",
            f"TLS (`turns:`) on the bare IP address {server.public_name}: certificates are "
            "issued for names, and Talk warns that turns: needs a domain",
            "set coturn_public_name to the TURN server's DNS name",
            "warning",
        )


def transports(server: TurnServer, where: Where) -> Iterator[Problem]:
    if not server.udp and not server.tcp:
        yield where.problem(
            "coturn_no_tcp",
            "coturn_no_udp and coturn_no_tcp are both set: no client can reach the TURN server",
            "keep at least one of UDP or TCP (Talk needs UDP for good calls)",
        )
    elif not server.udp:
        yield where.problem(
            "coturn_no_udp",
            "UDP is off: every call is relayed over TCP, which adds latency",
            "leave coturn_no_udp false unless UDP is blocked on the way to the server",
            "warning",
        )


def _extra_options(server: TurnServer) -> list[tuple[str, str]]:
    """coturn_extra_options as (option, value) pairs, whatever shape the inventory gave."""
    raw = server.variables.get("coturn_extra_options") or []
    pairs: list[tuple[str, str]] = []
    if isinstance(raw, dict):
        # {option: value}: true = bare option, false/null = not written, list = repeated.
        for name, value in raw.items():
            values = value if isinstance(value, list) else [value]
            for item in values:
                if item is False or item is None:
                    continue
                pairs.append((str(name), "" if item is True else str(item)))
    elif isinstance(raw, list):
        for item in raw:
            if isinstance(item, dict):
                pairs.extend((str(k), "" if v in (None, True) else str(v)) for k, v in item.items())
            else:
                name, _, value = str(item).partition("=")
                pairs.append((name.strip(), value))
    return pairs


OPTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")  # roles/coturn/tasks/validate.yml


def extra_options(server: TurnServer, where: Where) -> Iterator[Problem]:
    key = "coturn_extra_options"
    for raw_name, value in _extra_options(server):
        name = raw_name.replace("_", "-")
        if not OPTION_NAME.match(raw_name):
            yield where.problem(
                key,
                f"{raw_name!r} is not a turnserver.conf option name (no comments, no `=`)",
                "give option names as keys and their values as values, e.g. "
                "{max-allocate-lifetime: 1800}",
            )
        elif name == "no-udp-relay":
            yield where.problem(
                key,
                "no-udp-relay refuses UDP relay allocations, the only kind browsers request: "
                "no call could be relayed",
                "remove no-udp-relay from coturn_extra_options",
            )
        elif name in MANAGED_OPTIONS:
            yield where.problem(
                key,
                f"{name} is set in coturn_extra_options but is managed by "
                f"{MANAGED_OPTIONS[name]}; the file would hold both",
                f"remove {name} from coturn_extra_options and set {MANAGED_OPTIONS[name]}",
            )
        elif "\n" in value or "\r" in value:
            yield where.problem(
                key,
                f"the value of {name} spans several lines; turnserver.conf takes one per option",
                "give a single-line value (a list repeats the option)",
            )
        elif "#" in value:
            yield where.problem(
                key,
                f"the value of {name} holds `#`; turnserver.conf has no inline comments, so it "
                "becomes part of the value",
                "remove the `# ...` part",
                "warning",
            )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def _ip_problem(entry: str, allow_range: bool, allow_pair: bool) -> str | None:
    if allow_range and "-" in entry:
        start, _, end = entry.partition("-")
        try:
            first, last = ipaddress.ip_address(start.strip()), ipaddress.ip_address(end.strip())
        except ValueError:
            return f"{entry!r} is not an address range `FIRST-LAST`"
        if first.version != last.version:
            return f"{entry!r} mixes IPv4 and IPv6"
        if first > last:  # type: ignore[operator]
            return f"{entry!r} ends before it starts"
        return None
    if allow_pair and "/" in entry:
        parts = entry.split("/")
        if len(parts) == 2 and all(_is_ip(part) for part in parts):
            return None
        return f"{entry!r} is not `PUBLIC-IP` or `PUBLIC-IP/PRIVATE-IP`"
    if not _is_ip(entry):
        return f"{entry!r} is not an IP address"
    return None


def ip_lists(server: TurnServer, where: Where) -> Iterator[Problem]:
    lists = {
        "coturn_denied_peer_ips": (True, False),
        "coturn_allowed_peer_ips": (True, False),
        "coturn_listening_ips": (False, False),
        "coturn_relay_ips": (False, False),
        "coturn_external_ips": (False, True),
    }
    for key, (allow_range, allow_pair) in lists.items():
        entries = server.variables.get(key) or []
        if not isinstance(entries, list):
            continue
        for entry in entries:
            problem = _ip_problem(str(entry), allow_range, allow_pair)
            if problem:
                yield where.problem(
                    key,
                    f"{key}: {problem}",
                    "write single addresses like 203.0.113.5"
                    + (" or ranges like 10.0.0.0-10.255.255.255" if allow_range else "")
                    + (" or 203.0.113.5/10.0.0.5 (public/private)" if allow_pair else ""),
                )


def public_name(server: TurnServer, where: Where) -> Iterator[Problem]:
    for key in ("coturn_public_name", "coturn_realm"):
        if where.host.inventory.get(key, None) == "":
            yield where.problem(
                key,
                f"{key} is empty; the coturn role refuses an empty {key}",
                f"remove {key} to use the default, or give a DNS name",
            )
    key = "coturn_public_name"
    name = server.public_name
    if "://" in name or name.startswith(("turn:", "turns:", "stun:")):
        yield where.problem(
            key,
            f"{name!r} has a scheme; Talk adds turn:/turns: itself",
            "give the bare name, e.g. turn.example.org",
        )
        return
    host, sep, port = name.rpartition(":")
    if sep and host and not _is_ip(name) and port.isdigit():
        yield where.problem(
            key,
            f"{name!r} includes a port; the port comes from coturn_listening_port",
            f"set coturn_public_name: {host} and coturn_listening_port: {port}",
        )
        return
    if not _is_ip(name) and not HOSTNAME.match(name):
        yield where.problem(key, f"{name!r} is not a valid DNS name", "use e.g. turn.example.org")


TURN_RULES: tuple[TurnRule, ...] = (
    secret_format,
    relay_range,
    port_clashes,
    tls_settings,
    transports,
    extra_options,
    ip_lists,
    public_name,
)


# --------------------------------------------------------------------------- Talk hosts


def _host_port_problem(text: str) -> str | None:
    host, sep, port = text.rpartition(":")
    if "://" in text or re.match(r"^(stun|turn|turns|https?):", text):
        return f"{text!r} has a scheme; Talk wants `host:port`"
    if not sep or not host:
        return f"{text!r} has no port; Talk wants `host:port`"
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        return f"{text!r} has no valid port (1-65535) after the last `:`"
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not _is_ip(bare) and not HOSTNAME.match(bare):
        return f"{host!r} is not a valid host name or address"
    if ":" in bare and not host.startswith("["):
        return f"{text!r}: write IPv6 addresses in brackets, e.g. [2001:db8::1]:3478"
    return None


def talk_variables(host: LoadedHost, where: Where) -> Iterator[Problem]:
    """STUN servers given in the inventory must be `host:port` (spreed lib/Command/Stun/Add.php)."""
    for key, value in sorted(host.inventory.items()):
        if key.startswith("talk_") and "stun" in key and isinstance(value, list):
            for item in value:
                problem = _host_port_problem(str(item))
                if problem:
                    yield where.problem(key, problem, "write it as stun.example.org:3478")


def talk_turn_entries(
    deployment: Deployment, entries: list[dict[str, str]], where: Where
) -> Iterator[Problem]:
    """The entries Talk will get: spelled as Talk accepts, and matching each TURN server."""
    for server, entry in zip(deployment.turn_servers, entries, strict=False):
        schemes = entry["schemes"].split(",")
        protocols = entry["protocols"].split(",") if entry["protocols"] else []
        key = "talk_turn_schemes"
        if "turns" in schemes and not server.tls:
            yield where.problem(
                key,
                f"Talk would offer turns: for {server.name}, which has no TLS (coturn_cert "
                "and coturn_pkey are not both set, or coturn_no_tls is on)",
                "leave talk_turn_schemes at auto, or give the TURN server a certificate",
            )
        key = "talk_turn_protocols"
        for protocol in protocols:
            if not getattr(server, protocol, True):
                yield where.problem(
                    key,
                    f"Talk would offer {protocol} for {server.name}, where coturn has "
                    f"{protocol} switched off",
                    "leave talk_turn_protocols at auto",
                )


def talk_role_asserts(variables: dict[str, Any], where: Where) -> Iterator[Problem]:
    """What roles/nextcloud_talk/tasks/validate.yml asserts, caught before any host is touched."""
    stun = variables.get("talk_stun_servers")
    if stun is not None and len(stun) == 0 and not variables.get("talk_keep_default_stun", True):
        yield where.problem(
            "talk_stun_servers",
            "talk_stun_servers is empty and talk_keep_default_stun is false: Talk would fall "
            "back to stun.nextcloud.com:443 anyway",
            "list at least one STUN server (host:port), or keep the default",
        )
    for entry in variables.get("talk_retired_servers") or []:
        text = str(entry)
        if "/" in text or re.match(r"^(stun|turn|turns|https?):", text):
            yield where.problem(
                "talk_retired_servers",
                f"{text!r} has a scheme or a path",
                "give host or host:port, e.g. old-turn.example.org:443",
            )
    servers = variables.get("talk_signaling_servers") or []
    for server in servers:
        url = server.get("server") if isinstance(server, dict) else None
        if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url):
            yield where.problem(
                "talk_signaling_servers",
                f"{server!r} is not {{server: https://..., verify: true}}",
                "write each entry as {server: https://signaling.example.org, verify: true}",
            )
    if servers and not variables.get("talk_signaling_secret"):
        yield where.problem(
            "talk_signaling_secret",
            "signaling servers are listed but talk_signaling_secret is empty",
            "set talk_signaling_secret (vault-encrypted) to the signaling server's secret",
        )


def nftables_web_ports(deployment: Deployment, where: Where) -> Iterator[Problem]:
    """The nftables backend filters ALL input: a web server on the same host must be listed."""
    variables = where.host.variables
    if (
        variables.get("firewall_backend") != "nftables"
        or variables.get("firewall_nftables_input_policy", "drop") != "drop"
        or not where.host.in_group(NEXTCLOUD_GROUP)
    ):
        return
    extra = [str(port) for port in variables.get("firewall_nftables_extra_ports") or []]
    missing = [port for port in ("80/tcp", "443/tcp") if port not in extra]
    if missing:
        yield where.problem(
            "firewall_nftables_extra_ports",
            f"{where.host.name} also serves Nextcloud, but the nftables table drops every port "
            f"it does not list: {', '.join(missing)} would be closed",
            f"add {', '.join(missing)} to firewall_nftables_extra_ports",
        )


# --------------------------------------------------------------------------- deployment


def check_deployment(deployment: Deployment) -> list[Problem]:
    inventory = deployment.inventory
    problems: list[Problem] = []
    for server in deployment.turn_servers:
        where = Where(inventory, inventory.hosts[server.name], TURN_GROUP)
        for rule in TURN_RULES:
            problems.extend(rule(server, where))
        problems.extend(nftables_web_ports(deployment, where))
    for talk in deployment.nextcloud_hosts:
        host = inventory.hosts[talk.name]
        where = Where(inventory, host, NEXTCLOUD_GROUP)
        problems.extend(talk_variables(host, where))
        problems.extend(talk_role_asserts(talk.variables, where))
        problems.extend(talk_turn_entries(deployment, talk.expected_turn_entries, where))
        if not deployment.turn_servers:
            problems.append(
                Problem(
                    display_hosts_file(inventory),
                    TURN_GROUP,
                    f"{talk.name} is a Talk host but the inventory has no TURN server: "
                    "calls between networks would fail",
                    "add at least one host to the `turn_servers` group",
                    "error",
                    talk.name,
                )
            )
    if not deployment.turn_servers and not deployment.nextcloud_hosts:
        problems.append(
            Problem(
                display_hosts_file(inventory),
                "all",
                "no host is in `turn_servers` or `nextcloud`; talkdeploy would do nothing",
                "put the coturn hosts in `turn_servers` and the Nextcloud hosts in `nextcloud`",
            )
        )
    elif deployment.turn_servers and not deployment.nextcloud_hosts:
        problems.append(
            Problem(
                display_hosts_file(inventory),
                NEXTCLOUD_GROUP,
                "no host is in `nextcloud`: coturn will run but no Talk is told to use it",
                "add the Nextcloud host(s) to the `nextcloud` group",
                "warning",
            )
        )
    return problems


def display_hosts_file(inventory: LoadedInventory) -> str:
    from talkdeploy.inventory import display_path

    if inventory.source.is_file():
        return display_path(inventory.source)
    for name in ("hosts.yml", "hosts.yaml", "hosts", "hosts.ini", "inventory.yml"):
        if (inventory.source / name).is_file():
            return display_path(inventory.source / name)
    return display_path(inventory.source)
