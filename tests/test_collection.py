"""The repository is the collection talkdeploy.talk, and the built tarball stands on its own.

The tarball is built from the checkout, installed into an empty directory, and used from an
empty working directory with no ansible.cfg, ANSIBLE_COLLECTIONS_PATH naming only that
directory and ANSIBLE_ROLES_PATH naming nothing: anything that still needed the checkout
(a role found by path, a file outside the collection) fails here. No container is started.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

import talkdeploy

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# What a collection holds (Ansible's "Collection structure"); FILES.json and MANIFEST.json are
# written by ansible-galaxy; galaxy.yml itself is never packed (MANIFEST.json replaces it).
ALLOWED_TOP = {"FILES.json", "MANIFEST.json", "README.md", "LICENSE", "docs", "meta"}
REQUIRED_TOP = {"roles", "playbooks", "plugins"}
COTURN = "talkdeploy.talk.coturn"
INVENTORY = "[turn_servers]\nturn.example.test\n[nextcloud]\ncloud.example.test\n"


def galaxy() -> dict[str, object]:
    return yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))


def members(tarball: Path) -> list[str]:
    with tarfile.open(tarball) as archive:
        return archive.getnames()


def collection_info(tarball: Path) -> dict[str, object]:
    with tarfile.open(tarball) as archive:
        manifest = archive.extractfile("MANIFEST.json")
        assert manifest is not None
        return json.load(manifest)["collection_info"]


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build")
    subprocess.run(
        [BIN / "ansible-galaxy", "collection", "build", "--output-path", out, ROOT],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    (built,) = out.glob("talkdeploy-talk-*.tar.gz")
    return built


@pytest.fixture(scope="module")
def collections(tarball: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("collections")
    # Isolated too: a copy in ~/.ansible/collections would make this "already installed".
    install = ["collection", "install", "--offline", "-p", str(path), str(tarball)]
    run = isolated(path, tmp_path_factory.mktemp("cwd"), "ansible-galaxy", *install)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (path / "ansible_collections" / "talkdeploy" / "talk" / "MANIFEST.json").is_file()
    return path


def isolated(collections_path: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run an Ansible command from `cwd` that can see nothing but `collections_path`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env |= {
        "ANSIBLE_COLLECTIONS_PATH": str(collections_path),
        "ANSIBLE_ROLES_PATH": "/nonexistent",
        "ANSIBLE_NOCOLOR": "1",
        "HOME": str(cwd),  # no ~/.ansible.cfg, no ~/.ansible/collections
    }
    (cwd / "hosts.ini").write_text(INVENTORY, encoding="utf-8")
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], cwd=cwd, env=env, capture_output=True, text=True
    )


def syntax_check(playbook: str) -> list[str]:
    return ["-i", "hosts.ini", playbook, "--syntax-check"]


def test_tarball_holds_only_collection_content(tarball: Path) -> None:
    names = members(tarball)
    top = {name.split("/")[0] for name in names}
    assert top - ALLOWED_TOP - REQUIRED_TOP == set(), "not collection content"
    assert top >= REQUIRED_TOP
    for role in ("coturn", "firewall", "nextcloud_talk"):
        assert f"roles/{role}/meta/argument_specs.yml" in names
    assert {"playbooks/site.yml", "playbooks/verify.yml", "meta/runtime.yml"} <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_one_version_for_tarball_galaxy_yml_and_python_package(tarball: Path) -> None:
    info = collection_info(tarball)
    assert (info["namespace"], info["name"]) == ("talkdeploy", "talk")
    assert info["version"] == galaxy()["version"]
    assert tarball.name == f"talkdeploy-talk-{info['version']}.tar.gz"
    if talkdeploy.__version__ != "0.0.0+checkout":  # the package is installed
        assert talkdeploy.__version__ == info["version"], "stale install: run `make setup`"


def test_installed_site_playbook_passes_syntax_check_without_the_checkout(
    collections: Path, tmp_path: Path
) -> None:
    for playbook in ("talkdeploy.talk.site", "talkdeploy.talk.verify"):
        run = isolated(collections, tmp_path, "ansible-playbook", *syntax_check(playbook))
        assert run.returncode == 0, run.stdout + run.stderr
        assert str(collections) in run.stdout  # the playbook came from the installed copy


def test_without_the_installed_collection_the_playbook_is_not_found(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    run = isolated(empty, tmp_path, "ansible-playbook", *syntax_check("talkdeploy.talk.site"))
    assert run.returncode != 0, "the collection was found outside the given collections path"


def test_ansible_doc_shows_the_installed_roles_argument_specs(
    collections: Path, tmp_path: Path
) -> None:
    run = isolated(collections, tmp_path, "ansible-doc", "-t", "role", "--json", COTURN)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)[COTURN]
    assert doc["path"].startswith(str(collections))
    options = doc["entry_points"]["main"]["options"]
    assert "coturn_static_auth_secret" in options


def test_execution_environment_context_installs_the_built_collection(
    tarball: Path, tmp_path: Path
) -> None:
    """`ansible-builder create` only writes the build context: no image, no registry."""
    for name in ("execution-environment.yml", "bindep.txt", "requirements-ee.yml"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    staged = tmp_path / ".cache" / "collection" / "talkdeploy-talk.tar.gz"
    staged.parent.mkdir(parents=True)
    staged.write_bytes(tarball.read_bytes())  # what scripts/build-collection.sh leaves there
    create = ["create", "-f", "execution-environment.yml", "-c", "context"]
    run = subprocess.run(
        [BIN / "ansible-builder", *create, "--output-filename", "Containerfile"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    context = tmp_path / "context"
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    assert 'ARG EE_BASE_IMAGE="registry.access.redhat.com/ubi9/ubi:' in containerfile
    assert "COPY _build /build" in containerfile
    assert "ansible-galaxy collection install" in containerfile
    assert "-r requirements.yml" in containerfile
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert {"name": "collections/talkdeploy-talk.tar.gz", "type": "file"} in requirements[
        "collections"
    ]
    copied = context / "_build" / "collections" / "talkdeploy-talk.tar.gz"
    info = collection_info(copied)
    assert (info["namespace"], info["name"]) == ("talkdeploy", "talk")
    assert info["version"] == galaxy()["version"]
    assert "openssh-clients" in (context / "_build" / "bindep.txt").read_text()
