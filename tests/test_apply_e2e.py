"""End to end through the real CLI: apply, apply again, verify, plan, and verify failing.

Runs against the session's deployed lab (tests/labkit.py): real coturn and nftables, the
occ EMULATOR (the one stand-in) and a client with turnutils_uclient. Each test that breaks
something restores it before it ends.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from labkit import Lab, assert_secret_hidden, failed_checks, talkdeploy

pytestmark = pytest.mark.docker


@pytest.fixture
def lab(deployed_lab: Lab) -> Lab:
    return deployed_lab


def test_apply_deploys_and_reports_each_host(lab: Lab) -> None:
    run = lab.first_apply
    assert run is not None
    assert run.code == 0, run.stdout + run.stderr[-3000:]
    hosts = run.data["hosts"]
    assert hosts[lab.turn]["failed"] == 0 and hosts[lab.turn]["changed"] > 0
    assert hosts[lab.nextcloud]["failed"] == 0 and hosts[lab.nextcloud]["changed"] > 0
    changed_files = [c["name"] for c in hosts[lab.turn]["changes"] if c["kind"] == "file"]
    assert any("/etc/turnserver.conf" in name for name in changed_files), hosts[lab.turn]
    assert any(c["kind"] == "talk" for c in hosts[lab.nextcloud]["changes"])
    assert_secret_hidden(lab, run)


def test_a_second_apply_changes_nothing(lab: Lab) -> None:
    run = talkdeploy("apply", "-i", str(lab.inventory), "--yes")
    assert run.code == 0, run.stderr[-3000:]
    assert run.data["changed"] == 0, run.data["hosts"]


def test_verify_passes_against_the_deployment(lab: Lab) -> None:
    run = talkdeploy("verify", "-i", str(lab.inventory), "--from-host", lab.client)
    assert run.code == 0, failed_checks(run) or run.stderr[-3000:]
    names = {check["name"] for check in run.data["checks"]}
    assert {
        "stun binding (udp)",
        "turn allocation (udp)",
        "turn allocation (tcp)",
        "turns allocation (tls :443)",
        "turns allocation (tls :5349)",
        "wrong secret refused (udp)",
        "relay to 10.0.0.1 refused",
        "relay to 169.254.169.254 refused",
        f"talk settings match {lab.turn}",
        f"turnutils_uclient to {lab.turn}",
    } <= names
    assert_secret_hidden(lab, run)


def test_status_reports_versions_and_no_drift(lab: Lab) -> None:
    run = talkdeploy("status", "-i", str(lab.inventory))
    assert run.code == 0, run.data.get("drift") or run.stderr[-3000:]
    (turn,) = run.data["turn_servers"]
    assert turn["version"].startswith("4.")
    assert turn["service"] == "active"
    assert len(turn["secret_fingerprints"][0]) == 8
    (nextcloud,) = run.data["nextcloud"]
    assert nextcloud["federation"]["enabled"] is False  # the lab leaves federation off
    assert_secret_hidden(lab, run)


def test_verify_talk_conversation_creates_reads_and_deletes_a_throwaway_room(lab: Lab) -> None:
    state_file = "/var/www/nextcloud/data/talkdeploy-emulator-state.json"
    rooms_before = json.loads(lab.exec(lab.nextcloud, "cat", state_file)).get("rooms") or {}
    run = talkdeploy("verify", "-i", str(lab.inventory), "--talk-conversation", "admin")
    assert run.code == 0, failed_checks(run) or run.stderr[-3000:]
    steps = [(c["host"], c["name"]) for c in run.data["checks"] if "conversation" in c["name"]]
    assert steps == [
        (lab.nextcloud, "conversation created"),
        (lab.nextcloud, "conversation read back"),
        (lab.nextcloud, "conversation deleted"),
    ]
    rooms_after = json.loads(lab.exec(lab.nextcloud, "cat", state_file)).get("rooms") or {}
    assert rooms_after == rooms_before
    assert_secret_hidden(lab, run)


def test_plan_after_a_port_change_shows_the_diff_without_applying(lab: Lab, tmp_path: Path) -> None:
    changed = tmp_path / "hosts.yml"
    text = lab.inventory.read_text()
    assert "coturn_listening_port: 443" in text
    changed.write_text(text.replace("coturn_listening_port: 443", "coturn_listening_port: 3479"))
    run = talkdeploy("plan", "-i", str(changed))
    assert run.code == 0, run.stderr[-3000:]
    diffs = {(d["host"], d["file"]): d["diff"] for d in run.data["file_diffs"]}
    conf_diff = diffs[(lab.turn, "turnserver.conf")]
    assert "-listening-port=443" in conf_diff
    assert "+listening-port=3479" in conf_diff
    talk_diff = diffs[(lab.nextcloud, "Talk settings")]
    assert ":3479" in talk_diff
    assert "listening-port=443" in lab.exec(lab.turn, "cat", "/etc/turnserver.conf")
    assert_secret_hidden(lab, run)


def test_verify_fails_when_talks_secret_is_wrong(lab: Lab) -> None:
    original = lab.occ("config:app:get", "spreed", "turn_servers").strip()
    entries = json.loads(original)
    wrong = [{**entry, "secret": "not-the-secret"} for entry in entries]
    lab.occ("config:app:set", "spreed", "turn_servers", f"--value={json.dumps(wrong)}")
    try:
        run = talkdeploy("verify", "-i", str(lab.inventory))
    finally:
        lab.occ("config:app:set", "spreed", "turn_servers", f"--value={original}")
    assert run.code == 2
    assert failed_checks(run) == [f"{lab.nextcloud}: talk settings match {lab.turn}"]
    assert_secret_hidden(lab, run)


def test_verify_fails_when_the_turn_port_is_firewalled(lab: Lab) -> None:
    block = [
        "add table inet h5block",
        "add chain inet h5block input { type filter hook input priority -10 ; }",
        "add rule inet h5block input udp dport 443 drop",
        "add rule inet h5block input tcp dport 443 drop",
    ]
    for rule in block:
        lab.exec(lab.turn, "sh", "-c", f"nft '{rule}'")
    try:
        run = talkdeploy("verify", "-i", str(lab.inventory), "--timeout", "3")
    finally:
        lab.exec(lab.turn, "nft", "delete", "table", "inet", "h5block")
    assert run.code == 2
    failed = failed_checks(run)
    assert f"{lab.turn}: turn allocation (udp)" in failed
    assert f"{lab.turn}: turn allocation (tcp)" in failed
    assert f"{lab.turn}: turns allocation (tls :5349)" not in failed  # 5349 stays open


def test_verify_fails_when_a_deny_range_is_removed(lab: Lab) -> None:
    lab.exec(lab.turn, "cp", "-p", "/etc/turnserver.conf", "/root/turnserver.conf.h5")
    lab.exec(lab.turn, "sed", "-i", "/^denied-peer-ip=10\\.0\\.0\\.0-/d", "/etc/turnserver.conf")
    lab.exec(lab.turn, "systemctl", "restart", "coturn")
    try:
        run = talkdeploy("verify", "-i", str(lab.inventory))
    finally:
        lab.exec(lab.turn, "cp", "-p", "/root/turnserver.conf.h5", "/etc/turnserver.conf")
        lab.exec(lab.turn, "systemctl", "restart", "coturn")
    assert run.code == 2
    assert failed_checks(run) == [f"{lab.turn}: relay to 10.0.0.1 refused"]
    detail = next(
        c["detail"] for c in run.data["checks"] if c["name"] == "relay to 10.0.0.1 refused"
    )
    assert "OPEN RELAY" in detail
