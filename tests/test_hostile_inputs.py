"""Hostile inventory values, each refused (or warned about) by BOTH the CLI and the roles.

Every row is one inventory value an operator, a merge request or a copy-paste accident could
bring: line breaks and other control characters in strings that are written to host files,
IPv6 zone ids, relay policies that reach loopback or cloud metadata, unsafe coturn options in
odd letter case, strings where booleans belong, non-ASCII digits, unsafe paths, firewall and
Talk values in forms their tools do not take. Each row runs through

- `talkdeploy --output json validate -i INV` (in-process, click's CliRunner), which must exit
  1 for an error row (0 for a warning row, 1 with --strict; 0 for an acknowledged control) and
  name the key with the expected severity;
- the roles' first task, in ONE ansible-playbook run with one host per row (the coturn role's
  `endpoint` entry point, then the firewall role with firewall_backend none; the nextcloud_talk
  role for Talk rows), which must fail at the settings check (talkdeploy.talk.check_settings)
  or at Ansible's own argument-spec validation with the key in its message, warn, or pass;
- `talkdeploy render` for rows that try to smuggle a line into turnserver.conf: the line never
  appears.

No output of any of them may show the inventory's shared secret. Nothing touches this machine:
the checks run on the controller, the playbook runs in check mode, the firewall role ends right
after its check when the backend is none (roles/firewall/tasks/main.yml), and the Talk role
stops at its assertion that every TURN server has an endpoint (a sentinel TURN host that no
play targets never gets one), before any occ call.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml
from click.testing import CliRunner
from inventory_factory import CLOUD, GOOD_SECRET, REAL_ROLES, ROOT, TURN, write_inventory

from talkdeploy.cli import main
from talkdeploy.resources import locate

COLLECTIONS = locate().collections_path
TURN_GROUP, NEXTCLOUD_GROUP = "turn_servers", "nextcloud"
OTHER_SECRET = "fedcba9876543210" * 4  # a second good secret (coturn_additional_...)
SIGNALING_SECRET = "signaling-" + "5e" * 20  # a test value, grepped for as well
ANY = "0.0.0.0"  # noqa: S104 - a hostile inventory value, never bound
INTEGER_SECRET = 12345678901234567890123456789012345678  # a secret YAML reads as a number
SECRETS = (GOOD_SECRET, OTHER_SECRET, SIGNALING_SECRET, str(INTEGER_SECRET))
DEFAULT_DENY: list[str] = yaml.safe_load(
    (REAL_ROLES / "coturn" / "defaults" / "main.yml").read_text(encoding="utf-8")
)["coturn_denied_peer_ips"]
MAPPED = "::ffff:0.0.0.0-::ffff:255.255.255.255"


def deny_without(*removed: str) -> list[str]:
    """The role's default deny list minus some entries."""
    missing = [entry for entry in removed if entry not in DEFAULT_DENY]
    assert not missing, missing
    return [entry for entry in DEFAULT_DENY if entry not in removed]


class Row(NamedTuple):
    id: str
    group: str  # the inventory group whose host gets `variables`
    variables: dict[str, Any]
    key: str | None  # the variable that must be named (None for a control)
    severity: str  # "error", "warning", or "pass" for an acknowledged control
    forbidden: str = ""  # a turnserver.conf line that `talkdeploy render` must never print
    kind: str = ""  # the class of hostile input (filled in by `rows`)


def row(
    id_: str,
    variables: dict[str, Any],
    key: str | None = None,
    severity: str = "error",
    forbidden: str = "",
    group: str = "",
) -> Row:
    """One row; the key defaults to the only variable, the group to the one the key is for."""
    if key is None and severity != "pass":
        assert len(variables) == 1, id_
        key = next(iter(variables))
    if not group:
        group = NEXTCLOUD_GROUP if (key or next(iter(variables), "")).startswith("talk_") else ""
        group = group or TURN_GROUP
    return Row(id_, group, variables, key, severity, forbidden)


def rows(kind: str, *members: Row) -> list[Row]:
    return [member._replace(kind=kind) for member in members]


def extra(id_: str, options: dict[str, Any], forbidden: str = "") -> Row:
    return row(id_, {"coturn_extra_options": options}, forbidden=forbidden)


def allowed(id_: str, *peers: str, forbidden: str = "") -> Row:
    return row(id_, {"coturn_allowed_peer_ips": list(peers)}, forbidden=forbidden)


HPB = "https://hpb.example.org"

# --------------------------------------------------------------------------- the table

