"""Each validation rule: a bad inventory and the exact problem(s) it must produce.

The inventories are real files read by Ansible's own inventory code, checked against the
real roles' argument specs, defaults and tasks (so a rule and a role cannot drift apart
without a test failing here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from inventory_factory import CLOUD, GOOD_SECRET, REAL_ROLES, TURN, write_inventory

from talkdeploy.inventory import load
from talkdeploy.model import build
from talkdeploy.problems import Problem

TLS = {"coturn_cert": "/etc/ssl/turn.pem", "coturn_pkey": "/etc/ssl/turn.key"}


def problems_of(tmp_path: Path, **inventory: Any) -> list[Problem]:
    root = write_inventory(tmp_path / "inventory", **inventory)
    _deployment, problems = build(load(root, roles_dir=REAL_ROLES))
    return problems


def turn_vars(**values: Any) -> dict[str, Any]:
    return {"group_vars": {"turn_servers": values}}


# (id, inventory, [(key, severity, fragment of the message)]) — the exact, complete list.
CASES: list[tuple[str, dict[str, Any], list[tuple[str, str, str]]]] = [
    (
        "secret_not_hex",
        turn_vars(coturn_static_auth_secret="z" * 40),
        [("coturn_static_auth_secret", "error", "other than hex digits")],
    ),
    (
        "secret_too_short",
        turn_vars(coturn_static_auth_secret="abcdef12"),
        [("coturn_static_auth_secret", "error", "8 hex characters, fewer than 32")],
    ),
    (
        "secret_with_whitespace",
        turn_vars(coturn_static_auth_secret=GOOD_SECRET + " x"),
        [("coturn_static_auth_secret", "error", "whitespace")],
    ),
    (
        "port_not_a_number",
        turn_vars(coturn_listening_port="https"),
        [("coturn_listening_port", "error", "unable to convert to int")],
    ),
    (
        "port_out_of_range",
        turn_vars(coturn_listening_port=70000),
        [("coturn_listening_port", "error", "70000, outside 1-65535")],
    ),
    (
        "relay_range_reversed",
        turn_vars(coturn_min_port=60000, coturn_max_port=50000),
        [("coturn_min_port", "error", "is reversed")],
    ),
    (
        "relay_range_small",
        turn_vars(coturn_min_port=50000, coturn_max_port=50099),
        [("coturn_min_port", "warning", "only 100 ports")],
    ),
    (
        "relay_range_privileged_and_around_the_listening_port",
        turn_vars(coturn_min_port=100, coturn_max_port=5000),
        [
            ("coturn_min_port", "error", "among the privileged ports below 1024"),
            ("coturn_listening_port", "error", "443 lies inside the relay range 100-5000"),
        ],
    ),
    (
        "ssh_port_inside_relay_range",
        {
            "groups": {"turn_servers": {TURN: {"ansible_port": 2222}}, "nextcloud": {CLOUD: None}},
            "group_vars": {"turn_servers": {"coturn_min_port": 2000, "coturn_max_port": 9000}},
        },
        [("coturn_min_port", "warning", "SSH port 2222 lies inside the relay range 2000-9000")],
    ),
    (
        "tls_port_equals_listening_port",
        turn_vars(coturn_tls_listening_port=443, **TLS),
        [("coturn_tls_listening_port", "error", "cannot bind the same port twice")],
    ),
    (
        "listening_port_inside_relay_range",
        turn_vars(coturn_listening_port=50000),
        [("coturn_listening_port", "error", "50000 lies inside the relay range 49152-65535")],
    ),
    (
        "listening_port_is_the_ssh_port",
        {
            "groups": {"turn_servers": {TURN: {"ansible_port": 3478}}, "nextcloud": {CLOUD: None}},
            "group_vars": {"turn_servers": {"coturn_listening_port": 3478}},
        },
        [("coturn_listening_port", "error", "3478 is the SSH port Ansible connects to")],
    ),
    (
        "listening_port_held_by_the_web_server_on_the_same_host",
        {"groups": {"turn_servers": {TURN: None}, "nextcloud": {TURN: None}}},
        [("coturn_listening_port", "error", "web server holds TCP 443")],
    ),
    (
        "tls_port_without_certificate",
        turn_vars(coturn_tls_listening_port=5349),
        [("coturn_tls_listening_port", "warning", "coturn_cert and coturn_pkey are not")],
    ),
    (
        "certificate_without_key",
        turn_vars(coturn_cert="/etc/ssl/turn.pem"),
        [("coturn_pkey", "error", "only one of coturn_cert and coturn_pkey")],
    ),
    (
        "turns_on_a_bare_ip",
        turn_vars(coturn_public_name="203.0.113.7", **TLS),
        [("coturn_public_name", "warning", "bare IP address 203.0.113.7")],
    ),
    (
        "no_udp_and_no_tcp",
        turn_vars(coturn_no_udp=True, coturn_no_tcp=True),
        [("coturn_no_tcp", "error", "no client can reach the TURN server")],
    ),
    (
        "no_udp",
        turn_vars(coturn_no_udp=True),
        [("coturn_no_udp", "warning", "relayed over TCP")],
    ),
    (
        "no_udp_relay_in_extra_options",
        turn_vars(coturn_extra_options={"no_udp_relay": True}),
        [("coturn_extra_options", "error", "refuses UDP relay allocations")],
    ),
    (
        "managed_option_in_extra_options",
        turn_vars(coturn_extra_options={"listening-port": 3478}),
        [("coturn_extra_options", "error", "talkdeploy writes from coturn_listening_port")],
    ),
    (
        "comment_as_extra_option_name",
        turn_vars(coturn_extra_options={"lt-cred-mech # old": True}),
        [("coturn_extra_options", "error", "which is not a bare option name")],
    ),
    (
        "public_name_with_port",
        turn_vars(coturn_public_name="turn.example.org:443"),
        [("coturn_public_name", "error", "with a port")],
    ),
    (
        "public_name_with_scheme",
        turn_vars(coturn_public_name="turns:turn.example.org"),
        [("coturn_public_name", "error", "with a scheme")],
    ),
    (
        "empty_realm",
        turn_vars(coturn_realm=""),
        [("coturn_realm", "error", "coturn_realm is empty")],
    ),
    (
        "denied_peer_range_reversed",
        turn_vars(coturn_denied_peer_ips=["10.0.0.255-10.0.0.0"]),
        [("coturn_denied_peer_ips", "error", "ends before it starts")],
    ),
    (
        "denied_peer_range_mixing_families",
        turn_vars(coturn_denied_peer_ips=["10.0.0.0-::1"]),
        [("coturn_denied_peer_ips", "error", "mixes IPv4 and IPv6")],
    ),
    (
        "external_ip_not_an_address_pair",
        turn_vars(coturn_external_ips=["203.0.113.5/turn"]),
        [("coturn_external_ips", "error", "which is not an IP address")],
    ),
    (
        "privileged_port_method_not_a_choice",
        turn_vars(coturn_privileged_port_method="sudo"),
        [("coturn_privileged_port_method", "error", "must be one of: setcap, root, ambient")],
    ),
    (
        "unknown_coturn_variable_with_suggestion",
        turn_vars(coturn_listen_port=3478),
        [("coturn_listen_port", "error", "is not a variable of the coturn role")],
    ),
    (
        "stun_server_without_port",
        {"group_vars": {"nextcloud": {"talk_stun_servers": ["stun.example.org"]}}},
        [("talk_stun_servers", "error", "without a port; Talk wants host:port")],
    ),
    (
        "stun_server_with_scheme",
        {"group_vars": {"nextcloud": {"talk_stun_servers": ["stun:stun.example.org:3478"]}}},
        [("talk_stun_servers", "error", "with a scheme; Talk wants host:port")],
    ),
    (
        "turn_schemes_talk_rejects",
        {"group_vars": {"nextcloud": {"talk_turn_schemes": "turn,stun"}}},
        [("talk_turn_schemes", "error", "must be one of")],
    ),
    (
        "turn_protocols_in_the_order_talk_rejects",
        {"group_vars": {"nextcloud": {"talk_turn_protocols": "tcp,udp"}}},
        [("talk_turn_protocols", "error", "must be one of")],
    ),
    (
        "turns_scheme_without_tls_on_the_turn_server",
        {"group_vars": {"nextcloud": {"talk_turn_schemes": "turns"}}},
        [("talk_turn_schemes", "error", "which has no TLS")],
    ),
    (
        "udp_offered_while_coturn_has_udp_off",
        {
            "group_vars": {
                "turn_servers": {"coturn_no_udp": True},
                "nextcloud": {"talk_turn_protocols": "udp,tcp"},
            }
        },
        [
            ("coturn_no_udp", "warning", "relayed over TCP"),
            ("talk_turn_protocols", "error", "Talk would offer udp"),
        ],
    ),
    (
        "empty_stun_list_without_the_default",
        {"group_vars": {"nextcloud": {"talk_stun_servers": [], "talk_keep_default_stun": False}}},
        [("talk_stun_servers", "error", "Talk would fall back to stun.nextcloud.com:443")],
    ),
    (
        "retired_server_with_scheme",
        {"group_vars": {"nextcloud": {"talk_retired_servers": ["turns:old.example.org"]}}},
        [("talk_retired_servers", "error", "with a scheme or a path")],
    ),
    (
        "signaling_server_without_url_and_secret",
        {"group_vars": {"nextcloud": {"talk_signaling_servers": [{"server": "hpb.example.org"}]}}},
        [
            ("talk_signaling_servers", "error", "entry 1 has no https:// or http:// URL"),
            ("talk_signaling_secret", "error", "talk_signaling_secret is empty"),
        ],
    ),
    (
        "nftables_on_the_nextcloud_host_would_close_the_web_server",
        {
            "groups": {"turn_servers": {TURN: None}, "nextcloud": {TURN: None}},
            "group_vars": {
                "turn_servers": {"coturn_listening_port": 3478, "firewall_backend": "nftables"}
            },
        },
        [("firewall_nftables_extra_ports", "error", "80/tcp, 443/tcp would be closed")],
    ),
    (
        "talk_host_without_turn_server",
        {"groups": {"nextcloud": {CLOUD: None}}},
        [("turn_servers", "error", "has no TURN server")],
    ),
    (
        "turn_server_without_talk_host",
        {"groups": {"turn_servers": {TURN: None}}},
        [("nextcloud", "warning", "no Talk is told to use it")],
    ),
    (
        "coturn_variable_on_a_nextcloud_only_host",
        {"host_vars": {CLOUD: {"coturn_listening_port": 3478}}},
        [("coturn_listening_port", "warning", "has no effect")],
    ),
]


@pytest.mark.parametrize(
    ("inventory", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_inventory_gives_exactly_its_problems(
    tmp_path: Path, inventory: dict[str, Any], expected: list[tuple[str, str, str]]
) -> None:
    problems = problems_of(tmp_path, **inventory)
    found = [(p.key, p.severity) for p in problems]
    assert sorted(found) == sorted((key, severity) for key, severity, _ in expected), problems
    for key, severity, fragment in expected:
        assert any(
            p.key == key and p.severity == severity and fragment in p.message for p in problems
        ), (fragment, problems)
    for problem in problems:
        assert problem.fix, problem  # every problem says how to fix it


def test_clean_inventory_has_no_problem(tmp_path: Path) -> None:
    assert problems_of(tmp_path, **turn_vars(coturn_static_auth_secret=GOOD_SECRET)) == []


def test_typo_gets_a_did_you_mean(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, **turn_vars(coturn_listen_port=3478))
    assert problem.fix == "did you mean coturn_listening_port?"


def test_problem_names_the_file_and_line_that_set_the_value(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, **turn_vars(coturn_min_port=60000, coturn_max_port=50000))
    assert problem.file.endswith("group_vars/turn_servers.yml:1")
    assert problem.host == TURN


def test_boolean_origin_is_found_without_a_tag(tmp_path: Path) -> None:
    # Ansible cannot tag a bool with its origin; the file is found by precedence search.
    problems = problems_of(tmp_path, host_vars={TURN: {"coturn_no_udp": True}})
    (problem,) = problems
    assert problem.file.endswith(f"host_vars/{TURN}.yml")


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        **turn_vars(
            coturn_static_auth_secret="short",
            coturn_listen_port=1,
            coturn_no_udp=True,
            coturn_no_tcp=True,
        ),
    )
    assert {p.key for p in problems} == {
        "coturn_static_auth_secret",
        "coturn_listen_port",
        "coturn_no_tcp",
    }


def test_same_group_mistake_on_many_hosts_is_reported_once(tmp_path: Path) -> None:
    groups: dict[str, dict[str, dict[str, Any] | None]] = {
        "turn_servers": {"turn1.example.org": None, "turn2.example.org": None},
        "nextcloud": {CLOUD: None},
    }
    problems = problems_of(
        tmp_path, groups=groups, group_vars={"turn_servers": {"coturn_min_port": 70000}}
    )
    (problem,) = problems
    assert problem.key == "coturn_min_port"
    assert problem.host is None  # the group file is wrong, not one host


def test_ini_string_where_a_boolean_is_expected_is_refused(tmp_path: Path) -> None:
    """INI values are strings; the role would read "no" as true, so both sides refuse it."""
    root = tmp_path / "inventory"
    root.mkdir()
    (root / "hosts").write_text(
        f"[turn_servers]\n{TURN} coturn_no_dtls=no\n\n[nextcloud]\n{CLOUD}\n"
    )
    deployment, problems = build(load(root / "hosts", roles_dir=REAL_ROLES))
    (problem,) = problems
    assert (problem.key, problem.severity) == ("coturn_no_dtls", "error")
    assert problem.file.endswith("hosts:2")
    assert "is the string 'no', not a boolean" in problem.message
    assert "write true or false without quotes" in problem.fix
    assert deployment.turn_servers[0].variables["coturn_no_dtls"] is False  # the role default


@pytest.mark.parametrize(
    "secret",
    ["zz" * 20 + "-not-hex-secret-value", ["a-list-holding-the-secret-" + GOOD_SECRET]],
    ids=["bad_format", "wrong_type"],
)
def test_problems_never_show_the_secret(tmp_path: Path, secret: Any) -> None:
    problems = problems_of(tmp_path, **turn_vars(coturn_static_auth_secret=secret))
    assert [p.key for p in problems] == ["coturn_static_auth_secret"]
    text = repr([p.as_dict() for p in problems])
    shown = secret if isinstance(secret, str) else secret[0]
    assert shown not in text and "not-hex-secret" not in text and GOOD_SECRET not in text


def test_role_variables_in_group_vars_all_are_not_flagged_on_other_hosts(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, group_vars={"all": {"coturn_listening_port": 3478}})
    assert problems == []
