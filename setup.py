"""Ship the collection talkdeploy.talk and the CLI templates inside the wheel.

The repository root is the Ansible collection (galaxy.yml, roles/, playbooks/, plugins/, meta/),
because that is where Ansible, ansible-galaxy, molecule and ansible-lint expect it. The wheel
carries a copy as talkdeploy/share/ansible_collections/talkdeploy/talk (and templates/ as
talkdeploy/share/templates), found by talkdeploy.resources. The package version is the
collection's: galaxy.yml is the one place it is written.
"""

import re
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent
COLLECTION_CONTENT = ("galaxy.yml", "README.md", "meta", "roles", "playbooks", "plugins")
NOT_SHIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", ".molecule", ".cache")


def collection_version() -> str:
    text = (ROOT / "galaxy.yml").read_text(encoding="utf-8")
    found = re.search(r"^version:\s*[\"']?([0-9][0-9A-Za-z.+-]*)", text, re.MULTILINE)
    if found is None:
        raise SystemExit("galaxy.yml has no version")
    return found.group(1)


class BuildPyWithAnsibleContent(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout directly
        share = Path(self.build_lib) / "talkdeploy" / "share"
        collection = share / "ansible_collections" / "talkdeploy" / "talk"
        shutil.rmtree(share, ignore_errors=True)
        for name in COLLECTION_CONTENT:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, collection / name, ignore=NOT_SHIPPED)
            else:
                collection.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, collection / name)
        shutil.copytree(ROOT / "templates", share / "templates", ignore=NOT_SHIPPED)


setup(version=collection_version(), cmdclass={"build_py": BuildPyWithAnsibleContent})
