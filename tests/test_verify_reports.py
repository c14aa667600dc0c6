"""Parsing what the hosts report, and the Talk == coturn comparison (no containers)."""

from __future__ import annotations

import json

from talkdeploy.host_reports import NextcloudReport, parse_nextcloud, parse_turn
from talkdeploy.shared import masking
from talkdeploy.verify_checks import talk_matches_coturn, uclient_check

SECRET = "a" * 64
ENDPOINT = {
    "public_name": "turn.example.org",
    "listening_port": 443,
    "tls_listening_port": 5349,
    "udp": True,
    "tcp": True,
    "tls": True,
}

STATE = """version=4.6.1-1
active=active
enabled=enabled
socket=udp   UNCONN 0      0  172.26.0.2:443        0.0.0.0:* users:(("turnserver",pid=9,fd=3))
socket=tcp   LISTEN 0      5   [::]:5349           [::]:* users:(("turnserver",pid=9,fd=4))
socket=tcp   LISTEN 0      5      172.26.0.2:443        0.0.0.0:* users:(("turnserver",pid=9,fd=5))
"""


def _turn(config: str = f"listening-port=443\nstatic-auth-secret={SECRET}\n") -> object:
    return parse_turn(
        {
            "host": "turn1",
            "config_found": True,
            "config": config,
            "state": STATE,
            "endpoint": ENDPOINT,
        }
    )


def _talk(entries: list[dict[str, str]]) -> NextcloudReport:
    listed = {"apps": {"spreed": {"turn_servers": json.dumps(entries)}}}
    apps = {"enabled": {"spreed": "20.1.0"}}
    return parse_nextcloud(
        {
            "host": "cloud",
            "config_rc": 0,
            "config": json.dumps(listed),
            "apps": json.dumps(apps),
        }
    )


GOOD = {
    "schemes": "turn,turns",
    "server": "turn.example.org:443",
    "secret": SECRET,
    "protocols": "udp,tcp",
}


def test_turn_report_gives_version_state_ports_and_secrets() -> None:
    report = _turn(f"static-auth-secret={SECRET}\nstatic-auth-secret=new\nrealm=x\n")
    assert report.version == "4.6.1-1"
    assert report.active == "active"
    assert report.listening == [("tcp", 443), ("tcp", 5349), ("udp", 443)]
    assert report.secrets == [SECRET, "new"]
    assert report.options["realm"] == "x"
    assert SECRET not in repr(report)


def test_talk_version_and_entries_are_read_from_occ_json() -> None:
    talk = _talk([GOOD])
    assert talk.talk_version == "20.1.0"
    assert talk.turn_servers == [GOOD]


def test_matching_settings_pass_and_show_only_a_fingerprint() -> None:
    check = talk_matches_coturn(_talk([GOOD]), _turn(), None)
    assert check.ok, check.detail
    assert SECRET not in check.detail
    assert masking.fingerprint(SECRET) in check.detail


def test_a_wrong_secret_in_talk_fails_without_printing_either_secret() -> None:
    check = talk_matches_coturn(_talk([{**GOOD, "secret": "b" * 64}]), _turn(), None)
    assert not check.ok
    assert "secret differs" in check.detail
    assert SECRET not in check.detail and "b" * 64 not in check.detail


def test_talk_pointing_at_another_port_fails() -> None:
    check = talk_matches_coturn(_talk([{**GOOD, "server": "turn.example.org:3478"}]), _turn(), None)
    assert not check.ok
    assert "no TURN server turn.example.org:443" in check.detail


def test_turns_scheme_without_tls_on_coturn_fails() -> None:
    turn = _turn()
    turn.endpoint = {**ENDPOINT, "tls": False, "tls_listening_port": None}
    check = talk_matches_coturn(_talk([GOOD]), turn, None)
    assert not check.ok
    assert "schemes" in check.detail


def test_a_protocol_coturn_does_not_serve_fails() -> None:
    turn = _turn()
    turn.endpoint = {**ENDPOINT, "tcp": False}
    check = talk_matches_coturn(_talk([GOOD]), turn, None)
    assert not check.ok
    assert "protocols" in check.detail


def test_occ_failure_is_a_failed_check() -> None:
    nextcloud = parse_nextcloud({"host": "cloud", "config_rc": 1, "config": "Could not open"})
    check = talk_matches_coturn(nextcloud, _turn(), None)
    assert not check.ok
    assert "occ config:list failed" in check.detail


UCLIENT_OK = """0: : Total connect time is 0
1: : Total transmit time is 1
1: : Total lost packets 0 (0.000000%), total send dropped 0 (0.000000%)
1: : Average round trip delay 0.500000 ms; min = 0 ms, max = 1 ms
"""


def test_uclient_passes_with_zero_lost_packets() -> None:
    assert uclient_check("client", "turn1", 0, UCLIENT_OK).ok


def test_uclient_lost_packets_fail_even_with_exit_code_0() -> None:
    lossy = UCLIENT_OK.replace("Total lost packets 0 (0.000000%)", "Total lost packets 5 (100.0%)")
    check = uclient_check("client", "turn1", 0, lossy)
    assert not check.ok
    assert "lost 5 packets" in check.detail


def test_uclient_refused_allocation_fails() -> None:
    check = uclient_check("client", "turn1", 255, "0: : ERROR: Cannot complete Allocation\n")
    assert not check.ok
    assert "Cannot complete Allocation" in check.detail


def test_uclient_timeout_fails() -> None:
    assert not uclient_check("client", "turn1", 124, "").ok


def test_sockets_of_other_processes_do_not_count_when_ss_names_them() -> None:
    report = _turn()
    other = parse_turn(
        {
            "host": "turn1",
            "state": 'socket=tcp LISTEN 0 5 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=1,fd=3))\n'
            + STATE,
            "endpoint": ENDPOINT,
        }
    )
    assert ("tcp", 22) not in other.listening
    assert other.listening == report.listening


def test_without_process_names_every_listening_socket_counts() -> None:
    unnamed = parse_turn(
        {"host": "turn1", "state": "socket=udp UNCONN 0 0 172.26.0.2:443 0.0.0.0:*\n"}
    )
    assert unnamed.listening == [("udp", 443)]
