"""The coturn role's settings: checked, normalised, and what the role computes from them.

    report = check(variables, Context(ssh_port=22, groups=["turn_servers"]))
    report.errors                      # [Finding(key, message, fix)], empty when usable
    endpoint(report.settings)          # the fact coturn_endpoint
    config(report.settings, "4.6.1", [secret])   # the dict turnserver.conf.j2 reads

One function per job, used by the role (plugins/action/check_settings.py and the filters in
plugins/filter/coturn.py) and by the talkdeploy CLI (validate, render, plan), so both refuse
the same input with the same words and both write the same turnserver.conf. Option names and
their meaning: coturn README.turnserver and examples/etc/turnserver.conf (4.6.1).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.talkdeploy.talk.plugins.module_utils import peers, values
from ansible_collections.talkdeploy.talk.plugins.module_utils.findings import Report
from ansible_collections.talkdeploy.talk.plugins.module_utils.values import Invalid

ROLE = "coturn"
ACKNOWLEDGE = "coturn_accept_unsafe_relay"
SMALL_RELAY_RANGE = 1000  # each TURN allocation holds one relay port
WEB_SERVER_PORTS = (80, 443)
TLS_COPIES = {"cert": "turn-cert.pem", "pkey": "turn-pkey.pem"}

# turnserver.conf options written from a variable; coturn_extra_options must not repeat them.
MANAGED_OPTIONS = {
    "listening-port": "coturn_listening_port",
    "tls-listening-port": "coturn_tls_listening_port",
    "listening-ip": "coturn_listening_ips",
    "relay-ip": "coturn_relay_ips",
    "external-ip": "coturn_external_ips",
    "min-port": "coturn_min_port",
    "max-port": "coturn_max_port",
    "no-udp": "coturn_no_udp",
    "no-tcp": "coturn_no_tcp",
    "no-tls": "coturn_no_tls",
    "no-dtls": "coturn_no_dtls",
    "fingerprint": "coturn_fingerprint",
    "lt-cred-mech": "coturn_static_auth_secret",
    "use-auth-secret": "coturn_static_auth_secret",
    "static-auth-secret": "coturn_static_auth_secret",
    "realm": "coturn_realm",
    "total-quota": "coturn_total_quota",
    "bps-capacity": "coturn_bps_capacity",
    "max-bps": "coturn_max_bps",
    "stale-nonce": "coturn_stale_nonce",
    "no-multicast-peers": "coturn_no_multicast_peers",
    "denied-peer-ip": "coturn_denied_peer_ips",
    "allowed-peer-ip": "coturn_allowed_peer_ips",
    "cert": "coturn_cert",
    "pkey": "coturn_pkey",
    "cipher-list": "coturn_cipher_list",
    "dh-file": "coturn_dh_file",
    "no-tlsv1": "coturn_no_tlsv1",
    "no-tlsv1-1": "coturn_no_tlsv1_1",
    "no-stun-backward-compatibility": "coturn_no_stun_backward_compatibility",
    "syslog": "coturn_syslog",
    "no-stdout-log": "coturn_no_stdout_log",
    "log-file": "coturn_log_file",
    "simple-log": "coturn_simple_log",
    "verbose": "coturn_verbosity",
}
# Options that open the relay, drop authentication or expose an admin interface. Names and
# aliases as coturn src/apps/relay/mainrelay.c `long_options` spells them (db = userdb,
# sql-userdb = psql-userdb); every web-admin* option (web-admin-listen-on-workers too) belongs
# to the web admin interface.
USER_DATABASE = "adds a user database beside the shared secret"
UNSAFE_OPTIONS = {
    "no-auth": "lets anyone relay without credentials",
    "allow-loopback-peers": "lets clients relay to the TURN host's own loopback services",
    "server-relay": "relays for servers (coturn calls it non-standard and dangerous)",
    "user": "adds static users that bypass the shared secret",
    "userdb": USER_DATABASE,
    "db": USER_DATABASE,
    "psql-userdb": USER_DATABASE,
    "sql-userdb": USER_DATABASE,
    "mysql-userdb": USER_DATABASE,
    "mongo-userdb": USER_DATABASE,
    "redis-userdb": USER_DATABASE,
    "cli-ip": "opens coturn's telnet admin CLI",
    "cli-port": "opens coturn's telnet admin CLI",
    "cli-password": "opens coturn's telnet admin CLI",
    "proc-user": "changes the user coturn runs as",
    "proc-group": "changes the group coturn runs as",
}
# Every web-admin* option (web-admin, -ip, -port, -listen-on-workers ...) by its prefix.
UNSAFE_PREFIXES = {"web-admin": "opens coturn's web admin interface"}
USELESS_OPTIONS = {
    "no-udp-relay": "refuses UDP relay allocations, the only kind browsers request: no call "
    "could be relayed",
}


@dataclass(frozen=True)
class Context:
    """What the checks need to know about the host besides its coturn_* variables."""

    ssh_port: int | None = None  # the port Ansible connects to
    groups: tuple[str, ...] = field(default_factory=tuple)


def ssh_port(host_variables: Mapping[str, Any]) -> int:
    """The port Ansible connects to: ansible_port (or ansible_ssh_port), else 22."""
    for name in ("ansible_port", "ansible_ssh_port"):
        value = host_variables.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return int(value)
        if isinstance(value, str) and value.isascii() and value.isdigit():
            return int(value)
    return 22


def fold(option: str) -> str:
    """coturn option names compared case- and separator-insensitively (`No_Auth` = no-auth)."""
    return option.lower().replace("_", "-")


def unsafe(folded: str) -> str | None:
    """Why an option (folded) is unsafe, or None: by its name, or by its family's prefix."""
    if folded in UNSAFE_OPTIONS:
        return UNSAFE_OPTIONS[folded]
    for prefix, reason in UNSAFE_PREFIXES.items():
        if folded.startswith(prefix):
            return reason
    return None


