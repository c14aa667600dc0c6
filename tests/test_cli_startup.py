"""`talkdeploy --help` is instant: it imports neither Ansible nor the heavy libraries.

What is imported is asserted, not how long it takes: a wall-clock bound fails on a busy
machine whatever the code does. Commands are registered by importing their modules
(cli.py), so each command module must keep its heavy imports inside functions.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("ansible", "aioice", "docker", "paramiko", "jinja2", "rich", "pydantic", "yaml")


def test_help_imports_no_heavy_library() -> None:
    script = (
        "import sys\n"
        "from talkdeploy.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert "Commands:" in run.stdout  # the help was really printed
    assert "HEAVY=\n" in run.stdout, run.stdout.splitlines()[-1]


def test_import_time_of_ansible_is_absent() -> None:
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "talkdeploy", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = [line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines()]
    assert "talkdeploy.cli" in imported
    assert not [name for name in imported if name.split(".")[0] == "ansible"]
