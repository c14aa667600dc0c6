"""Parsing what the hosts report, and the Talk == coturn comparison (no containers)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from inventory_factory import CLOUD, REAL_ROLES, TURN, write_inventory
from rich.console import Console

from talkdeploy.commands.verify import draw_checks
from talkdeploy.host_reports import NextcloudReport, Reports, parse_nextcloud, parse_turn
from talkdeploy.inventory import limit_excluding, load
from talkdeploy.model import build
from talkdeploy.probe import Check
from talkdeploy.run_result import RunResult
from talkdeploy.shared import masking
from talkdeploy.verify_checks import (
    probe_checks,
    read_checks,
    skip_unreachable,
    talk_checks,
    talk_matches_coturn,
    uclient_check,
    uclient_checks,
)

if TYPE_CHECKING:
    from talkdeploy.model import Deployment

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
    assert uclient_check("client", "turn1", 0, UCLIENT_OK, 1.0).ok


def test_uclient_lost_packets_fail_even_with_exit_code_0() -> None:
    lossy = UCLIENT_OK.replace("Total lost packets 0 (0.000000%)", "Total lost packets 5 (100.0%)")
    check = uclient_check("client", "turn1", 0, lossy, 1.0)
    assert not check.ok
    assert "lost 5 packets" in check.detail


def test_uclient_refused_allocation_fails() -> None:
    check = uclient_check("client", "turn1", 255, "0: : ERROR: Cannot complete Allocation\n", 0.2)
    assert not check.ok
    assert "Cannot complete Allocation" in check.detail


def test_uclient_timeout_fails() -> None:
    assert not uclient_check("client", "turn1", 124, "", 30.0).ok


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


# --- A host that was not reached is reported once (its read state), not again by the checks
# that only follow from it. -------------------------------------------------------------------


def _run(*events: dict[str, object]) -> RunResult:
    """A RunResult folded from callback events, as the runner builds it."""
    run = RunResult(returncode=0)
    for event in events:
        run.apply(event)
    return run


def _unreachable(host: str) -> dict[str, object]:
    return {"event": "result", "host": host, "status": "unreachable", "task": "t", "msg": "refused"}


def _stats(**hosts: dict[str, int]) -> dict[str, object]:
    return {"event": "stats", "hosts": hosts}


def _deployment(tmp_path: Path, secret: str | None = None) -> Deployment:
    group_vars = {"turn_servers": {"coturn_static_auth_secret": secret}} if secret else None
    inventory = write_inventory(tmp_path / "inv", group_vars=group_vars)
    deployment, problems = build(load(inventory, roles_dir=REAL_ROLES))
    assert not [p for p in problems if p.severity == "error"], problems
    return deployment


# The whole run stopped after the only TURN server was unreachable (no play reached the
# Nextcloud host): what ansible-playbook reports when coturn's host is down.
STOPPED = (_unreachable(TURN), _stats(**{TURN: {"unreachable": 1}}))


def test_an_unreachable_host_without_an_inventory_secret_is_not_probed_nor_failed_twice(
    tmp_path: Path,
) -> None:
    reports = Reports(_run(*STOPPED))
    checks = read_checks(reports) + probe_checks(_deployment(tmp_path), reports, 1.0)
    failed = [(c.host, c.name) for c in checks if not c.ok and not c.skipped]
    assert failed == [(TURN, "read state (unreachable)")]
    assert "secret known" not in {c.name for c in checks}
    probes = next(c for c in checks if c.skipped)
    assert (probes.host, probes.name, probes.ok) == (TURN, "stun/turn probes", False)
    assert probes.detail.startswith(f"{TURN} was unreachable")


def test_a_reached_host_without_a_secret_still_fails_secret_known(tmp_path: Path) -> None:
    turn = _turn("listening-port=443\n")  # read, but coturn's file has no static-auth-secret
    turn.host = TURN
    reports = Reports(_run(_stats(**{TURN: {"ok": 3}})), turn={TURN: turn})
    checks = probe_checks(_deployment(tmp_path), reports, 1.0)
    assert [(c.name, c.ok, c.skipped) for c in checks] == [("secret known", False, False)]


def test_a_nextcloud_host_the_run_never_reached_is_not_run_with_the_reason(
    tmp_path: Path,
) -> None:
    checks = talk_checks(_deployment(tmp_path), Reports(_run(*STOPPED)))
    assert [(c.host, c.name, c.skipped) for c in checks] == [(CLOUD, "talk settings read", True)]
    assert checks[0].detail == f"Ansible stopped before reaching it, after {TURN} was unreachable"


def test_a_nextcloud_host_missing_from_a_clean_run_is_a_failure(tmp_path: Path) -> None:
    run = _run(_stats(**{TURN: {"ok": 3}, CLOUD: {"ok": 3}}))
    checks = talk_checks(_deployment(tmp_path), Reports(run))
    assert [(c.name, c.ok, c.skipped, c.detail) for c in checks] == [
        ("talk settings read", False, False, "not read")
    ]


def test_talk_is_not_compared_with_a_turn_server_that_was_not_read(tmp_path: Path) -> None:
    run = _run(_unreachable(TURN), _stats(**{TURN: {"unreachable": 1}, CLOUD: {"ok": 3}}))
    reports = Reports(run, nextcloud={CLOUD: _talk([GOOD])})
    checks = talk_checks(_deployment(tmp_path), reports)
    assert [(c.name, c.skipped) for c in checks] == [(f"talk settings match {TURN}", True)]
    assert checks[0].detail == f"not compared: {TURN} was unreachable"


def test_uclient_on_an_unreachable_host_is_not_run() -> None:
    run = _run(_unreachable(CLOUD), _stats(**{CLOUD: {"unreachable": 1}}))
    (check,) = uclient_checks(CLOUD, Reports(run))
    assert (check.skipped, check.detail) == (True, f"{CLOUD} was unreachable")
    (clean,) = uclient_checks(CLOUD, Reports(_run(_stats(**{CLOUD: {"ok": 1}}))))
    assert (clean.ok, clean.skipped) == (False, False)


def test_the_conversation_check_leaves_unreachable_hosts_out() -> None:
    run = _run(_unreachable(CLOUD), _stats(**{CLOUD: {"unreachable": 1}, "cloud2": {"ok": 1}}))
    reachable, skipped = skip_unreachable([CLOUD, "cloud2"], run, "conversation check")
    assert reachable == ["cloud2"]
    assert [(c.host, c.skipped) for c in skipped] == [(CLOUD, True)]
    assert limit_excluding(None, {CLOUD}) == f"all,!{CLOUD}"
    assert limit_excluding("nextcloud", {CLOUD, "b"}) == f"nextcloud,!b,!{CLOUD}"
    assert limit_excluding("nextcloud", set()) == "nextcloud"


def test_the_table_counts_not_run_checks_apart_from_failures() -> None:
    checks = [
        Check(TURN, "read state (unreachable)", False, 0.0, "refused"),
        Check.not_run(TURN, "stun/turn probes", f"{TURN} was unreachable"),
    ]
    console = Console(record=True, width=200, color_system=None)
    draw_checks(console, [c.as_dict() for c in checks])
    text = console.export_text()
    assert "skipped" in text
    assert f"1 of 1 checks failed: {TURN}: read state (unreachable)" in text
    assert f"1 not run: {TURN}: stun/turn probes" in text


SSH_CLIENT = shutil.which("ssh")


@pytest.mark.skipif(SSH_CLIENT is None, reason="Ansible's ssh connection needs an ssh client")
def test_verify_reports_an_unreachable_turn_host_once_and_exits_3(tmp_path: Path) -> None:
    # SSH to a loopback port nothing listens on: refused at once; nothing leaves the machine.
    inventory = write_inventory(
        tmp_path / "inv",
        groups={
            "turn_servers": {TURN: {"ansible_host": "127.0.0.1", "ansible_port": 9}},
            "nextcloud": {CLOUD: {"ansible_host": "127.0.0.1", "ansible_port": 9}},
        },
    )
    run = subprocess.run(
        [sys.executable, "-m", "talkdeploy", "--output", "json", "verify", "-i", str(inventory)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 3, run.stdout + run.stderr
    data = json.loads(run.stdout)
    assert data["ok"] is False
    failed = [(c["host"], c["name"]) for c in data["checks"] if not c["ok"] and not c["skipped"]]
    assert failed == [(TURN, "read state (unreachable)")]
    skipped = {(c["host"], c["name"]) for c in data["checks"] if c["skipped"]}
    assert skipped == {(TURN, "stun/turn probes"), (CLOUD, "talk settings read")}


def test_verify_limit_checks_only_the_hosts_it_selects(tmp_path: Path) -> None:
    from talkdeploy.verify_checks import within_limit

    deployment = _deployment(tmp_path)
    turn_only = within_limit(deployment, "turn_servers")
    assert [s.name for s in turn_only.turn_servers] == [TURN]
    assert turn_only.nextcloud_hosts == []
    # Talk's host outside the limit: no "talk settings read" failure for a host never read.
    assert talk_checks(turn_only, Reports(_run(_stats(**{TURN: {"ok": 3}})))) == []
    assert [h.name for h in within_limit(deployment, f"all:!{TURN}").nextcloud_hosts] == [CLOUD]
    assert within_limit(deployment, None) is deployment


def test_plan_with_only_talk_read_masks_the_secret_talk_holds(tmp_path: Path) -> None:
    """`plan --limit nextcloud`: no TURN host is read and the inventory has no secret, so the
    one copy of the secret in the diff is Talk's own: it is masked like every other."""
    from talkdeploy.plan_diff import plan_diffs

    held = "7c" * 32
    entry = {"server": "turn.old.test:443", "secret": held, "protocols": "udp,tcp"}
    talk = NextcloudReport(CLOUD, "", turn_servers=[{**entry, "schemes": "turn"}])
    diffs = plan_diffs(_deployment(tmp_path), Reports(_run(), nextcloud={CLOUD: talk}))
    (talk_diff,) = [d["diff"] for d in diffs if d["file"] == "Talk settings"]
    assert held not in talk_diff
    assert f"<secret sha256:{masking.fingerprint(held)}>" in talk_diff
    assert f"<secret read from {TURN} by apply>" in talk_diff  # a new server: not guessed