# --------------------------------------------------------------------------- per variable


def _realm(value: Any) -> str:
    realm = values.text(value, empty=False, what="a realm name")
    if any(c.isspace() for c in realm) or "#" in realm:
        values.fail("holds whitespace or #", "use the TURN server's domain, e.g. turn.example.org")
    return realm


def _optional_secret(value: Any) -> str:
    return "" if value == "" else values.hex_secret(value)


def _bounded(low: int, high: int) -> Callable[[Any], int]:
    return lambda value: values.integer(value, low, high)


def _choices(*allowed: str) -> Callable[[Any], str]:
    return lambda value: values.choice(value, allowed)


def _optional_path(value: Any) -> str:
    return values.absolute_path(value, empty=True)


SCALARS: dict[str, Callable[[Any], Any]] = {
    "coturn_public_name": values.host_or_address,
    "coturn_listening_port": values.port,
    "coturn_tls_listening_port": values.port,
    "coturn_min_port": values.port,
    "coturn_max_port": values.port,
    "coturn_realm": _realm,
    "coturn_static_auth_secret": _optional_secret,
    "coturn_total_quota": _bounded(0, 2**31 - 1),
    "coturn_bps_capacity": _bounded(0, 2**31 - 1),
    "coturn_max_bps": _bounded(0, 2**31 - 1),
    "coturn_cert": _optional_path,
    "coturn_pkey": _optional_path,
    "coturn_tls_dir": values.owned_directory,
    "coturn_cipher_list": values.cipher_list,
    "coturn_dh_file": _optional_path,
    "coturn_log_file": _optional_path,
    "coturn_verbosity": _choices("quiet", "verbose", "extra"),
    "coturn_privileged_port_method": _choices("setcap", "ambient", "root"),
    "coturn_limit_nofile": _bounded(1024, 2**30),
    "coturn_service_restart": _choices(
        "no", "always", "on-success", "on-failure", "on-abnormal", "on-abort", "on-watchdog"
    ),
    "coturn_old_version_restart_calendar": values.calendar,
    "coturn_apt_cache_valid_time": _bounded(0, 10**9),
    "coturn_package_lock_timeout": _bounded(0, 86400),
}
BOOLEANS = (
    "coturn_no_udp",
    "coturn_no_tcp",
    "coturn_no_tls",
    "coturn_no_dtls",
    "coturn_fingerprint",
    "coturn_stale_nonce",
    "coturn_no_multicast_peers",
    "coturn_no_tlsv1",
    "coturn_no_tlsv1_1",
    "coturn_no_stun_backward_compatibility",
    "coturn_syslog",
    "coturn_no_stdout_log",
    "coturn_simple_log",
    "coturn_allow_old_version",
    "coturn_tls_watch",
    ACKNOWLEDGE,
)
LISTS: dict[str, Callable[[Any], Any]] = {
    "coturn_listening_ips": values.ip_address,
    "coturn_relay_ips": values.ip_address,
    "coturn_external_ips": values.external_ip,
    "coturn_additional_static_auth_secrets": values.hex_secret,
    "coturn_denied_peer_ips": values.parse_range,
    "coturn_allowed_peer_ips": values.parse_range,
}
VARIABLES = frozenset({*SCALARS, *BOOLEANS, *LISTS, "coturn_extra_options"})