INJECTION = rows(
    "control characters in strings written to host files",
    row("realm_newline", {"coturn_realm": "turn.example.org\nno-auth"}, forbidden="no-auth"),
    row("realm_cr", {"coturn_realm": "turn.example.org\rno-auth"}, forbidden="no-auth"),
    row("realm_nul", {"coturn_realm": "turn.example.org\x00"}),
    row("realm_u2028", {"coturn_realm": "turn.example.org\u2028no-auth"}, forbidden="no-auth"),
    row("realm_nel_c1", {"coturn_realm": "turn.example.org\x85no-auth"}, forbidden="no-auth"),
    row("public_name_newline", {"coturn_public_name": "turn.example.org\nno-auth"}),
    row("cert_newline", {"coturn_cert": "/etc/ssl/turn.pem\nno-auth"}, forbidden="no-auth"),
    row(
        "pkey_cr",
        {"coturn_pkey": "/etc/ssl/turn.key\rallow-loopback-peers"},
        forbidden="allow-loopback-peers",
    ),
    row("tls_dir_nul", {"coturn_tls_dir": "/etc/coturn/tls\x00"}),
    row("realm_bidi_override", {"coturn_realm": "turn.example.org\u202e"}),
    row("realm_zero_width_space", {"coturn_realm": "turn.\u200bexample.org"}),
    row(
        "cipher_list_newline", {"coturn_cipher_list": "ECDHE+AESGCM\nno-auth"}, forbidden="no-auth"
    ),
    row("dh_file_newline", {"coturn_dh_file": "/etc/ssl/dh.pem\nno-auth"}, forbidden="no-auth"),
    row(
        "log_file_newline",
        {"coturn_log_file": "/var/log/turn.log\nallow-loopback-peers"},
        forbidden="allow-loopback-peers",
    ),
    row(
        "additional_secret_newline",
        {"coturn_additional_static_auth_secrets": [OTHER_SECRET + "\nno-auth"]},
        forbidden="no-auth",
    ),
    extra("extra_option_name_newline", {"no-rfc5780\nno-auth": True}, forbidden="no-auth"),
    extra("extra_option_name_u2028", {"mobility\u2028no-auth": True}),
    extra("extra_option_proc_user_root", {"Proc_User": "root"}, forbidden="Proc_User=root"),
    extra("extra_option_value_newline", {"max-allocate-lifetime": "1800\nno-auth"}, "no-auth"),
    extra("extra_option_value_cr", {"max-allocate-lifetime": "1800\rallow-loopback-peers"}),
    extra("extra_option_list_item_newline", {"user-quota": ["10", "12\nno-auth"]}, "no-auth"),
    row(
        "calendar_newline",
        {"coturn_old_version_restart_calendar": "*-*-* 04:30:00\nExecStartPre=/bin/sh -c id"},
    ),
    row("talk_path_newline", {"talk_nextcloud_path": "/var/www/nextcloud\n/etc"}),
    row("talk_web_user_newline", {"talk_web_user": "www-data\nroot"}),
    row("talk_occ_command_cr", {"talk_occ_command": "sudo -u www-data php occ\r"}),
    row(
        "talk_signaling_secret_newline",
        {"talk_signaling_secret": "sig\nnal", "talk_signaling_servers": [{"server": HPB}]},
        key="talk_signaling_secret",
    ),
    row("talk_stun_newline", {"talk_stun_servers": ["stun.example.org:3478\nx"]}),
    row("talk_retired_newline", {"talk_retired_servers": ["old.example.org\n"]}),
    row("talk_kept_newline", {"talk_turn_hosts_kept": ["turn1\n"]}),
    row(
        "talk_signaling_url_newline",
        {
            "talk_signaling_servers": [{"server": HPB + "\nX-Injected: 1"}],
            "talk_signaling_secret": SIGNALING_SECRET,
        },
        key="talk_signaling_servers",
    ),
    row("firewall_zone_newline", {"firewall_firewalld_zone": "public\ntrusted"}),
    row("firewall_nftables_conf_newline", {"firewall_nftables_conf": "/etc/nftables.conf\n"}),
    row("firewall_extra_ports_newline", {"firewall_nftables_extra_ports": ["80/tcp\n22/tcp"]}),
    row("firewall_sources_newline", {"firewall_turn_sources": ["198.51.100.0/24\n0.0.0.0/0"]}),
)

ADDRESSES = rows(
    "IPv6 zone ids and whitespace in IP lists",
    row("listening_ips_zone", {"coturn_listening_ips": ["fe80::1%eth0"]}),
    row("listening_ips_inner_space", {"coturn_listening_ips": ["2001:db8:: 5"]}),
    row("relay_ips_zone_encoded", {"coturn_relay_ips": ["fe80::1%25eth0"]}),
    row("relay_ips_inner_space", {"coturn_relay_ips": ["203.0.113 .5"]}),
    row("external_ips_zone", {"coturn_external_ips": ["2001:db8::1%eth0"]}),
    row("external_ips_spaced_pair", {"coturn_external_ips": ["203.0.113.5 / 10.0.0.5"]}),
    row("denied_zone", {"coturn_denied_peer_ips": [*DEFAULT_DENY, "fe80::1%eth0"]}),
    row("denied_spaced_range", {"coturn_denied_peer_ips": [*DEFAULT_DENY, "10.0.0.0 - 10.0.0.9"]}),
    allowed("allowed_zone", "fe80::1%eth0"),
    allowed("allowed_inner_nbsp", "198.51.\u00a0100.7"),
    row("sources_zone", {"firewall_turn_sources": ["fe80::1%eth0"]}),
    row("sources_inner_space", {"firewall_turn_sources": ["198.51.100.0 /24"]}),
)

