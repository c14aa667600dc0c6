"""The runner drives real ansible-playbook runs (local connection, loopback only)."""

from __future__ import annotations

import configparser
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from ansible.module_utils.parsing.convert_bool import boolean
from rich.console import Console

from talkdeploy.errors import ExitCode
from talkdeploy.run_result import Masker, RunResult
from talkdeploy.run_view import PlainLog, ProgressView
from talkdeploy.runner import (
    ANSIBLE_SETTINGS,
    DEFAULT_COLLECTIONS,
    RunOptions,
    ansible_environment,
    run_playbook,
)

CHECKOUT = Path(__file__).resolve().parent.parent

SECRET = "0123456789abcdef-very-secret"


def _inventory(tmp_path: Path, extra: str = "") -> Path:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        textwrap.dedent(
            f"""
            all:
              hosts:
                box:
                  ansible_connection: local
                  ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
                  talk_secret: {SECRET}
            {extra}
            """
        )
    )
    return inventory


def _playbook(tmp_path: Path, tasks: str) -> Path:
    playbook = tmp_path / "play.yml"
    body = textwrap.indent(textwrap.dedent(tasks).strip(), "    ")
    playbook.write_text(f"- hosts: all\n  gather_facts: false\n  tasks:\n{body}\n")
    return playbook


def _run(
    tmp_path: Path, tasks: str, **options: object
) -> tuple[RunResult, list[dict[str, object]]]:
    events: list[dict[str, object]] = []
    result = run_playbook(
        _playbook(tmp_path, tasks),
        RunOptions(inventory=_inventory(tmp_path), **options),  # type: ignore[arg-type]
        collections=tmp_path,
        on_event=events.append,
    )
    return result, events


def test_a_changed_file_is_counted_and_named(tmp_path: Path) -> None:
    target = tmp_path / "out.conf"
    tasks = f"""
    - name: Config file written
      ansible.builtin.copy:
        content: "listening-port=3478\\n"
        dest: "{target}"
        mode: "0640"
    - name: Nothing to do
      ansible.builtin.command: "true"
      changed_when: false
    """
    first, events = _run(tmp_path, tasks)
    assert first.exit_code == ExitCode.SUCCESS
    assert first.hosts["box"].changed == 1
    assert first.hosts["box"].ok == 2
    assert first.hosts["box"].changes == [{"kind": "file", "name": str(target)}]
    assert {"event": "task_start", "task": "Config file written", "handler": False} in events
    again, _ = _run(tmp_path, tasks)
    assert again.hosts["box"].changed == 0
    assert again.hosts["box"].changes == []


def test_check_mode_reports_a_diff_without_changing_the_file(tmp_path: Path) -> None:
    target = tmp_path / "turnserver.conf"
    target.write_text("listening-port=3478\n")
    tasks = f"""
    - name: Config file written
      ansible.builtin.copy:
        content: "listening-port=3479\\nstatic-auth-secret={SECRET}\\n"
        dest: "{target}"
        mode: "0640"
    """
    result, _ = _run(tmp_path, tasks, check=True, diff=True)
    assert result.exit_code == ExitCode.SUCCESS
    assert target.read_text() == "listening-port=3478\n"
    (entry,) = result.diffs
    after = entry["diff"][0]["after"]
    assert "listening-port=3479" in after
    assert "static-auth-secret=********" in after
    assert SECRET not in json.dumps(result.as_dict())


def test_a_secret_never_reaches_the_event_stream(tmp_path: Path) -> None:
    tasks = """
    - name: Secret used with no_log
      ansible.builtin.debug:
        msg: "{{ talk_secret }}"
      no_log: true
    - name: Secret printed by mistake
      ansible.builtin.debug:
        msg: "the secret: {{ talk_secret }}"
    - name: Secret fact set
      ansible.builtin.set_fact:
        other_secret: "{{ talk_secret | reverse }}"
    - name: Fact printed by mistake
      ansible.builtin.fail:
        msg: "value {{ other_secret }} and {{ talk_secret }}"
    """
    result, events = _run(tmp_path, tasks)
    stream = json.dumps(events) + json.dumps(result.as_dict())
    assert SECRET not in stream
    assert SECRET[::-1] not in stream
    assert result.exit_code == ExitCode.HOST_FAILED
    assert result.failures[0]["task"] == "Fact printed by mistake"
    assert "********" in result.failures[0]["msg"]