# --------------------------------------------------------------------------- the check


def check(variables: Mapping[str, Any], context: Context | None = None) -> Report:
    """Every coturn_* variable checked for what it is, then the rules between them."""
    context = context or Context()
    report = Report(ROLE, variables)
    report.table(SCALARS, BOOLEANS, LISTS)
    _extra_options(report)
    for rule in RULES:
        rule(report, context)
    for key in ("coturn_denied_peer_ips", "coturn_allowed_peer_ips"):
        if key in report.settings:  # written as coturn spells ranges
            report.settings[key] = [values.range_text(*r) for r in report.settings[key]]
    return report


def _extra_options(report: Report) -> None:
    key = "coturn_extra_options"
    raw = report.values.get(key)
    if key not in report.values:
        return
    if not isinstance(raw, Mapping):
        report.add(
            key,
            f"{key} is {values.kind(raw)}, not a mapping of option names to values",
            "write e.g. {max-allocate-lifetime: 1800, no-rfc5780: true} (or {} for none)",
        )
        return
    acknowledged = report.settings.get(ACKNOWLEDGE) is True
    normal: dict[str, Any] = {}
    for name, value in raw.items():
        try:
            option = values.option_name(name)
            normal_value = _option_value(value)
        except Invalid as invalid:
            report.add(key, f"{key} {invalid.problem}", invalid.fix)
            continue
        folded = fold(option)
        if folded in USELESS_OPTIONS:
            report.add(
                key,
                f"{key} has {option}, which {USELESS_OPTIONS[folded]}",
                f"remove {option} from {key}",
            )
        elif folded in MANAGED_OPTIONS:
            variable = MANAGED_OPTIONS[folded]
            report.add(
                key,
                f"{key} has {option}, which talkdeploy writes from {variable}; the file would "
                "hold both",
                f"remove {option} from {key} and set {variable}",
            )
        elif unsafe(folded) and normal_value is not None and not acknowledged:
            report.add(
                key,
                f"{key} has {option}, which {unsafe(folded)}",
                f"remove {option}, or set {ACKNOWLEDGE}: true if that is really wanted",
            )
        else:
            if any("#" in item for item in _texts(normal_value)):
                report.warn(
                    key,
                    f"{key}: the value of {option} holds `#`; turnserver.conf has no inline "
                    "comments, so it becomes part of the value",
                    "remove the `# ...` part",
                )
            normal[option] = normal_value
    if len(normal) == len(raw):
        report.settings[key] = normal


def _option_value(value: Any) -> Any:
    """True = bare option; None = not written (false too); list = repeated; else option=value."""
    if value is True:
        return True
    if value is None or value is False:
        return None
    if isinstance(value, list):
        return [_option_scalar(item) for item in value]
    return _option_scalar(value)


def _option_scalar(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        values.fail(
            f"has a value that is {values.kind(value)}",
            "give a string or number per option (a list repeats the option)",
        )
    text = values.text(str(value))
    if text != text.strip():
        values.fail(f"has the value {values.shown(text)}, with surrounding spaces", "trim it")
    return text


def _texts(value: Any) -> list[str]:
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, str) else []


# --------------------------------------------------------------------------- rules