RELAY = rows(
    "relay policy",
    allowed(
        "allowed_everything",
        "0.0.0.0-255.255.255.255",
        forbidden="allowed-peer-ip=0.0.0.0-255.255.255.255",
    ),
    allowed("allowed_loopback", "127.0.0.1", forbidden="allowed-peer-ip=127.0.0.1"),
    allowed("allowed_this_host", ANY, forbidden=f"allowed-peer-ip={ANY}"),
    allowed("allowed_metadata", "169.254.169.254", forbidden="allowed-peer-ip=169.254.169.254"),
    allowed(
        "allowed_mapped_loopback", "::ffff:127.0.0.1", forbidden="allowed-peer-ip=::ffff:127.0.0.1"
    ),
    allowed("allowed_ipv6_loopback", "::1", forbidden="allowed-peer-ip=::1"),
    allowed("allowed_link_local", "fe80::1"),
    allowed("allowed_aws_ipv6_metadata", "fd00:ec2::254"),
    allowed(
        "allowed_nat64_loopback", "64:ff9b::7f00:1", forbidden="allowed-peer-ip=64:ff9b::7f00:1"
    ),
    allowed("allowed_6to4_loopback", "2002:7f00:1::1"),
    allowed("allowed_ipv4_compatible_loopback", "::127.0.0.1"),
    allowed("allowed_siit_metadata", "::ffff:0:a9fe:a9fe"),
    allowed(
        "allowed_ipv4_slash16", "10.0.0.0/16", forbidden="allowed-peer-ip=10.0.0.0-10.0.255.255"
    ),
    allowed("allowed_ipv6_slash48", "2001:db8::/48"),
    allowed("allowed_loopback_among_good", "10.0.0.20", "127.0.0.1"),
    row("denied_emptied", {"coturn_denied_peer_ips": []}),
    row(
        "denied_without_loopback",
        {"coturn_denied_peer_ips": deny_without("127.0.0.0-127.255.255.255")},
    ),
    row(
        "denied_without_link_local",
        {"coturn_denied_peer_ips": deny_without("169.254.0.0-169.254.255.255")},
    ),
    row("denied_without_ipv4_mapped", {"coturn_denied_peer_ips": deny_without(MAPPED)}),
    row(
        "denied_mapped_only_partly",
        {
            "coturn_denied_peer_ips": [
                *deny_without(MAPPED),
                "::ffff:10.0.0.0-::ffff:10.255.255.255",
            ]
        },
    ),
    row(
        "acknowledgement_as_string",
        {"coturn_accept_unsafe_relay": "true", "coturn_allowed_peer_ips": ["127.0.0.1"]},
        key="coturn_accept_unsafe_relay",
        forbidden="allowed-peer-ip=127.0.0.1",
    ),
    extra("unsafe_no_auth_mixed_case", {"No_Auth": True}, forbidden="No_Auth"),
    extra("unsafe_no_auth_empty_value", {"no-auth": ""}, forbidden="no-auth="),
    extra("unsafe_allow_loopback_peers", {"Allow_Loopback_Peers": True}, "Allow_Loopback_Peers"),
    extra("unsafe_server_relay", {"SERVER-RELAY": True}, forbidden="SERVER-RELAY"),
    extra("unsafe_user", {"User": "admin:hunter2"}, forbidden="User=admin:hunter2"),
    extra("unsafe_userdb", {"UserDB": "/var/lib/turn/turndb"}, "UserDB=/var/lib/turn/turndb"),
    extra("unsafe_db_alias", {"DB": "/var/lib/turn/turndb"}, forbidden="DB=/var/lib/turn/turndb"),
    extra("unsafe_psql_userdb", {"Psql_UserDB": "host=db dbname=turn"}),
    extra("unsafe_cli_ip", {"Cli_Ip": ANY}, forbidden=f"Cli_Ip={ANY}"),
    extra("unsafe_cli_port", {"CLI-PORT": 5766}, forbidden="CLI-PORT=5766"),
    extra("unsafe_cli_password", {"cli_Password": "qwerty"}, forbidden="cli_Password=qwerty"),
    extra("unsafe_web_admin", {"Web-Admin": True}, forbidden="Web-Admin"),
    extra("unsafe_web_admin_ip", {"WEB_ADMIN_IP": ANY}, forbidden=f"WEB_ADMIN_IP={ANY}"),
    extra("unsafe_web_admin_port", {"web_admin_PORT": 8080}, forbidden="web_admin_PORT=8080"),
    extra("unsafe_web_admin_workers", {"Web-Admin-Listen-On-Workers": True}),
    extra("managed_listening_port", {"Listening_Port": 3478}, forbidden="Listening_Port=3478"),
    extra(
        "managed_static_auth_secret",
        {"STATIC_AUTH_SECRET": GOOD_SECRET},
        forbidden=f"STATIC_AUTH_SECRET={GOOD_SECRET}",
    ),
    extra(
        "managed_allowed_peer_ip",
        {"Allowed_Peer_IP": "0.0.0.0-255.255.255.255"},
        forbidden="Allowed_Peer_IP=0.0.0.0-255.255.255.255",
    ),
    extra("useless_no_udp_relay", {"no-udp-relay": True}, forbidden="no-udp-relay"),
    extra("useless_no_udp_relay_odd_case", {"No_UDP_Relay": True}, forbidden="No_UDP_Relay"),
    row("extra_options_as_list", {"coturn_extra_options": ["no-auth"]}, forbidden="no-auth"),
)