def test_a_secret_made_on_the_host_is_masked_after_a_no_log_set_fact(tmp_path: Path) -> None:
    tasks = """
    - name: Secret generated on the host
      ansible.builtin.command: python3 -c "print('hostmade' + 'secret' * 4)"
      register: generated
      changed_when: false
      no_log: true
    - name: Effective secret is known
      ansible.builtin.set_fact:
        coturn_static_auth_secret: "{{ generated.stdout }}"
      no_log: true
    - name: Secret printed by mistake
      ansible.builtin.fail:
        msg: "value={{ coturn_static_auth_secret }}"
    """
    result, events = _run(tmp_path, tasks)
    assert "hostmade" + "secret" * 4 not in json.dumps(events)
    assert result.failures[0]["msg"] == "value=********"


def test_the_cli_masks_secrets_it_knows_even_in_unrecognised_shapes(tmp_path: Path) -> None:
    tasks = """
    - name: Secret in an unusual shape
      ansible.builtin.fail:
        msg: "k={{ talk_secret }}"
    """
    events: list[dict[str, object]] = []
    result = run_playbook(
        _playbook(tmp_path, tasks),
        RunOptions(inventory=_inventory(tmp_path)),
        collections=tmp_path,
        on_event=events.append,
        masker=Masker([SECRET]),
    )
    assert SECRET not in json.dumps(events)
    assert result.failures[0]["msg"] == "k=********"


def test_a_failed_host_exits_2(tmp_path: Path) -> None:
    result, _ = _run(tmp_path, "- ansible.builtin.command: 'false'")
    assert result.exit_code == ExitCode.HOST_FAILED
    assert result.hosts["box"].failed == 1