def relay_range(report: Report, context: Context) -> None:
    if not report.has("coturn_min_port", "coturn_max_port"):
        return
    low, high = report.settings["coturn_min_port"], report.settings["coturn_max_port"]
    if low > high:
        report.add(
            "coturn_min_port",
            f"coturn_min_port {low} is above coturn_max_port {high}: the relay range is reversed",
            "set coturn_min_port below coturn_max_port, e.g. 49152 and 65535",
        )
        return
    if low < 1024:
        report.add(
            "coturn_min_port",
            f"coturn_min_port {low} starts the relay range among the privileged ports below 1024",
            "start the relay range at 1024 or above (default 49152)",
        )
    if high - low + 1 < SMALL_RELAY_RANGE:
        report.warn(
            "coturn_min_port",
            f"coturn_min_port and coturn_max_port make the relay range {low}-{high}, only "
            f"{high - low + 1} ports; each TURN allocation holds one, so at most that many "
            "participants can be relayed at once",
            f"widen it to at least {SMALL_RELAY_RANGE} ports (default 49152-65535)",
        )


def port_clashes(report: Report, context: Context) -> None:
    s = report.settings
    if not report.has("coturn_listening_port", "coturn_min_port", "coturn_max_port"):
        return
    listeners = [("coturn_listening_port", s["coturn_listening_port"])]
    tls = tls_enabled(s) if _has_tls_inputs(report) else False
    if tls and "coturn_tls_listening_port" in s:
        listeners.append(("coturn_tls_listening_port", s["coturn_tls_listening_port"]))
        if s["coturn_tls_listening_port"] == s["coturn_listening_port"]:
            report.add(
                "coturn_tls_listening_port",
                f"the TLS port and the plain port are both {s['coturn_listening_port']}; coturn "
                "cannot bind the same port twice (it accepts TLS on the plain port anyway)",
                "use another coturn_tls_listening_port (default 5349)",
            )
    low, high = s["coturn_min_port"], s["coturn_max_port"]
    for key, number in listeners:
        if low <= number <= high:
            report.add(
                key,
                f"{key} {number} lies inside the relay range {low}-{high}",
                "move the listening port out of the relay range or shrink the range",
            )
    tcp = s.get("coturn_no_tcp") is False
    ssh = context.ssh_port
    if ssh is not None:
        for key, number in listeners:
            if number == ssh and (tcp or key == "coturn_tls_listening_port"):
                report.add(
                    key,
                    f"{key} {number} is the SSH port Ansible connects to",
                    "choose another port for coturn (443, 3478 or 5349)",
                )
        if low <= ssh <= high:
            report.warn(
                "coturn_min_port",
                f"coturn_min_port and coturn_max_port: the SSH port {ssh} lies inside the "
                f"relay range {low}-{high}; the firewall opens that range to everyone",
                "move SSH or the relay range so that they do not overlap",
            )
    if "nextcloud" in context.groups:
        for key, number in listeners:
            if number in WEB_SERVER_PORTS and (tcp or key == "coturn_tls_listening_port"):
                report.add(
                    key,
                    f"this host also runs Nextcloud, whose web server holds TCP {number}; "
                    f"coturn cannot listen on TCP {number} there",
                    "use 3478/5349 for coturn on this host, or run coturn on its own host",
                )


def tls_files(report: Report, context: Context) -> None:
    if not report.has("coturn_cert", "coturn_pkey"):
        return
    cert, pkey = bool(report.settings["coturn_cert"]), bool(report.settings["coturn_pkey"])
    if cert != pkey:
        missing = "coturn_pkey" if cert else "coturn_cert"
        what = "private key" if missing == "coturn_pkey" else "certificate chain"
        report.add(
            missing,
            "only one of coturn_cert and coturn_pkey is set; TLS needs both, so it stays off",
            f"set {missing} to the path of the {what} on the TURN host",
        )
    name = report.settings.get("coturn_public_name", "")
    if _has_tls_inputs(report) and tls_enabled(report.settings) and _is_address(name):
        report.warn(
            "coturn_public_name",
            f"coturn_public_name is the bare IP address {name} while TLS (`turns:`) is on: "
            "certificates are issued for names, and Talk warns that turns: needs a domain",
            "set coturn_public_name to the TURN server's DNS name",
        )


def transports(report: Report, context: Context) -> None:
    if not report.has("coturn_no_udp", "coturn_no_tcp"):
        return
    no_udp, no_tcp = report.settings["coturn_no_udp"], report.settings["coturn_no_tcp"]
    if no_udp and no_tcp:
        report.add(
            "coturn_no_tcp",
            "coturn_no_udp and coturn_no_tcp are both set: no client can reach the TURN server",
            "keep at least one of UDP or TCP (Talk needs UDP for good calls)",
        )
    elif no_udp:
        report.warn(
            "coturn_no_udp",
            "coturn_no_udp is true: UDP is off, so every call is relayed over TCP, which adds "
            "latency",
            "leave coturn_no_udp false unless UDP is blocked on the way to the server",
        )


