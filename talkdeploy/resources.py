"""Find the Ansible content talkdeploy runs: the collection talkdeploy.talk and the CLI templates.

The repository root is the collection (galaxy.yml, roles/, playbooks/, plugins/). Ansible finds
a collection only below `<path>/ansible_collections/<namespace>/<name>`, so:

- a source checkout (or editable install) links `.ansible/collections/ansible_collections/
  talkdeploy/talk` to the root (git-ignored, made on first use, also by `make setup`);
- a wheel carries the collection tree as talkdeploy/share/ansible_collections/talkdeploy/talk
  and the CLI's own templates as talkdeploy/share/templates.

`collections_path` is what ANSIBLE_COLLECTIONS_PATH (and sys.path, for the shared Python in
plugins/module_utils) must include.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
NAMESPACE, NAME = "talkdeploy", "talk"
COLLECTION_DIRS = ("roles", "playbooks", "plugins")
LINK = Path(".ansible") / "collections"


class ResourcesMissingError(RuntimeError):
    """Neither an installed share/ directory nor a checkout was found."""


@dataclass(frozen=True)
class Resources:
    root: Path  # the collection's root directory (holds galaxy.yml)
    templates: Path  # the CLI's templates (inventory scaffold for `init`)
    collections_path: Path  # holds ansible_collections/talkdeploy/talk
    layout: str  # "installed" or "checkout"

    @property
    def roles(self) -> Path:
        return self.root / "roles"

    @property
    def playbooks(self) -> Path:
        return self.root / "playbooks"

    def playbook(self, name: str) -> Path:
        return self.playbooks / name


def _complete(root: Path) -> bool:
    return (root / "galaxy.yml").is_file() and all((root / d).is_dir() for d in COLLECTION_DIRS)


def link_checkout(checkout: Path) -> Path:
    """Make `checkout` reachable as the collection talkdeploy.talk; return the collections path."""
    collections = checkout / LINK
    link = collections / "ansible_collections" / NAMESPACE / NAME
    if not link.is_symlink() or link.resolve() != checkout.resolve():
        link.parent.mkdir(parents=True, exist_ok=True)
        temporary = link.with_name(f".{NAME}.{os.getpid()}")
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(os.path.relpath(checkout, link.parent), target_is_directory=True)
        temporary.replace(link)  # atomic, so two CLIs starting at once both see a good link
    return collections


def locate() -> Resources:
    share = _PACKAGE_DIR / "share"
    installed = share / "ansible_collections" / NAMESPACE / NAME
    if _complete(installed):
        return Resources(installed, share / "templates", share, "installed")
    checkout = _PACKAGE_DIR.parent
    if _complete(checkout):
        return Resources(checkout, checkout / "templates", link_checkout(checkout), "checkout")
    raise ResourcesMissingError(
        f"talkdeploy's Ansible collection was found neither in {installed} nor in {checkout}; "
        "reinstall the package (pip install --force-reinstall talkdeploy)"
    )