def test_an_unreachable_host_exits_3(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.ini"
    # Port 9 on loopback: nothing listens there, ssh is refused at once.
    inventory.write_text(
        "gone ansible_host=127.0.0.1 ansible_port=9 ansible_connection=ssh "
        "ansible_ssh_common_args='-o ConnectTimeout=3'\n"
    )
    result = run_playbook(
        _playbook(tmp_path, "- ansible.builtin.ping:"),
        RunOptions(inventory=inventory),
        collections=tmp_path,
    )
    assert result.exit_code == ExitCode.UNREACHABLE
    assert result.failures[0]["status"] == "unreachable"


def test_a_broken_playbook_exits_1_with_ansibles_reason(tmp_path: Path) -> None:
    playbook = tmp_path / "play.yml"
    playbook.write_text("- hosts: all\n  tasks:\n    - no_such_module_xyz: {}\n")
    result = run_playbook(
        playbook, RunOptions(inventory=_inventory(tmp_path)), collections=tmp_path
    )
    assert result.exit_code == ExitCode.USER_ERROR
    assert "no_such_module_xyz" in result.log_tail


@pytest.mark.parametrize(
    ("stats", "expected"),
    [
        ({"a": {"failed": 0, "unreachable": 0}}, ExitCode.SUCCESS),
        ({"a": {"failed": 1}, "b": {"unreachable": 1}}, ExitCode.HOST_FAILED),
        ({"a": {"unreachable": 1}}, ExitCode.UNREACHABLE),
    ],
)
def test_exit_code_follows_the_final_stats(stats: dict[str, dict[str, int]], expected: int) -> None:
    result = RunResult(returncode=0)
    result.apply({"event": "stats", "hosts": stats})
    assert result.exit_code == expected


def test_the_live_view_and_the_plain_lines_follow_the_events() -> None:
    import io

    from rich.console import Console

    from talkdeploy.run_view import draw_summary

    events = [
        {"event": "play_start", "name": "TURN", "hosts": ["turn1", "cloud"]},
        {"event": "task_start", "task": "Turnserver.conf is current", "handler": False},
        {"event": "host_task_start", "host": "turn1", "task": "Turnserver.conf is current"},
        {
            "event": "result",
            "host": "turn1",
            "task": "Turnserver.conf is current",
            "status": "changed",
            "changed": True,
            "resource": {"kind": "file", "name": "/etc/turnserver.conf"},
        },
        {"event": "result", "host": "cloud", "task": "x", "status": "unreachable", "msg": "no"},
        {
            "event": "stats",
            "hosts": {"turn1": {"ok": 1, "changed": 1}, "cloud": {"unreachable": 1}},
        },
    ]
    for live in (True, False):
        out = io.StringIO()
        console = Console(file=out, force_terminal=live, width=120)
        with ProgressView(console, live=live) as view:
            for event in events:
                view(event)
        draw_summary(console, view.state)
        text = out.getvalue()
        assert "/etc/turnserver.conf" in text
        assert "cloud" in text
        if not live:
            assert "TASK Turnserver.conf is current" in text
            assert "  changed: turn1 (file: /etc/turnserver.conf)" in text
            assert "  unreachable: cloud - no" in text
    assert view.state.exit_code == ExitCode.UNREACHABLE


# -- the checkout's ansible.cfg reaches every run ------------------------------------------------

# Ansible's own definitions of its settings (which environment variables and ini keys set each),
# for the general settings and the plugins the checkout's ansible.cfg configures; in a child
# process, so that loading plugins leaves this one as it was.
DEFINITIONS = """
import json
from ansible import constants as C
from ansible.plugins.loader import callback_loader, connection_loader, init_plugin_loader
init_plugin_loader()
connection_loader.get("ssh", class_only=True)
callback_loader.get("default", class_only=True)
groups = [C.config.get_configuration_definitions(),
          C.config.get_configuration_definitions("connection", "ssh"),
          C.config.get_configuration_definitions("callback", "default")]
print(json.dumps([{"ini": [[i["section"], i["key"]] for i in d.get("ini") or []],
                   "env": [e["name"] for e in d.get("env") or []],
                   "type": d.get("type")} for group in groups for d in group.values()]))
"""

# What the connection plugins decide, as ansible-playbook would in a run with that environment.
RESOLVED = """
import json
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import connection_loader, init_plugin_loader
init_plugin_loader()
ssh = connection_loader.get("ssh", PlayContext(), None)
local = connection_loader.get("local", PlayContext(), None)
docker = connection_loader.get(
    "community.docker.docker", PlayContext(), None, docker_command="docker"  # no docker CLI needed
)
print(json.dumps({
    "ssh": ssh.is_pipelining_enabled(),
    "local": local.is_pipelining_enabled(),
    "community.docker.docker": docker.is_pipelining_enabled(),
    "ssh host_key_checking": ssh.get_option("host_key_checking"),
}))
"""


def _ask_ansible(script: str, env: dict[str, str], cwd: Path) -> Any:
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=cwd, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


@pytest.fixture
def away_from_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An operator's directory: no ansible.cfg there, in HOME or named by ANSIBLE_CONFIG."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("ANSIBLE_CONFIG", "ANSIBLE_SSH_PIPELINING", *ANSIBLE_SETTINGS):
        monkeypatch.delenv(name, raising=False)
    if Path("/etc/ansible/ansible.cfg").exists():  # Ansible's last place to look, not movable
        pytest.skip("this machine has /etc/ansible/ansible.cfg")
    return tmp_path


def test_the_runner_passes_exactly_what_ansible_cfg_sets(tmp_path: Path) -> None:
    ansible_cfg = configparser.ConfigParser()
    ansible_cfg.read(CHECKOUT / "ansible.cfg")
    definitions = _ask_ansible(DEFINITIONS, dict(os.environ), tmp_path)
    matched = set()
    for section in ansible_cfg.sections():
        for key, value in ansible_cfg.items(section):
            if (section, key) == ("defaults", "collections_path"):
                # the runner builds it: talkdeploy's collection, then Ansible's default places
                assert value.split(":")[1:] == DEFAULT_COLLECTIONS.split(os.pathsep)
                continue
            same = [d for d in definitions if [section, key] in d["ini"]]
            assert same, f"[{section}] {key} is no setting of Ansible's"
            names = {name for d in same for name in d["env"]} & set(ANSIBLE_SETTINGS)
            assert len(names) == 1, f"[{section}] {key}: the runner passes {names or 'nothing'}"
            (name,) = names
            if same[0]["type"] in ("bool", "boolean"):
                assert boolean(ANSIBLE_SETTINGS[name]) == boolean(value), name
            else:
                assert ANSIBLE_SETTINGS[name] == value, name
            matched.add(name)
    assert matched == set(ANSIBLE_SETTINGS), "the runner passes settings ansible.cfg lacks"


def test_a_run_outside_the_checkout_pipelines_on_every_connection_that_can(
    away_from_the_checkout: Path,
) -> None:
    env = ansible_environment(collections=away_from_the_checkout)
    assert env["ANSIBLE_PIPELINING"] == "True"
    resolved = _ask_ansible(RESOLVED, env, away_from_the_checkout)
    assert resolved == {
        "ssh": True,
        "local": True,
        "community.docker.docker": True,
        "ssh host_key_checking": True,
    }


def test_without_the_runners_settings_ansible_would_not_pipeline(
    away_from_the_checkout: Path,
) -> None:
    """The check above can fail: the same question without the runner's environment."""
    resolved = _ask_ansible(RESOLVED, dict(os.environ), away_from_the_checkout)
    assert not any(resolved[name] for name in ("ssh", "local", "community.docker.docker"))


def test_an_operators_own_setting_wins(
    away_from_the_checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANSIBLE_PIPELINING", "False")
    env = ansible_environment(collections=away_from_the_checkout)
    assert env["ANSIBLE_PIPELINING"] == "False"
    resolved = _ask_ansible(RESOLVED, env, away_from_the_checkout)
    assert resolved["ssh"] is resolved["local"] is resolved["community.docker.docker"] is False
    assert resolved["ssh host_key_checking"] is True


def test_an_operators_own_ansible_cfg_key_wins_and_the_rest_still_applies(
    away_from_the_checkout: Path,
) -> None:
    (away_from_the_checkout / "ansible.cfg").write_text("[ssh_connection]\npipelining = false\n")
    env = ansible_environment(collections=away_from_the_checkout)
    assert "ANSIBLE_PIPELINING" not in env  # their file decides
    assert env["ANSIBLE_HOST_KEY_CHECKING"] == "True"
    resolved = _ask_ansible(RESOLVED, env, away_from_the_checkout)
    assert resolved["ssh"] is False


def test_every_setting_names_its_ini_key() -> None:
    from talkdeploy.runner import INI_KEYS

    assert set(INI_KEYS) == set(ANSIBLE_SETTINGS)


# -- plain lines (no terminal) -----------------------------------------------------------------


def _plain_text(events: list[dict[str, Any]]) -> list[str]:
    log = PlainLog()
    return [line for event in events for line in log.lines(event)]


def test_plain_lines_leave_out_a_task_every_host_skipped() -> None:
    def result(task: str, host: str, status: str, **extra: Any) -> dict[str, Any]:
        return {"event": "result", "task": task, "host": host, "status": status, **extra}

    events = [
        {"event": "play_start", "name": "TURN", "hosts": ["turn1", "turn2"]},
        {"event": "task_start", "task": "coturn : Debian packages", "handler": False},
        result("Debian packages", "turn1", "skipped"),
        result("Debian packages", "turn2", "skipped"),
        {"event": "task_start", "task": "coturn : Config written", "handler": False},
        result("Config written", "turn1", "skipped"),
        result("Config written", "turn2", "ok"),
        {"event": "task_start", "task": "coturn : Port open", "handler": False},
        result("Port open", "turn1", "failed", msg="nft: no such table"),
        result("Port open", "turn2", "skipped"),
        {"event": "task_start", "task": "coturn : Restarted", "handler": True},
        result("Restarted", "turn2", "skipped"),
        {"event": "warning", "msg": "no hosts matched"},
    ]
    assert _plain_text(events) == [
        "PLAY TURN",
        "TASK coturn : Config written",
        "  ok: turn2",
        "TASK coturn : Port open",
        "  failed: turn1 - nft: no such table",
        "WARNING no hosts matched",
    ]


def test_a_real_run_shows_no_task_that_was_skipped_everywhere(tmp_path: Path) -> None:
    tasks = """
    - name: Only on another system
      ansible.builtin.command: "false"
      when: false
    - name: Nothing to do
      ansible.builtin.command: "true"
      changed_when: false
    """
    out = io.StringIO()
    with ProgressView(Console(file=out, width=120), live=False) as view:
        run_playbook(
            _playbook(tmp_path, tasks),
            RunOptions(inventory=_inventory(tmp_path)),
            collections=tmp_path,
            on_event=view,
        )
    lines = out.getvalue().splitlines()
    assert "TASK Nothing to do" in lines
    assert "  ok: box" in lines
    assert not [line for line in lines if "Only on another system" in line]


def test_a_roles_warning_reaches_the_plain_lines_the_result_and_its_json() -> None:
    task = "Lock of a run that is gone is taken over (warning)"
    warning = {"event": "result", "task": task, "host": "turn1", "status": "ok",
               "msg": "took over the lock of alice@ws1 (run k3j9): that run is gone"}  # fmt: skip
    quiet = {**warning, "task": "Settings are read", "msg": "All assertions passed"}
    lines = _plain_text([{"event": "task_start", "task": f"run_lock : {task}"}, warning, quiet])
    assert lines[1] == "  ok: turn1 - took over the lock of alice@ws1 (run k3j9): that run is gone"
    assert lines[2] == "  ok: turn1"  # an ordinary task's message stays out
    result = RunResult()
    result.apply(warning)
    result.apply(quiet)
    assert result.as_dict()["warnings"] == [{"host": "turn1", "task": task, "msg": warning["msg"]}]


def test_an_unreachable_result_the_play_ignores_is_no_failure(tmp_path: Path) -> None:
    """A role that tolerates an unreachable host (ignore_unreachable, e.g. nextcloud_talk reading
    a TURN host's secret) leaves the run ok: not an "unreachable" failure, not exit 3."""
    inventory = tmp_path / "hosts.ini"
    # Port 9 on loopback: nothing listens there, ssh is refused at once.
    inventory.write_text(
        "box ansible_connection=local ansible_python_interpreter=" + sys.executable + "\n"
        "gone ansible_host=127.0.0.1 ansible_port=9 ansible_connection=ssh "
        "ansible_ssh_common_args='-o ConnectTimeout=3'\n"
    )
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- hosts: box\n  gather_facts: false\n  tasks:\n"
        "    - name: A host that may be down is asked\n      ansible.builtin.ping:\n"
        "      delegate_to: gone\n      ignore_unreachable: true\n"
    )
    events: list[dict[str, object]] = []
    result = run_playbook(
        playbook, RunOptions(inventory=inventory), collections=tmp_path, on_event=events.append
    )
    assert (result.exit_code, result.failures) == (ExitCode.SUCCESS, [])
    assert [e["status"] for e in events if e.get("event") == "result"] == ["ignored"]
