"""`talkdeploy apply` stops before Ansible runs: invalid input (1), unreachable hosts (3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from inventory_factory import GOOD_SECRET, write_inventory

ROOT = Path(__file__).resolve().parent.parent


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "talkdeploy", "--output", "json", *argv],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
        stdin=subprocess.DEVNULL,
    )


def test_an_invalid_inventory_exits_1_and_runs_nothing(tmp_path: Path) -> None:
    inventory = write_inventory(
        tmp_path / "inv", group_vars={"turn_servers": {"coturn_listening_port": 70000}}
    )
    run = _cli("apply", "-i", str(inventory), "--yes")
    assert run.returncode == 1, run.stdout + run.stderr
    data = json.loads(run.stdout)
    assert data["stage"] == "validate"
    assert any(p["key"] == "coturn_listening_port" for p in data["problems"])
    assert "PLAY" not in run.stderr  # ansible-playbook never started


def test_without_a_terminal_apply_needs_yes(tmp_path: Path) -> None:
    inventory = write_inventory(
        tmp_path / "inv", group_vars={"turn_servers": {"coturn_static_auth_secret": GOOD_SECRET}}
    )
    run = _cli("apply", "-i", str(inventory))
    assert run.returncode == 1
    assert "--yes" in run.stderr


def test_every_unreachable_host_is_reported_before_the_playbook_starts(tmp_path: Path) -> None:
    # Loopback ports nothing listens on: refused at once, no traffic leaves the machine.
    inventory = write_inventory(
        tmp_path / "inv",
        groups={
            "turn_servers": {"turn.example.org": {"ansible_host": "127.0.0.1", "ansible_port": 9}},
            "nextcloud": {"cloud.example.org": {"ansible_host": "127.0.0.1", "ansible_port": 7}},
        },
        group_vars={"turn_servers": {"coturn_static_auth_secret": GOOD_SECRET}},
    )
    run = _cli("apply", "-i", str(inventory), "--yes", "--connection", "paramiko")
    assert run.returncode == 3, run.stdout + run.stderr
    data = json.loads(run.stdout)
    assert data["stage"] == "preflight"
    reasons = {r["host"]: r["reason"] for r in data["preflight"]}
    assert reasons == {"turn.example.org": "refused", "cloud.example.org": "refused"}
    assert GOOD_SECRET not in run.stdout + run.stderr