TYPES = rows(
    "strings for booleans, numbers and null for strings",
    row("bool_string_false", {"coturn_no_udp": "false"}),
    row("bool_string_no", {"coturn_fingerprint": "no"}),
    row("bool_string_acknowledgement", {"coturn_accept_unsafe_relay": "yes"}),
    row("bool_string_tls_watch", {"coturn_tls_watch": "false"}),
    row("talk_bool_string_yes", {"talk_app_install": "yes"}),
    row("talk_federation_string", {"talk_federation_enabled": "false"}),
    row("secret_integer", {"coturn_static_auth_secret": INTEGER_SECRET}),
    row("realm_null", {"coturn_realm": None}),
    row("public_name_null", {"coturn_public_name": None}),
    row("denied_null", {"coturn_denied_peer_ips": None}),
    row(
        "allowed_string_not_list",
        {"coturn_allowed_peer_ips": "127.0.0.1"},
        forbidden="allowed-peer-ip=127.0.0.1",
    ),
    row("cipher_list_integer", {"coturn_cipher_list": 3}),
    row("talk_web_user_integer", {"talk_web_user": 33}),
)

PORTS = rows(
    "ports out of range and non-ASCII digits",
    row("listening_port_zero", {"coturn_listening_port": 0}),
    row("listening_port_65536", {"coturn_listening_port": 65536}),
    row("listening_port_superscript", {"coturn_listening_port": "\u00b3"}),
    row("listening_port_arabic_indic", {"coturn_listening_port": "\u0664\u0664\u0663"}),
    row("listening_port_trailing_newline", {"coturn_listening_port": "443\n"}),
    row("tls_port_superscript", {"coturn_tls_listening_port": "5\u00b349"}),
    row("ssh_port_superscript", {"firewall_ssh_port": "\u00b2\u00b2"}),
)

PATHS = rows(
    "unsafe paths",
    row("cert_relative", {"coturn_cert": "turn.pem"}),
    row("cert_home", {"coturn_cert": "~/turn.pem"}),
    row("pkey_variable", {"coturn_pkey": "$HOME/turn.key"}),
    row("cert_dotdot", {"coturn_cert": "/etc/ssl/../shadow"}),
    row("pkey_double_slash", {"coturn_pkey": "/etc//ssl/turn.key"}),
    row("dh_file_trailing_slash", {"coturn_dh_file": "/etc/ssl/"}),
    row("tls_dir_etc", {"coturn_tls_dir": "/etc"}),
    row("tls_dir_root", {"coturn_tls_dir": "/"}),
    row("tls_dir_double_slash_etc", {"coturn_tls_dir": "//etc"}),
    row("tls_dir_ssl_private", {"coturn_tls_dir": "/etc/ssl/private"}),
    row("tls_dir_ssh", {"coturn_tls_dir": "/etc/ssh"}),
    row("tls_dir_a_home", {"coturn_tls_dir": "/home/alice"}),
    row("nftables_conf_shadow", {"firewall_nftables_conf": "/etc/shadow"}),
    row("nftables_conf_sysctl", {"firewall_nftables_conf": "/etc/sysctl.conf"}),
    row("nftables_conf_own_table", {"firewall_nftables_conf": "/etc/nftables.d/talkdeploy.nft"}),
    row("talk_path_relative", {"talk_nextcloud_path": "var/www/nextcloud"}),
    row("talk_path_home", {"talk_nextcloud_path": "~/nextcloud"}),
)

FIREWALL = rows(
    "firewall values",
    row(
        "extra_ports_nft_injection",
        {"firewall_nftables_extra_ports": ["22/tcp dport 1-65535 accept #"]},
    ),
    row("extra_ports_sctp", {"firewall_nftables_extra_ports": ["80/sctp"]}),
    row("extra_ports_upper_case", {"firewall_nftables_extra_ports": ["80/TCP"]}),
    row("extra_ports_reversed", {"firewall_nftables_extra_ports": ["200-100/udp"]}),
    row("extra_ports_no_protocol", {"firewall_nftables_extra_ports": ["80"]}),
    row("sources_word", {"firewall_turn_sources": ["any"]}),
    row("sources_nft_injection", {"firewall_turn_sources": ["0.0.0.0/0 tcp dport 22 accept"]}),
    row("backend_unknown", {"firewall_backend": "iptables"}),
    row("zone_semicolon", {"firewall_firewalld_zone": "public;drop"}),
)

