"""The wheel carries the collection talkdeploy.talk, so an installed talkdeploy works anywhere."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COLLECTION = "talkdeploy/share/ansible_collections/talkdeploy/talk"


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


def test_wheel_ships_the_collection_and_the_templates(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert f"{COLLECTION}/galaxy.yml" in names
    assert f"{COLLECTION}/meta/runtime.yml" in names
    for shared in ("roles", "playbooks", "plugins"):
        assert any(n.startswith(f"{COLLECTION}/{shared}/") for n in names), shared
    assert any(n.startswith("talkdeploy/share/templates/") for n in names)
    assert not [n for n in names if "__pycache__" in n and n.startswith(COLLECTION)]
    assert not [n for n in names if n.startswith(("tests/", "molecule/", "talkdeploy/share/roles"))]


def test_installed_cli_reports_the_collection_version_from_any_directory(
    installed_venv: Path, tmp_path: Path
) -> None:
    run = subprocess.run(
        [str(installed_venv / "bin" / "talkdeploy"), "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))["version"]
    assert run.stdout.strip() == f"talkdeploy, version {version}"


def test_installed_cli_reports_the_installed_collection(
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
    collection = Path(found["collection"])
    assert collection.is_relative_to(installed_venv), "the checkout was used"
    # Ansible finds it as talkdeploy.talk below the reported collections path.
    assert Path(found["collections_path"]) / "ansible_collections/talkdeploy/talk" == collection
    assert (collection / "galaxy.yml").is_file()
    assert Path(found["roles"]) == collection / "roles"
    assert (collection / "roles" / "coturn" / "meta" / "argument_specs.yml").is_file()
    assert Path(found["playbooks"]) == collection / "playbooks"
    assert (collection / "playbooks" / "site.yml").is_file()
    assert (collection / "plugins").is_dir()
    templates = Path(found["templates"])
    assert templates.is_relative_to(installed_venv)
    assert templates.is_dir()
