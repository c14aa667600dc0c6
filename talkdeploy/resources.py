"""Find the Ansible content (roles, playbooks, templates) talkdeploy runs.

A wheel carries it as talkdeploy/share/; a source checkout (or an editable
install) has it at the repository root. Both layouts are looked up so that
`talkdeploy apply` works from any directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
SHARED_DIRS = ("roles", "playbooks", "templates")


class ResourcesMissingError(RuntimeError):
    """Neither an installed share/ directory nor a checkout was found."""


@dataclass(frozen=True)
class Resources:
    root: Path
    layout: str  # "installed" or "checkout"

    @property
    def roles(self) -> Path:
        return self.root / "roles"

    @property
    def playbooks(self) -> Path:
        return self.root / "playbooks"

    @property
    def templates(self) -> Path:
        return self.root / "templates"

    def playbook(self, name: str) -> Path:
        return self.playbooks / name

    def role_template(self, role: str, template: str) -> Path:
        return self.roles / role / "templates" / template


def _complete(root: Path) -> bool:
    return all((root / name).is_dir() for name in SHARED_DIRS)


def locate() -> Resources:
    installed = _PACKAGE_DIR / "share"
    if _complete(installed):
        return Resources(installed, "installed")
    checkout = _PACKAGE_DIR.parent
    if _complete(checkout):
        return Resources(checkout, "checkout")
    raise ResourcesMissingError(
        f"talkdeploy's roles, playbooks and templates were found neither in {installed} "
        f"nor in {checkout}; reinstall the package (pip install --force-reinstall talkdeploy)"
    )