TALK = rows(
    "Talk values",
    row("stun_without_port", {"talk_stun_servers": ["stun.example.org"]}),
    row("stun_with_scheme", {"talk_stun_servers": ["stun:stun.example.org:3478"]}),
    row("stun_superscript_port", {"talk_stun_servers": ["stun.example.org:\u00b3"]}),
    row("stun_ipv6_without_brackets", {"talk_stun_servers": ["2001:db8::1:3478"]}),
    row("stun_ipv6_zone", {"talk_stun_servers": ["[fe80::1%eth0]:3478"]}),
    row(
        "signaling_without_url",
        {"talk_signaling_servers": [{"verify": True}], "talk_signaling_secret": SIGNALING_SECRET},
        key="talk_signaling_servers",
    ),
    row(
        "signaling_host_without_scheme",
        {
            "talk_signaling_servers": [{"server": "hpb.example.org"}],
            "talk_signaling_secret": SIGNALING_SECRET,
        },
        key="talk_signaling_servers",
    ),
    row(
        "signaling_entry_as_string",
        {"talk_signaling_servers": [HPB], "talk_signaling_secret": SIGNALING_SECRET},
        key="talk_signaling_servers",
    ),
    row(
        "signaling_verify_as_string",
        {
            "talk_signaling_servers": [{"server": HPB, "verify": "false"}],
            "talk_signaling_secret": SIGNALING_SECRET,
        },
        key="talk_signaling_servers",
    ),
    row(
        "signaling_without_secret",
        {"talk_signaling_servers": [{"server": HPB}]},
        key="talk_signaling_secret",
    ),
    row("retired_turn_scheme", {"talk_retired_servers": ["turn:old.example.org"]}),
    row("retired_https_url", {"talk_retired_servers": ["https://old.example.org"]}),
    row("retired_superscript_port", {"talk_retired_servers": ["old.example.org:\u00b3"]}),
    row("retired_inner_space", {"talk_retired_servers": ["old example.org"]}),
    row("kept_two_names_in_one", {"talk_turn_hosts_kept": ["turn1,turn2"]}),
    row("turn_schemes_reversed", {"talk_turn_schemes": "turns,turn"}),
    row("install_unknown", {"talk_nextcloud_install": "kubernetes"}),
)

WARNINGS = rows(
    "warnings",
    allowed("allowed_private_single", "10.0.0.20")._replace(severity="warning"),
    allowed("allowed_unique_local_single", "fd12:3456:789a::1")._replace(severity="warning"),
    allowed("allowed_mapped_private_single", "::ffff:10.0.0.20")._replace(severity="warning"),
    allowed("allowed_nat64_private_single", "64:ff9b::a00:14")._replace(severity="warning"),
    allowed("allowed_private_slash24", "10.0.0.0/24")._replace(severity="warning"),
    row(
        "extra_option_hash_in_value",
        {"coturn_extra_options": {"max-allocate-lifetime": "1800 # half an hour"}},
        severity="warning",
    ),
    row(
        "small_relay_range",
        {"coturn_min_port": 50000, "coturn_max_port": 50099},
        key="coturn_min_port",
        severity="warning",
    ),
    row(
        "denied_without_a_private_network",
        {"coturn_denied_peer_ips": deny_without("10.0.0.0-10.255.255.255")},
        severity="warning",
    ),
    row("udp_off", {"coturn_no_udp": True}, severity="warning"),
)

CONTROLS = rows(
    "acknowledged or valid controls that must pass",
    row("control_defaults", {}, severity="pass"),
    row(
        "control_acknowledged_loopback",
        {"coturn_accept_unsafe_relay": True, "coturn_allowed_peer_ips": ["127.0.0.1"]},
        severity="pass",
    ),
    row(
        "control_acknowledged_wide_range",
        {"coturn_accept_unsafe_relay": True, "coturn_allowed_peer_ips": ["198.51.0.0/16"]},
        severity="pass",
    ),
    row(
        "control_acknowledged_no_auth",
        {"coturn_accept_unsafe_relay": True, "coturn_extra_options": {"No_Auth": True}},
        severity="pass",
    ),
    row(
        "control_acknowledged_deny_list",
        {
            "coturn_accept_unsafe_relay": True,
            "coturn_denied_peer_ips": deny_without("127.0.0.0-127.255.255.255"),
        },
        severity="pass",
    ),
    row("control_port_as_digits", {"coturn_listening_port": "443"}, severity="pass"),
    row(
        "control_unsafe_option_switched_off",
        {"coturn_extra_options": {"no-auth": False, "No_RFC5780": True, "mobility": None}},
        severity="pass",
    ),
    row(
        "control_firewall_values",
        {
            "firewall_nftables_extra_ports": ["80/tcp", "10000-10100/udp"],
            "firewall_turn_sources": ["198.51.100.0/24", "2001:db8::/32"],
            "firewall_nftables_conf": "/etc/sysconfig/nftables.conf",
        },
        severity="pass",
    ),
    row(
        "control_talk_values",
        {
            "talk_stun_servers": ["stun.example.org:3478", "[2001:db8::1]:3478"],
            "talk_retired_servers": ["old.example.org", "old.example.org:443", "2001:db8::7"],
            "talk_signaling_servers": [{"server": HPB, "verify": True}],
            "talk_signaling_secret": SIGNALING_SECRET,
        },
        severity="pass",
        group=NEXTCLOUD_GROUP,
    ),
)

