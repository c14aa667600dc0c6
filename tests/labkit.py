"""The deployed lab that container tests share, and the helpers to drive it through the CLI.

One lab (talkdeploy.lab: a TURN container with real coturn and nftables, a Nextcloud
container with the occ EMULATOR, a client with turnutils_uclient) is started and applied
once per pytest session by the `deployed_lab` fixture (tests/conftest.py). Every test that
breaks something on it restores it before it ends, so tests in any module can share it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Lab:
    name: str
    inventory: Path
    turn: str
    nextcloud: str
    client: str
    directory: Path | None = None  # what `lab up` was given (inventory, .tls/)
    first_apply: Run | None = field(default=None, repr=False)  # the apply that deployed it

    def exec(self, container: str, *argv: str, user: str | None = None) -> str:
        cmd = ["docker", "exec", *(["-u", user] if user else []), container, *argv]
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    def secret(self) -> str:
        conf = self.exec(self.turn, "cat", "/etc/turnserver.conf")
        (line,) = [x for x in conf.splitlines() if x.startswith("static-auth-secret=")]
        return line.partition("=")[2]

    def occ(self, *argv: str) -> str:
        return self.exec(
            self.nextcloud, "php", "/var/www/nextcloud/occ", *argv, "--no-warnings",
            user="www-data",
        )  # fmt: skip


@dataclass
class Run:
    code: int
    data: dict[str, Any]
    stdout: str
    stderr: str


def talkdeploy(*argv: str) -> Run:
    env = {**os.environ, "NO_COLOR": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "talkdeploy", "--output", "json", *argv],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env=env,
    )
    try:
        data = json.loads(run.stdout)
    except json.JSONDecodeError:
        data = {}
    return Run(run.returncode, data, run.stdout, run.stderr)


def failed_checks(run: Run) -> list[str]:
    return [f"{c['host']}: {c['name']}" for c in run.data.get("checks", []) if not c["ok"]]


def assert_secret_hidden(lab: Lab, *runs: Run) -> None:
    secret = lab.secret()
    for run in runs:
        assert secret not in run.stdout
        assert secret not in run.stderr
