"""verify's seconds column: each check's own measurement, never a constant or an average.

No containers. The callback test runs ansible-playbook on the local connection; the probe test
replaces aioice's TURN client with one that answers in-process, so nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from aioice import stun
from inventory_factory import CLOUD, REAL_ROLES, TURN, write_inventory

from talkdeploy.host_reports import (
    TALK_SETTINGS_READ,
    TURN_CONFIG_READ,
    Reports,
    TaskTimes,
    parse_nextcloud,
    parse_turn,
)
from talkdeploy.inventory import load
from talkdeploy.model import build
from talkdeploy.probe import stun_turn
from talkdeploy.probe.stun_turn import TurnTarget, probe_server
from talkdeploy.run_result import RunResult
from talkdeploy.runner import RunOptions, run_playbook
from talkdeploy.verify_checks import read_checks, talk_checks, uclient_checks

CHECKOUT = Path(__file__).resolve().parent.parent
SECRET = "0123456789abcdef" * 4
CLOUD2 = "cloud2.example.org"
ENDPOINT = {"public_name": "turn.example.org", "listening_port": 443, "udp": True, "tcp": True}
# What the comparison itself may add on a slow CI machine, on top of the reads it is given.
SLACK = 0.2


def _result(host: str, task: str, duration: float | None, status: str = "ok") -> dict[str, Any]:
    return {
        "event": "result",
        "host": host,
        "task": task,
        "status": status,
        "msg": "m",
        "duration": duration,
    }


def _run_and_times(*events: dict[str, Any]) -> tuple[RunResult, TaskTimes]:
    """The RunResult and TaskTimes both folded from one event stream, as read_hosts does."""
    run, times = RunResult(returncode=0), TaskTimes()
    for event in events:
        run.apply(event)
        times.add(event)
    return run, times


def _stats(*hosts: str) -> dict[str, Any]:
    return {"event": "stats", "hosts": {host: {"ok": 3} for host in hosts}}


def test_the_tasks_that_time_checks_are_tasks_of_the_verify_playbook() -> None:
    plays = yaml.safe_load((CHECKOUT / "playbooks/verify.yml").read_text(encoding="utf-8"))
    names = {task.get("name") for play in plays for task in play.get("tasks", [])}
    assert {TURN_CONFIG_READ, TALK_SETTINGS_READ} <= names


def test_each_talk_check_shows_the_time_of_its_own_reads(tmp_path: Path) -> None:
    groups: dict[str, dict[str, dict[str, Any] | None]] = {
        "turn_servers": {TURN: None},
        "nextcloud": {CLOUD: None, CLOUD2: None},
    }
    deployment, problems = build(load(write_inventory(tmp_path, groups), roles_dir=REAL_ROLES))
    assert not [p for p in problems if p.severity == "error"], problems
    turn = parse_turn(
        {
            "host": TURN,
            "config_found": True,
            "config": f"static-auth-secret={SECRET}\n",
            "endpoint": ENDPOINT,
        }
    )
    entry = {"server": "turn.example.org:443", "secret": SECRET, "protocols": "udp,tcp"}
    listed = json.dumps({"apps": {"spreed": {"turn_servers": json.dumps([entry])}}})
    talk = {
        h: parse_nextcloud({"host": h, "config_rc": 0, "config": listed}) for h in (CLOUD, CLOUD2)
    }
    run, times = _run_and_times(
        _result(TURN, TURN_CONFIG_READ, 0.4),
        _result(TURN, "Coturn version, service state and listening sockets are read", 7.0),
        _result(CLOUD, TALK_SETTINGS_READ, 1.25),
        _result(CLOUD, "Installed apps are read", 9.0),  # not this check's evidence
        _result(CLOUD2, TALK_SETTINGS_READ, 2.5),
        _stats(TURN, CLOUD, CLOUD2),
    )
    reports = Reports(run, turn={TURN: turn}, nextcloud=talk, times=times)
    checks = {c.host: c for c in talk_checks(deployment, reports)}
    assert checks[CLOUD].ok, checks[CLOUD].detail
    # Talk's read on that host plus coturn's read on the TURN host, plus the comparison.
    assert 0.4 + 1.25 <= checks[CLOUD].seconds < 0.4 + 1.25 + SLACK
    assert 0.4 + 2.5 <= checks[CLOUD2].seconds < 0.4 + 2.5 + SLACK


def test_each_uclient_run_shows_its_own_run_time_on_the_host() -> None:
    run, times = _run_and_times(_stats(CLOUD))
    lost = "1: : Total lost packets 0 (0.000000%), total send dropped 0 (0.000000%)\n"
    runs = [
        {"item": {"host": "turn1"}, "rc": 0, "stdout": lost, "delta": "0:00:01.500000"},
        {"item": {"host": "turn2"}, "rc": 124, "stdout": "", "delta": "0:00:30.012345"},
        # The command never started (the module reports no delta then).
        {"item": {"host": "turn3"}, "rc": 2, "stdout": "", "msg": "Error executing command."},
    ]
    checks = uclient_checks(CLOUD, Reports(run, uclient={CLOUD: runs}, times=times))
    by_target = {c.name.rsplit(" ", 1)[-1]: c for c in checks}
    assert 1.5 <= by_target["turn1"].seconds < 1.5 + SLACK
    assert by_target["turn1"].ok
    assert 30.012 <= by_target["turn2"].seconds < 30.012 + SLACK  # measured, not `timeout 30`
    assert by_target["turn3"].seconds < SLACK
    assert "never started: seconds are the controller's judgement only" in by_target["turn3"].detail


def test_each_failed_read_shows_how_long_that_task_took_on_that_host() -> None:
    run, times = _run_and_times(
        _result(TURN, "Coturn configuration is read", 0.8, "unreachable"),
        _result(CLOUD, TALK_SETTINGS_READ, 0.1),
        _result(CLOUD, "Installed apps are read", 2.2, "failed"),
        {"event": "stats", "hosts": {TURN: {"unreachable": 1}, CLOUD: {"failed": 1}}},
    )
    checks = read_checks(Reports(run, times=times, seconds=99.0))
    assert [(c.host, c.name, c.seconds) for c in checks] == [
        (TURN, "read state (unreachable)", 0.8),
        (CLOUD, "read state (failed)", 2.2),
    ]


def test_ansible_playbook_that_did_not_run_is_timed_as_the_whole_read() -> None:
    run = RunResult(returncode=4)  # no stats: it stopped before any play
    (check,) = read_checks(Reports(run, seconds=3.21))
    assert (check.name, check.seconds) == ("read state", 3.21)


# -- denied peers: one CreatePermission each, each timed on its own -----------------------------

DELAYS = {"127.0.0.1": 0.05, "10.0.0.1": 0.8}  # far apart: a loaded CI machine stays inside
ALLOCATION_DELAY = 1.0  # shared by the denied-peer checks: counted in none of them


class FakeTransport:
    def get_extra_info(self, name: str) -> None:
        return None

    def close(self) -> None:
        pass


class FakeTurnClient:
    """Answers as a guarded coturn would, after the delays above, without a socket."""

    def __init__(self, credentials: tuple[str, str] | None) -> None:
        self.credentials = credentials
        self.transport = FakeTransport()

    @staticmethod
    def _error(method: stun.Method, code: int, reason: str) -> stun.TransactionFailed:
        response = stun.Message(message_method=method, message_class=stun.Class.ERROR)
        response.attributes["ERROR-CODE"] = (code, reason)
        return stun.TransactionFailed(response)

    async def request(self, request: stun.Message) -> tuple[stun.Message, tuple[str, int]]:
        response = stun.Message(
            message_method=stun.Method.BINDING,
            message_class=stun.Class.RESPONSE,
            transaction_id=request.transaction_id,
        )
        response.attributes["XOR-MAPPED-ADDRESS"] = ("127.0.0.1", 40000)
        return response, ("127.0.0.1", 3478)

    async def connect(self) -> tuple[str, int]:
        assert self.credentials is not None
        username, password = self.credentials
        digest = hmac.new(SECRET.encode(), username.encode(), hashlib.sha1).digest()
        if password != base64.b64encode(digest).decode():
            raise self._error(stun.Method.ALLOCATE, 401, "Unauthorized")
        await asyncio.sleep(ALLOCATION_DELAY)
        return ("127.0.0.1", 50000)

    async def request_with_retry(self, request: stun.Message) -> None:
        peer = request.attributes["XOR-PEER-ADDRESS"][0]
        await asyncio.sleep(DELAYS[peer])
        raise self._error(stun.Method.CREATE_PERMISSION, 403, "Forbidden IP")

    async def delete(self) -> None:
        pass


def test_each_denied_peer_shows_its_own_permission_request_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def fake_open(
        ip: str, port: int, transport: str, credentials: tuple[str, str] | None, *args: Any
    ) -> FakeTurnClient:
        return FakeTurnClient(credentials)

    monkeypatch.setattr(stun_turn, "_open", fake_open)
    target = TurnTarget("turn1", "127.0.0.1", "turn.test", 3478, None, udp=True, tcp=False)
    checks = asyncio.run(probe_server(target, SECRET, timeout=5.0, denied_peers=tuple(DELAYS)))
    by_name = {c.name: c for c in checks}
    for peer, delay in DELAYS.items():
        check = by_name[f"relay to {peer} refused"]
        assert check.ok, check.detail
        # Its own CreatePermission, without the allocation the peers share, and no average.
        assert delay <= check.seconds < delay + ALLOCATION_DELAY, (peer, check.seconds)
    assert by_name["turn allocation (udp)"].seconds >= ALLOCATION_DELAY


# -- the callback times each task on each host -------------------------------------------------


def test_the_callback_gives_each_hosts_result_its_own_duration(tmp_path: Path) -> None:
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = tmp_path / "hosts.yml"
    hosts = {"quick": {**local, "nap": 0.05}, "slow": {**local, "nap": 2.0}}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        textwrap.dedent(
            """
            - hosts: all
              gather_facts: false
              tasks:
                - name: Nap
                  ansible.builtin.command: sleep {{ nap }}
                  changed_when: false
                - name: Looped nap
                  ansible.builtin.command: sleep {{ item }}
                  loop: ["{{ nap }}", "{{ nap }}"]
                  changed_when: false
            """
        )
    )
    times = TaskTimes()
    events: list[dict[str, Any]] = []

    def seen(event: dict[str, Any]) -> None:
        events.append(event)
        times.add(event)

    result = run_playbook(
        playbook, RunOptions(inventory=inventory), collections=tmp_path, on_event=seen
    )
    assert result.exit_code == 0, result.log_tail
    results = [e for e in events if e["event"] == "result"]
    assert results and all(isinstance(e["duration"], float) for e in results), results
    # The hosts ran each task side by side (forks): a number per task, as profile_tasks keeps,
    # could not tell them apart. Differences, as starting a module takes its own time.
    # Margins of about a second: module start-up varies on a loaded machine.
    assert times.of("slow", "Nap") >= 2.0
    assert times.of("slow", "Nap") - times.of("quick", "Nap") >= 1.0
    assert times.of("slow", "Looped nap") - times.of("quick", "Looped nap") >= 2.5