def relay_policy(report: Report, context: Context) -> None:
    """Allowed peers and the deny list, against peers.NEVER / WIDE / INTERNAL."""
    acknowledged = report.settings.get(ACKNOWLEDGE) is True
    fix = (
        f"remove it, or set {ACKNOWLEDGE}: true if the relay must reach it (e.g. a High "
        "Performance Backend on 127.0.0.1)"
    )
    key = "coturn_allowed_peer_ips"
    errors = len(report.errors)
    for peer in report.settings.get(key, []):
        shown = values.range_text(*peer)
        reached = peers.never_reached(peer)
        if reached and not acknowledged:
            report.add(
                key,
                f"{key} allows {shown}, which reaches {', '.join(reached)} (loopback, "
                "link-local or cloud metadata): TURN clients could reach the host's own "
                "services",
                fix,
            )
        elif peers.too_wide(peer) and not acknowledged:
            limit = "/24" if peer[0].version == 4 else "/64"
            report.add(
                key,
                f"{key} allows {shown}, {peers.size(peer)} addresses, wider than one {limit}: "
                "that opens a network to every TURN client, not one peer",
                "allow the single addresses of the peers (e.g. the High Performance Backend), "
                f"or set {ACKNOWLEDGE}: true",
            )
        elif peers.internal(peer) and not reached:
            report.warn(
                key,
                f"{key} allows the internal {shown}: every TURN client can relay to it",
                "keep it only for a High Performance Backend (Janus) there, and firewall its "
                "other ports",
            )
    if len(report.errors) > errors:
        _refused(report, key)
    key = "coturn_denied_peer_ips"
    if key not in report.settings:
        return
    denied = report.settings[key]
    missing = peers.uncovered(denied, peers.MUST_DENY)
    if missing and not acknowledged:
        report.add(
            key,
            f"{key} no longer covers {', '.join(missing)}: coturn would relay to loopback, "
            "link-local, metadata or IPv4-mapped addresses (CVE-2020-26262, CVE-2026-27624)",
            f"keep the role's default list (add to it), or set {ACKNOWLEDGE}: true",
        )
        _refused(report, key)
    internal = peers.uncovered(denied, peers.SHOULD_DENY)
    if internal:
        report.warn(
            key,
            f"{key} no longer covers {', '.join(internal)}: TURN clients can relay into "
            "those networks",
            "keep the role's default list and allow single peers with coturn_allowed_peer_ips",
        )


def _refused(report: Report, key: str) -> None:
    """A list the relay policy refuses is not kept as accepted, like any refused value: the
    role fails anyway, and `talkdeploy render` then shows the role default, never the peers
    it refused."""
    report.settings.pop(key, None)


RULES = (relay_range, port_clashes, tls_files, transports, relay_policy)


def _has_tls_inputs(report: Report) -> bool:
    return report.has("coturn_cert", "coturn_pkey", "coturn_no_tls", "coturn_no_dtls")


def _is_address(name: str) -> bool:
    try:
        values.parse_address(name)
    except Invalid:
        return False
    return True


# --------------------------------------------------------------------------- what the role computes


def tls_enabled(settings: Mapping[str, Any]) -> bool:
    """TLS is on when both files are given and at least one of TLS / DTLS is wanted."""
    return (
        bool(settings["coturn_cert"])
        and bool(settings["coturn_pkey"])
        and not (settings["coturn_no_tls"] and settings["coturn_no_dtls"])
    )


def tls_copies(tls_dir: str) -> dict[str, str]:
    """The copies of the certificate and key coturn reads (root:<coturn group> 0640)."""
    return {kind: f"{tls_dir}/{name}" for kind, name in TLS_COPIES.items()}


