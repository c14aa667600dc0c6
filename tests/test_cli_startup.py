"""`talkdeploy --help` is instant: it imports neither Ansible nor the heavy libraries."""

from __future__ import annotations

import subprocess
import sys
import time

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


def test_help_starts_fast() -> None:
    best = min(_wall_time() for _ in range(3))
    # Python itself starts in ~20 ms; importing Ansible alone takes ~300 ms.
    assert best < 0.6, f"talkdeploy --help took {best:.2f} s"


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


def _wall_time() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "talkdeploy", "--help"], capture_output=True, check=True)
    return time.perf_counter() - start