ROWS: list[Row] = [
    *INJECTION,
    *ADDRESSES,
    *RELAY,
    *TYPES,
    *PORTS,
    *PATHS,
    *FIREWALL,
    *TALK,
    *WARNINGS,
    *CONTROLS,
]
BY_ID = {r.id: r for r in ROWS}
FORBIDDEN = [r for r in ROWS if r.forbidden]
IDS = [r.id for r in ROWS]


def test_the_table_is_large_unique_and_covers_every_string_written_to_a_host() -> None:
    assert len(ROWS) >= 120
    assert len(BY_ID) == len(ROWS), "row ids must be unique"
    for r in ROWS:
        assert re.fullmatch(r"[a-z0-9_]{1,60}", r.id), r.id  # also the host name in the play
        assert r.severity in ("error", "warning", "pass"), r
        assert r.group in (TURN_GROUP, NEXTCLOUD_GROUP), r
        assert (r.key is None) == (r.severity == "pass"), r
    kinds: dict[str, int] = {}
    for r in ROWS:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    assert all(count >= 3 for count in kinds.values()), kinds
    injected = {r.key for r in INJECTION}
    written = {
        "coturn_realm",
        "coturn_public_name",
        "coturn_cert",
        "coturn_pkey",
        "coturn_tls_dir",
        "coturn_cipher_list",
        "coturn_dh_file",
        "coturn_log_file",
        "coturn_additional_static_auth_secrets",
        "coturn_extra_options",
        "coturn_old_version_restart_calendar",
        "talk_nextcloud_path",
        "talk_web_user",
        "talk_occ_command",
        "talk_signaling_secret",
        "talk_signaling_servers",
        "talk_stun_servers",
        "talk_retired_servers",
        "firewall_firewalld_zone",
        "firewall_nftables_conf",
        "firewall_nftables_extra_ports",
        "firewall_turn_sources",
    }
    assert written <= injected, written - injected
    lists = {r.key for r in ADDRESSES}
    assert lists >= {
        "coturn_listening_ips",
        "coturn_relay_ips",
        "coturn_external_ips",
        "coturn_denied_peer_ips",
        "coturn_allowed_peer_ips",
        "firewall_turn_sources",
    }


# --------------------------------------------------------------------------- inventories


def host_variables(r: Row, group: str) -> dict[str, Any]:
    """What the row's TURN or Nextcloud host sets: the fixed good secret, then the row."""
    base: dict[str, Any] = {"coturn_static_auth_secret": GOOD_SECRET} if group == TURN_GROUP else {}
    return {**base, **r.variables} if r.group == group else base