def endpoint(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The fact coturn_endpoint: where and how clients reach this TURN server."""
    tls = tls_enabled(settings)
    return {
        "public_name": settings["coturn_public_name"],
        "listening_port": settings["coturn_listening_port"],
        "tls_listening_port": settings["coturn_tls_listening_port"] if tls else None,
        "min_port": settings["coturn_min_port"],
        "max_port": settings["coturn_max_port"],
        "udp": not settings["coturn_no_udp"],
        "tcp": not settings["coturn_no_tcp"],
        "tls": tls and not settings["coturn_no_tls"],
        "dtls": tls and not settings["coturn_no_dtls"],
    }


def installed_version(package_version: str) -> str:
    """`1:4.6.1-1+deb12u1` -> `4.6.1` (dpkg-query / rpm); '' when unknown."""
    found = re.match(r"([0-9]+:)?([0-9]+(\.[0-9]+)*)", package_version or "")
    return found.group(2) if found else ""


def _older(version: str, than: str) -> bool:
    def parts(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in text.split("."))

    return bool(version) and parts(version) < parts(than)


def version_gates(version: str) -> dict[str, bool]:
    """Options that exist only in some versions; an unknown version is taken as the newest.

    lt-cred-mech beside use-auth-secret below 4.5.0.8; no-loopback-peers below 4.5.1.0
    (loopback denied by default from then); no-tlsv1, no-tlsv1_1 and
    no-stun-backward-compatibility removed in 4.7.0; the CLI off by default from 4.10.0
    (coturn ChangeLog). Below 4.5.0.8, the Talk guide's periodic restart.
    """
    return {
        "lt_cred_mech": _older(version, "4.5.0.8"),
        "no_loopback_peers": _older(version, "4.5.1.0"),
        "before_4_7": _older(version, "4.7.0"),
        "no_cli": _older(version, "4.10.0"),
        "periodic_restart": _older(version, "4.5.0.8"),
    }


def config(settings: Mapping[str, Any], version: str, secrets: list[str]) -> dict[str, Any]:
    """The one dict roles/coturn/templates/turnserver.conf.j2 reads (see its header)."""
    s = settings
    gates = version_gates(version)
    tls = tls_enabled(s)
    copies = tls_copies(s["coturn_tls_dir"])
    return {
        "listening_port": s["coturn_listening_port"],
        "tls_listening_port": s["coturn_tls_listening_port"],
        "tls": tls,
        "listening_ips": list(s["coturn_listening_ips"]),
        "relay_ips": list(s["coturn_relay_ips"]),
        "external_ips": list(s["coturn_external_ips"]),
        "min_port": s["coturn_min_port"],
        "max_port": s["coturn_max_port"],
        "no_udp": s["coturn_no_udp"],
        "no_tcp": s["coturn_no_tcp"],
        "no_tls": s["coturn_no_tls"] or not tls,
        "no_dtls": s["coturn_no_dtls"] or not tls,
        "fingerprint": s["coturn_fingerprint"],
        "lt_cred_mech": gates["lt_cred_mech"],
        "static_auth_secrets": [values.text(secret) for secret in secrets],
        "realm": s["coturn_realm"],
        "total_quota": s["coturn_total_quota"],
        "bps_capacity": s["coturn_bps_capacity"],
        "max_bps": s["coturn_max_bps"],
        "stale_nonce": s["coturn_stale_nonce"],
        "no_multicast_peers": s["coturn_no_multicast_peers"],
        "no_loopback_peers": gates["no_loopback_peers"],
        "denied_peer_ips": list(s["coturn_denied_peer_ips"]),
        "allowed_peer_ips": list(s["coturn_allowed_peer_ips"]),
        "cert": copies["cert"] if tls else "",
        "pkey": copies["pkey"] if tls else "",
        "cipher_list": s["coturn_cipher_list"],
        "dh_file": s["coturn_dh_file"],
        "no_tlsv1": gates["before_4_7"] and s["coturn_no_tlsv1"],
        "no_tlsv1_1": gates["before_4_7"] and s["coturn_no_tlsv1_1"],
        "no_stun_backward_compatibility": gates["before_4_7"]
        and s["coturn_no_stun_backward_compatibility"],
        "no_cli": gates["no_cli"],
        "syslog": s["coturn_syslog"],
        "no_stdout_log": s["coturn_no_stdout_log"],
        "log_file": s["coturn_log_file"],
        "simple_log": s["coturn_simple_log"],
        "verbosity": s["coturn_verbosity"],
        "extra_options": dict(s["coturn_extra_options"]),
    }
