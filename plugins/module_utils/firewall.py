"""The firewall role's settings, checked and normalised, and the TURN ports it opens.

    report = check(variables, groups=("turn_servers",))
    turn_ports(coturn_endpoint)          # ["443/udp", "443/tcp", "49152-65535/udp", ...]

The ports come from the coturn role's endpoint (plugins/module_utils/coturn.py `endpoint`), so
one inventory value drives both roles and neither re-derives the other's rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible_collections.talkdeploy.talk.plugins.module_utils import values
from ansible_collections.talkdeploy.talk.plugins.module_utils.findings import Report

ROLE = "firewall"
ZONE = re.compile(r"[A-Za-z0-9_-]{0,17}", re.ASCII)  # firewalld zone names (max 17 characters)
# The ruleset nftables.service loads at boot: /etc/nftables.conf (Debian's unit:
# ExecStart=/usr/sbin/nft -f /etc/nftables.conf) or /etc/sysconfig/nftables.conf (Fedora's and
# RHEL's unit), or a file of the directories those include (/etc/nftables/, /etc/nftables.d/).
NFTABLES_CONF = re.compile(
    r"/etc/(sysconfig/)?nftables\.conf|/etc/nftables(\.d)?/[A-Za-z0-9_][A-Za-z0-9._-]*\.(conf|nft)",
    re.ASCII,
)
OWN_TABLE_FILE = "/etc/nftables.d/talkdeploy.nft"  # roles/firewall/vars/main.yml
WEB_PORTS = ("80/tcp", "443/tcp")


def _zone(value: Any) -> str:
    zone = values.text(value)
    if not ZONE.fullmatch(zone):
        values.fail(f"is {values.shown(zone)}, not a firewalld zone name", "e.g. public")
    return zone


def _nftables_conf(value: Any) -> str:
    path = values.absolute_path(value)
    if not NFTABLES_CONF.fullmatch(path):
        values.fail(
            f"is {path}; the role adds an include line to it and makes it 0755, so it must be "
            "the ruleset nftables.service loads (/etc/nftables.conf, "
            "/etc/sysconfig/nftables.conf) or a .conf/.nft file of /etc/nftables/ or "
            "/etc/nftables.d/",
            "keep the default /etc/nftables.conf",
        )
    if path == OWN_TABLE_FILE:
        values.fail(
            f"is {path}, the file that holds talkdeploy's own table: it would include itself",
            "keep the default /etc/nftables.conf",
        )
    return path


SCALARS = {
    "firewall_backend": lambda v: values.choice(
        v, ("auto", "ufw", "firewalld", "nftables", "none")
    ),
    "firewall_ssh_port": values.port,
    "firewall_firewalld_zone": _zone,
    "firewall_nftables_input_policy": lambda v: values.choice(v, ("drop", "accept")),
    "firewall_nftables_conf": _nftables_conf,
}
LISTS = {
    "firewall_turn_sources": values.source_network,
    "firewall_nftables_extra_ports": values.port_spec,
}
VARIABLES = frozenset({*SCALARS, *LISTS})


def check(variables: Mapping[str, Any], groups: tuple[str, ...] = ()) -> Report:
    report = Report(ROLE, variables)
    report.table(SCALARS, lists=LISTS)
    _web_server_ports(report, groups)
    return report


def _web_server_ports(report: Report, groups: tuple[str, ...]) -> None:
    """The nftables table filters ALL input: a web server on the same host must be listed."""
    s = report.settings
    if (
        s.get("firewall_backend") != "nftables"
        or s.get("firewall_nftables_input_policy") != "drop"
        or "nextcloud" not in groups
        or "firewall_nftables_extra_ports" not in s
    ):
        return
    missing = [port for port in WEB_PORTS if port not in s["firewall_nftables_extra_ports"]]
    if missing:
        report.add(
            "firewall_nftables_extra_ports",
            "this host also serves Nextcloud, but the nftables table drops every port it does "
            f"not list: {', '.join(missing)} would be closed",
            f"add {', '.join(missing)} to firewall_nftables_extra_ports",
        )


def turn_ports(endpoint: Mapping[str, Any]) -> list[str]:
    """What is opened, as PORT/PROTO or FIRST-LAST/PROTO (IPv4 and IPv6 alike).

    The listening port on UDP and TCP (each unless disabled), the TLS port on TCP (and UDP for
    DTLS), and the relay range on UDP: Talk's TURN guide asks that participants reach the TURN
    port and the relays.
    """
    ports: list[str] = []
    listening, tls_port = endpoint["listening_port"], endpoint["tls_listening_port"]
    wanted = [
        (endpoint["udp"], f"{listening}/udp"),
        (endpoint["tcp"], f"{listening}/tcp"),
        (endpoint["tls"] and tls_port, f"{tls_port}/tcp"),
        (endpoint["dtls"] and tls_port, f"{tls_port}/udp"),
        (True, f"{endpoint['min_port']}-{endpoint['max_port']}/udp"),
    ]
    for on, spec in wanted:
        if on and spec not in ports:
            ports.append(spec)
    return ports