@pytest.fixture(scope="module")
def inventories(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One inventory per row: a TURN server and a Nextcloud host, the row's values on one."""
    base = tmp_path_factory.mktemp("hostile-cli")
    found: dict[str, Path] = {}
    for r in ROWS:
        found[r.id] = write_inventory(
            base / r.id,
            groups={
                TURN_GROUP: {TURN: host_variables(r, TURN_GROUP)},
                NEXTCLOUD_GROUP: {CLOUD: host_variables(r, NEXTCLOUD_GROUP) or None},
            },
        )
    return found


# --------------------------------------------------------------------------- the CLI side


@dataclass(frozen=True)
class Run:
    exit_code: int
    stdout: str
    stderr: str
    exception: str  # the traceback of an exception other than the exit, "" when none

    @property
    def text(self) -> str:
        return self.stdout + self.stderr + self.exception


CLI_RUNS: dict[tuple[str, tuple[str, ...]], Run] = {}


def cli(inventories: dict[str, Path], r: Row, *command: str) -> Run:
    """`talkdeploy <command> -i INV`, in-process, once per row and command (then cached)."""
    key = (r.id, command)
    if key not in CLI_RUNS:
        argv = [*command, "-i", str(inventories[r.id])]  # --output goes before the command
        result = CliRunner().invoke(main, argv, env={"NO_COLOR": "1"}, catch_exceptions=True)
        exception = ""
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            # shown in the assertion, and grepped like any output
            exception = "".join(traceback.format_exception(result.exception))
        CLI_RUNS[key] = Run(result.exit_code, result.stdout, result.stderr, exception)
    return CLI_RUNS[key]


VALIDATE = ("--output", "json", "validate")
STRICT = ("--output", "json", "validate", "--strict")
RENDER = ("render",)


def problems(run: Run) -> list[dict[str, Any]]:
    data = json.loads(run.stdout)
    found: list[dict[str, Any]] = data["problems"]
    assert data["errors"] == sum(1 for p in found if p["severity"] == "error")
    return found


@pytest.mark.parametrize("r", ROWS, ids=IDS)
def test_cli_validate(inventories: dict[str, Path], r: Row) -> None:
    run = cli(inventories, r, *VALIDATE)
    assert not run.exception, run.exception
    assert "Traceback" not in run.text, run.text
    found = problems(run)
    summary = [(p["key"], p["severity"], p["message"]) for p in found]
    assert all(p["fix"] for p in found), found  # every problem says how to fix it
    if r.severity == "pass":
        assert run.exit_code == 0, summary
        assert found == [], summary
        return
    assert run.exit_code == (1 if r.severity == "error" else 0), summary
    if r.severity == "warning":
        assert not [p for p in found if p["severity"] == "error"], summary
    named = [p for p in found if p["key"] == r.key and p["severity"] == r.severity]
    assert named, summary
    assert all(r.key in p["message"] for p in named), named  # the message names its key


@pytest.mark.parametrize(
    "r",
    [r for r in ROWS if r.severity != "error"],
    ids=[r.id for r in ROWS if r.severity != "error"],
)
def test_cli_validate_strict(inventories: dict[str, Path], r: Row) -> None:
    run = cli(inventories, r, *STRICT)
    assert not run.exception and "Traceback" not in run.text, run.text
    assert run.exit_code == (1 if r.severity == "warning" else 0), run.stdout
    assert json.loads(run.stdout)["ok"] is (r.severity == "pass")


@pytest.mark.parametrize("r", FORBIDDEN, ids=[r.id for r in FORBIDDEN])
def test_render_never_writes_the_injected_line(inventories: dict[str, Path], r: Row) -> None:
    run = cli(inventories, r, *RENDER)
    assert not run.exception and "Traceback" not in run.text, run.text
    assert run.exit_code == 0, run.text
    assert "listening-port=" in run.stdout, run.stdout  # a turnserver.conf was rendered
    lines = {line.strip().lower() for line in run.stdout.splitlines()}
    assert r.forbidden.lower() not in lines, run.stdout
    if r.forbidden.startswith("allowed-peer-ip="):
        assert r.forbidden not in run.stdout, run.stdout


# --------------------------------------------------------------------------- the role side

PLAYBOOK = [
    {
        "name": "The coturn role's settings check and endpoint, then the firewall role's check",
        "hosts": "hostile_turn",
        "gather_facts": False,
        "tasks": [
            {
                "name": "Coturn endpoint entry point",
                "ansible.builtin.include_role": {
                    "name": "talkdeploy.talk.coturn",
                    "tasks_from": "endpoint",
                },
            },
            {
                "name": "Firewall role (backend none: it ends after its check)",
                "ansible.builtin.include_role": {"name": "talkdeploy.talk.firewall"},
            },
        ],
    },
    {
        "name": "The nextcloud_talk role's settings check",
        "hosts": "hostile_nextcloud",
        "gather_facts": False,
        "tasks": [
            {
                "name": "Talk role (stops at its TURN endpoint assertion)",
                "ansible.builtin.include_role": {"name": "talkdeploy.talk.nextcloud_talk"},
            }
        ],
    },
]
SENTINEL = "turn-sentinel-never-run"  # a TURN server no play targets: it never has an endpoint
# Its secret is neither in the inventory nor readable: the Talk role's read-only attempt fails at
# once on this machine (an interpreter that does not exist), never over the network.
SENTINEL_VARIABLES = {
    "ansible_connection": "local",
    "ansible_python_interpreter": "/nonexistent/talkdeploy-sentinel/python3",
}
CHECK = "talkdeploy.talk.check_settings"
ARGSPEC = "ansible.builtin.validate_argument_spec"


def role_inventory() -> dict[str, Any]:
    """One host per row, in the row's group (and a group per play), the row's values on it."""
    connection = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    turn: dict[str, Any] = {}
    nextcloud: dict[str, Any] = {}
    for r in ROWS:
        variables = {**connection, **host_variables(r, r.group)}
        if r.group == TURN_GROUP:
            variables.setdefault("firewall_backend", "none")
            turn[r.id] = variables
        else:
            nextcloud[r.id] = variables
    return {
        "all": {
            "children": {
                TURN_GROUP: {"hosts": {**dict.fromkeys(turn), SENTINEL: SENTINEL_VARIABLES}},
                "hostile_turn": {"hosts": turn},
                NEXTCLOUD_GROUP: {"hosts": dict.fromkeys(nextcloud)},
                "hostile_nextcloud": {"hosts": nextcloud},
            }
        }
    }


@dataclass
class Event:
    task: str
    path: str
    result: dict[str, Any]


@dataclass
class PlaybookRun:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    events: dict[str, list[Event]] = field(default_factory=dict)


@dataclass
class Started:
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    started: float


@pytest.fixture(scope="module", autouse=True)
def playbook_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    """Start the one ansible-playbook run at once, so that it runs while the CLI rows do."""
    work = tmp_path_factory.mktemp("hostile-role")
    (work / "hosts.yml").write_text(yaml.safe_dump(role_inventory()), encoding="utf-8")
    (work / "play.yml").write_text(yaml.safe_dump(PLAYBOOK, sort_keys=False), encoding="utf-8")
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        # Vars plugins (host_group_vars) look for group_vars/ and host_vars/ for every host at
        # every task by default (ansible-core lib/ansible/config/base.yml, RUN_VARS_PLUGINS:
        # demand); this inventory holds every value inline, so once at start is enough.
        "ANSIBLE_RUN_VARS_PLUGINS": "start",
    }
    stdout, stderr = work / "stdout.json", work / "stderr.txt"
    argv = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "--check",  # one more guard: nothing on this machine may change even if a check passed
        "--forks",
        "10",  # the checks run in the workers; the controller mostly forks and waits
        "-i",
        str(work / "hosts.yml"),
        str(work / "play.yml"),
    ]
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=ROOT)
    started = Started(process, stdout, stderr, time.monotonic())
    yield started
    if process.poll() is None:  # the module was interrupted: stop our own run
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def role_run(playbook_process: Started) -> PlaybookRun:
    returncode = playbook_process.process.wait(timeout=600)
    run = PlaybookRun(
        returncode,
        playbook_process.stdout.read_text(encoding="utf-8"),
        playbook_process.stderr.read_text(encoding="utf-8"),
        time.monotonic() - playbook_process.started,
    )
    data = json.loads(run.stdout)
    for play in data["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                event = Event(task["task"]["name"], task["task"].get("path", ""), result)
                run.events.setdefault(host, []).append(event)
    return run


def checks(events: list[Event]) -> list[Event]:
    return [e for e in events if e.result.get("action") == CHECK]


@pytest.mark.parametrize("r", ROWS, ids=IDS)
def test_role_check(role_run: PlaybookRun, r: Row) -> None:
    events = role_run.events.get(r.id, [])
    assert events, f"{r.id} did not run; stderr: {role_run.stderr[-2000:]}"
    failed = [e for e in events if e.result.get("failed")]
    trace = [(e.task, e.result.get("msg", "")) for e in events]
    if r.severity == "error":
        assert failed, trace
        first = failed[0].result
        assert first.get("action") in (CHECK, ARGSPEC), trace
        assert r.key in first["msg"], first["msg"]
        if first["action"] == CHECK:
            assert r.key in {f["key"] for f in first["findings"]}, first["findings"]
        else:
            assert "Validating arguments against arg spec" in failed[0].task
            assert any(r.key in error for error in first["argument_errors"])
        return
    passed = [e for e in checks(events) if not e.result.get("failed") and "settings" in e.result]
    assert len(passed) == (2 if r.group == TURN_GROUP else 1), trace
    if r.group == TURN_GROUP:
        assert not failed, trace
    else:  # the Talk role then stops: the sentinel TURN server's secret is unknown, as designed
        assert [e.result["msg"] for e in failed] == [failed[0].result["msg"]], trace
        assert f"TURN server {SENTINEL}: no secret for Talk" in failed[0].result["msg"], trace
    warnings = [w for e in passed for w in e.result.get("warnings", [])]
    if r.severity == "warning":
        assert any(r.key in w for w in warnings), warnings
    else:
        assert warnings == [], warnings


def test_the_role_run_touched_nothing(role_run: PlaybookRun) -> None:
    """No command ran, nothing changed, and no Talk host got past its input validation."""
    assert "Traceback (most recent call last)" not in role_run.stdout + role_run.stderr
    assert SENTINEL not in role_run.events
    for host, events in role_run.events.items():
        for event in events:
            result = event.result
            assert not result.get("changed"), (host, event.task)
            assert not {"cmd", "rc", "stdout", "invocation"} & set(result), (host, event.task)
            assert result.get("action") != "ansible.builtin.shell", (host, event.task)
            if BY_ID[host].group == NEXTCLOUD_GROUP:
                assert "/tasks/occ.yml" not in event.path and "/tasks/status.yml" not in event.path
    print(f"ansible-playbook: {len(ROWS)} hosts in {role_run.seconds:.1f} s")


def test_cli_and_role_agree_on_every_row(
    inventories: dict[str, Path], role_run: PlaybookRun
) -> None:
    """The same verdict from both sides, row by row (one summary of every disagreement)."""
    disagreements = []
    for r in ROWS:
        cli_failed = cli(inventories, r, *VALIDATE).exit_code != 0
        role_failed = any(
            e.result.get("failed") and e.result.get("action") in (CHECK, ARGSPEC)
            for e in role_run.events.get(r.id, [])
        )
        if cli_failed != role_failed:
            disagreements.append((r.id, f"cli failed={cli_failed}", f"role failed={role_failed}"))
    assert disagreements == []


# --------------------------------------------------------------------------- the secret


def test_no_output_shows_a_secret(inventories: dict[str, Path], role_run: PlaybookRun) -> None:
    """Every output captured above (all CLI runs, the whole playbook output) is grepped."""
    for r in ROWS:  # runs whatever a -k selection skipped
        cli(inventories, r, *VALIDATE)
        if r.severity != "error":
            cli(inventories, r, *STRICT)
        if r.forbidden:
            cli(inventories, r, *RENDER)
    outputs = {f"{rid} {' '.join(command)}": run.text for (rid, command), run in CLI_RUNS.items()}
    outputs["ansible-playbook stdout"] = role_run.stdout
    outputs["ansible-playbook stderr"] = role_run.stderr
    leaks = [name for name, text in outputs.items() for s in SECRETS if s in text]
    assert leaks == []
    assert len(outputs) >= len(ROWS) + len(FORBIDDEN) + 2
