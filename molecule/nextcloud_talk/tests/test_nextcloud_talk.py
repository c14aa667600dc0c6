"""roles/nextcloud_talk against a TURN server and the occ EMULATOR (not a real Nextcloud).

The Nextcloud host runs molecule/shared/occ_emulator/occ, a stand-in that copies the real
occ's arguments, output and state semantics (see its header and tests/test_occ_emulator.py).
Every read here goes through that occ, as the web user, exactly as an admin would check it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import testinfra

testinfra_hosts = ["talk-nc-d12"]

TURN_HOST = "talk-turn-d12"
NEXTCLOUD_ROOT = "/var/www/nextcloud"
OCC = f"runuser -u www-data -- php {NEXTCLOUD_ROOT}/occ --no-warnings"
STATE_FILE = f"{NEXTCLOUD_ROOT}/data/talkdeploy-emulator-state.json"
SCENARIO_DIR = Path(__file__).resolve().parent.parent
VERIFY_PLAYBOOK = SCENARIO_DIR.parents[1] / "playbooks" / "verify.yml"
# The apps Talk federation needs, `federation` for the trusted-servers limit (docs/facts.md).
FEDERATION_APPS = ("cloud_federation_api", "federatedfilesharing", "federation")
PARTNER_TURN = {
    "schemes": "turn",
    "server": "turn.partner.example:3478",
    "secret": "partner-secret",
    "protocols": "udp",
}


def occ_json(host: Any, *args: str) -> Any:
    result = host.run(f"{OCC} {' '.join(args)} --output=json")
    assert result.rc == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def talk_config(host: Any) -> dict[str, Any]:
    values: dict[str, Any] = occ_json(host, "config:list", "spreed", "--private")["apps"]["spreed"]
    return values


def turn_host() -> Any:
    return testinfra.get_host(
        f"ansible://{TURN_HOST}", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"]
    )


def turn_server_conf() -> dict[str, str]:
    """listening-port and static-auth-secret from the TURN host's real /etc/turnserver.conf."""
    content = turn_host().file("/etc/turnserver.conf").content_string
    options: dict[str, str] = {}
    for key, value in re.findall(r"^([a-z-]+)=(.*)$", content, re.MULTILINE):
        options.setdefault(key, value.strip())  # the first static-auth-secret is the current one
    return {
        "listening-port": options.get("listening-port", "3478"),
        "static-auth-secret": options["static-auth-secret"],
    }


