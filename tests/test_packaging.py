"""The wheel carries the Ansible content, so an installed talkdeploy works from any directory."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("talkdeploy-*.whl")
    return built


@pytest.fixture(scope="module")
def installed_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=True)
    pip = [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    # Only click is needed to start the CLI; the full dependency set is exercised elsewhere.
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True)
    subprocess.run([*pip, "click"], check=True)
    return env_dir


def test_wheel_ships_roles_playbooks_and_templates(wheel: Path) -> None:
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    for shared in ("roles", "playbooks", "templates"):
        assert any(n.startswith(f"talkdeploy/share/{shared}/") for n in names), shared


def test_installed_cli_reports_its_version_from_any_directory(
    installed_venv: Path, tmp_path: Path
) -> None:
    run = subprocess.run(
        [str(installed_venv / "bin" / "talkdeploy"), "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.startswith("talkdeploy, version ")


def test_installed_cli_finds_its_ansible_content_inside_the_package(
    installed_venv: Path, tmp_path: Path
) -> None:
    run = subprocess.run(
        [str(installed_venv / "bin" / "talkdeploy"), "--output", "json", "paths"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(run.stdout)
    assert found["layout"] == "installed"
    roles = Path(found["roles"])
    assert roles.is_dir()
    assert str(roles).startswith(str(installed_venv))
    assert Path(found["playbooks"]).is_dir()
    assert Path(found["templates"]).is_dir()
