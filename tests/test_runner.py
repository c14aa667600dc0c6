"""The runner drives real ansible-playbook runs (local connection, loopback only)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from talkdeploy.runner import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_UNREACHABLE,
    Masker,
    RunOptions,
    RunResult,
    run_playbook,
)

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
    assert first.exit_code == EXIT_OK
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
    assert result.exit_code == EXIT_OK
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
    assert result.exit_code == EXIT_FAILED
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
    assert result.exit_code == EXIT_FAILED
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
    assert result.exit_code == EXIT_UNREACHABLE
    assert result.failures[0]["status"] == "unreachable"


def test_a_broken_playbook_exits_1_with_ansibles_reason(tmp_path: Path) -> None:
    playbook = tmp_path / "play.yml"
    playbook.write_text("- hosts: all\n  tasks:\n    - no_such_module_xyz: {}\n")
    result = run_playbook(
        playbook, RunOptions(inventory=_inventory(tmp_path)), collections=tmp_path
    )
    assert result.exit_code == EXIT_INVALID
    assert "no_such_module_xyz" in result.log_tail


@pytest.mark.parametrize(
    ("stats", "expected"),
    [
        ({"a": {"failed": 0, "unreachable": 0}}, EXIT_OK),
        ({"a": {"failed": 1}, "b": {"unreachable": 1}}, EXIT_FAILED),
        ({"a": {"unreachable": 1}}, EXIT_UNREACHABLE),
    ],
)
def test_exit_code_follows_the_final_stats(stats: dict[str, dict[str, int]], expected: int) -> None:
    result = RunResult(returncode=0)
    result.apply({"event": "stats", "hosts": stats})
    assert result.exit_code == expected


def test_the_live_view_and_the_plain_lines_follow_the_events() -> None:
    import io

    from rich.console import Console

    from talkdeploy.runner import ProgressView, draw_summary

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
    assert view.state.exit_code == EXIT_UNREACHABLE