def run_converge(
    *extra_vars: str, options: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run the scenario's converge playbook again, with -v and --diff, capturing all output.

    Each extra var is passed with -e (key=value, or JSON when a value has spaces or lists).
    """
    command = ["ansible-playbook", "-v", "--diff", "-i", os.environ["MOLECULE_INVENTORY_FILE"]]
    command += options
    for extra in extra_vars:
        command += ["-e", extra]
    command.append(str(SCENARIO_DIR / "converge.yml"))
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)


def journal_cursor(host: Any) -> str:
    """The Nextcloud host's journal position now (journalctl --show-cursor)."""
    shown = host.check_output("journalctl --no-pager --quiet --show-cursor -n 1 -o cat")
    match = re.search(r"^-- cursor: (\S+)$", shown, re.MULTILINE)
    assert match, shown
    return match.group(1)


def journal(host: Any, after_cursor: str | None = None) -> str:
    """The Nextcloud host's journal (after a cursor), where sudo logs each command line."""
    host.check_output("journalctl --sync")
    after = f"--after-cursor='{after_cursor}'" if after_cursor else ""
    text: str = host.check_output(f"journalctl --no-pager --quiet -o cat {after}")
    return text


def recap_changed(output: str, hostname: str) -> int:
    match = re.search(rf"^{re.escape(hostname)}\s*:.*changed=(\d+)", output, re.MULTILINE)
    assert match, output[-3000:]
    return int(match.group(1))


def test_host_runs_the_occ_emulator_not_nextcloud(host: Any) -> None:
    assert host.file(f"{NEXTCLOUD_ROOT}/talkdeploy-emulator").exists
    assert host.file(f"{NEXTCLOUD_ROOT}/config/config.php").user == "www-data"


def test_spreed_is_installed_and_enabled(host: Any) -> None:
    apps = occ_json(host, "app:list")
    assert "spreed" in apps["enabled"]
    assert "spreed" not in apps["disabled"]


def test_stun_list_is_the_turn_server_and_the_partner_without_the_default(host: Any) -> None:
    conf = turn_server_conf()
    stun = json.loads(talk_config(host)["stun_servers"])
    # talk_keep_default_stun: false drops stun.nextcloud.com:443; the stale talk-turn-d12:9999
    # seeded by prepare.yml is talkdeploy's and goes; the partner's entry is not and stays.
    assert stun == [f"{TURN_HOST}:{conf['listening-port']}", "stun.partner.example:3478"]


def test_turn_list_holds_the_turn_hosts_real_secret_and_keeps_foreign_entries(host: Any) -> None:
    conf = turn_server_conf()
    turn = json.loads(talk_config(host)["turn_servers"])
    assert turn == [
        {
            "schemes": "turn",
            "server": f"{TURN_HOST}:{conf['listening-port']}",
            "secret": conf["static-auth-secret"],
            "protocols": "udp,tcp",
        },
        PARTNER_TURN,
    ]
    # The key order Talk itself writes (spreed lib/Command/Turn/Add.php).
    raw = talk_config(host)["turn_servers"]
    assert raw.index('"schemes"') < raw.index('"server"') < raw.index('"secret"')


def test_signaling_servers_and_federation_are_set(host: Any) -> None:
    config = talk_config(host)
    assert json.loads(config["signaling_servers"]) == {
        "servers": [{"server": "https://signaling.talk-nc-d12.test", "verify": True}],
        "secret": "scenario-signaling-secret-0d7e",
    }
    assert config["federation_enabled"] == "yes"


@pytest.fixture
def restore_inventory_values() -> Any:
    yield
    restored = run_converge()
    assert restored.returncode == 0, restored.stdout[-3000:]


def test_new_port_and_secret_reach_talk_and_the_secret_is_never_printed_nor_logged(
    host: Any, restore_inventory_values: Any
) -> None:
    new_secret = hashlib.sha256(os.urandom(16)).hexdigest()
    cursor = journal_cursor(host)
    result = run_converge(f"coturn_static_auth_secret={new_secret}", "coturn_listening_port=3479")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert recap_changed(output, "talk-nc-d12") >= 1
    turn = json.loads(talk_config(host)["turn_servers"])
    assert turn[0] == {
        "schemes": "turn",
        "server": f"{TURN_HOST}:3479",
        "secret": new_secret,
        "protocols": "udp,tcp",
    }
    assert turn[1:] == [PARTNER_TURN]
    assert json.loads(talk_config(host)["stun_servers"])[0] == f"{TURN_HOST}:3479"
    assert turn_server_conf()["static-auth-secret"] == new_secret
    # The run changed the secret, so every task that could print it ran: none did. (Booleans
    # first, so that a failure does not print the secret.)
    printed = [secret in output for secret in (new_secret, "scenario-signaling-secret-0d7e")]
    assert printed == [False, False], "a secret is in ansible-playbook's output"
    # sudo (the bare preset) logs every command line it runs to the journal, the occ calls of
    # this run included; none holds a secret: the write is `occ config:import`, reading stdin.
    logged = journal(host, cursor)
    occ_lines = re.findall(r"COMMAND=\S*php \S*/occ (\S+)", logged)
    assert "config:list" in occ_lines, "sudo logged no occ command line: the check proves nothing"
    in_journal = [new_secret in logged, "scenario-signaling-secret-0d7e" in journal(host)]
    assert in_journal == [False, False], "a secret is in the journal (sudo logs command lines)"
    assert occ_lines.count("config:import") == 1, occ_lines


def test_disabled_talk_is_enabled_through_an_explicit_occ_command(host: Any) -> None:
    disabled = host.run(f"{OCC} app:disable spreed")
    assert disabled.rc == 0, disabled.stdout
    occ = {"talk_occ_command": f"runuser -u www-data -- php {NEXTCLOUD_ROOT}/occ"}
    # snap's preset, /snap/bin/nextcloud.occ, does not exist here: success means the override ran
    result = run_converge(json.dumps({**occ, "talk_nextcloud_install": "snap"}))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert recap_changed(output, "talk-nc-d12") == 1  # app:enable, nothing else
    assert "spreed" in occ_json(host, "app:list")["enabled"]


def test_invalid_stun_servers_fail_with_messages_naming_the_variable(host: Any) -> None:
    before = host.file(STATE_FILE).sha256sum
    bad = ["turn:talk-turn-d12:443", "https://talk-turn-d12:443", "talk-turn-d12"]
    result = run_converge(json.dumps({"talk_stun_servers": bad}), options=("-l", "talk-nc-d12"))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for entry in bad:
        assert f"talk_stun_servers has '{entry}'" in output
    assert host.file(STATE_FILE).sha256sum == before


def test_talk_refused_protocol_spelling_fails_naming_the_variable(host: Any) -> None:
    result = run_converge("talk_turn_protocols=tcp,udp", options=("-l", "talk-nc-d12"))
    assert result.returncode != 0
    assert "talk_turn_protocols" in result.stdout + result.stderr


@pytest.fixture
def federation_defaults_restored() -> Iterator[None]:
    yield
    defaults = {
        "talk_federation_incoming_enabled": True,
        "talk_federation_outgoing_enabled": True,
        "talk_federation_only_trusted_servers": False,
        "talk_federation_allowed_groups": [],
    }
    restored = run_converge(json.dumps(defaults))
    assert restored.returncode == 0, restored.stdout[-3000:]


def test_federation_enables_the_apps_it_needs_and_sets_its_limits(
    host: Any, federation_defaults_restored: None
) -> None:
    for app in ("federatedfilesharing", "federation"):
        disabled = host.run(f"{OCC} app:disable {app}")
        assert disabled.rc == 0, disabled.stdout
    wanted = json.dumps(
        {
            "talk_federation_only_trusted_servers": True,
            "talk_federation_outgoing_enabled": False,
            "talk_federation_allowed_groups": ["staff"],
        }
    )
    result = run_converge(wanted)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    enabled = occ_json(host, "app:list")["enabled"]
    assert [app for app in FEDERATION_APPS if app not in enabled] == []
    config = talk_config(host)
    stored = [
        config.get(key)
        for key in ("federation_only_trusted_servers", "federation_outgoing_enabled")
    ]
    assert stored == ["1", "0"]
    assert json.loads(config["federation_allowed_groups"]) == ["staff"]
    # Nextcloud 32 cannot list trusted servers through occ: the role says it could not check.
    assert "could not read the trusted servers" in output
    assert "cannot be moderators" in output  # the limits warning (not acknowledged here)
    again = run_converge(wanted)
    assert again.returncode == 0, again.stdout[-3000:]
    assert recap_changed(again.stdout, "talk-nc-d12") == 0


def conversation_rooms(host: Any) -> dict[str, Any]:
    """The conversations the emulator keeps (Nextcloud keeps them in its database)."""
    state = json.loads(host.file(STATE_FILE).content_string)
    return dict(state.get("rooms") or {})


def run_conversation_check(
    report_dir: Path, user: str, peer: str = ""
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """playbooks/verify.yml's conversation play, as `talkdeploy verify --talk-conversation`
    runs it (only its tag, a private report directory), and the steps the host reported."""
    variables = {
        "talkdeploy_report_dir": str(report_dir),
        "talkdeploy_conversation_user": user,
        "talkdeploy_conversation_peer": peer,
    }
    command = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"]]
    command += ["--tags", "talk_conversation", "-e", json.dumps(variables), str(VERIFY_PLAYBOOK)]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    report = report_dir / "conversation-talk-nc-d12.json"
    steps = json.loads(report.read_text())["steps"] if report.exists() else []
    return result, steps


def test_conversation_check_creates_reads_back_and_deletes_a_conversation(
    host: Any, tmp_path: Path
) -> None:
    before = conversation_rooms(host)
    result, steps = run_conversation_check(tmp_path, "admin", "alice")
    assert result.returncode == 0, result.stdout[-3000:]
    assert [(s["name"], s["ok"]) for s in steps] == [
        ("conversation created", True),
        ("conversation peer added", True),
        ("conversation read back", True),
        ("conversation deleted", True),
    ]
    assert steps[2]["detail"] == "2 attendee(s), as expected"
    assert conversation_rooms(host) == before


def test_conversation_check_with_an_unknown_peer_fails_and_leaves_nothing_behind(
    host: Any, tmp_path: Path
) -> None:
    before = conversation_rooms(host)
    result, steps = run_conversation_check(tmp_path, "admin", "nobody")
    assert result.returncode == 2, result.stdout[-3000:]
    failed = {s["name"]: s["detail"] for s in steps if not s["ok"]}
    assert "User 'nobody' not found." in failed["conversation peer added"]
    assert set(failed) == {"conversation peer added", "conversation read back"}
    assert conversation_rooms(host) == before  # deleted all the same


@pytest.fixture(scope="module")
def stun_drift() -> Iterator[str]:
    """Talk's STUN list changed behind talkdeploy's back (the TURN host's entry got a wrong
    port); a normal run puts it back and keeps the partner's entry."""
    host = testinfra.get_host(
        "ansible://talk-nc-d12", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"]
    )
    drifted = json.dumps(["stun.partner.example:3478", f"{TURN_HOST}:1"])
    drift = host.run(f"{OCC} config:app:set spreed stun_servers --value='{drifted}'")
    assert drift.rc == 0, drift.stdout
    yield drifted
    host.run(f"{OCC} maintenance:mode --off")
    restored = run_converge()
    assert restored.returncode == 0, restored.stdout[-3000:]
    assert recap_changed(restored.stdout, "talk-nc-d12") == 1  # the STUN list only
    stun = json.loads(talk_config(host)["stun_servers"])
    assert stun == [
        f"{TURN_HOST}:{turn_server_conf()['listening-port']}",
        "stun.partner.example:3478",
    ]


def test_maintenance_mode_fails_the_role_before_any_change(host: Any, stun_drift: str) -> None:
    on = host.run(f"{OCC} maintenance:mode --on")
    assert on.rc == 0, on.stdout
    try:
        before = host.file(STATE_FILE).sha256sum
        result = run_converge()
        output = result.stdout + result.stderr
        assert result.returncode != 0
        assert "maintenance mode" in output
        assert "nothing was changed" in output
        assert recap_changed(output, "talk-nc-d12") == 0
        assert host.file(STATE_FILE).sha256sum == before
        assert talk_config(host)["stun_servers"] == stun_drift
    finally:
        off = host.run(f"{OCC} maintenance:mode --off")
        assert off.rc == 0, off.stdout


def test_check_mode_reports_drift_and_writes_nothing(host: Any, stun_drift: str) -> None:
    before = host.file(STATE_FILE).sha256sum
    result = run_converge(options=("--check",))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert recap_changed(output, "talk-nc-d12") == 1
    assert "Would set stun_servers" in output
    assert host.file(STATE_FILE).sha256sum == before
