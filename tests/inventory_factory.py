"""Build small Ansible inventories on disk for the model, rules and CLI tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_ROLES = ROOT / "tests" / "fixtures" / "roles"
REAL_ROLES = ROOT / "roles"
GOOD_SECRET = "0123456789abcdef" * 4  # 64 hex characters
TURN = "turn.example.org"
CLOUD = "cloud.example.org"


def write_inventory(
    directory: Path,
    groups: dict[str, dict[str, dict[str, Any] | None]] | None = None,
    group_vars: dict[str, dict[str, Any]] | None = None,
    host_vars: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """hosts.yml from {group: {host: inline vars}}, plus group_vars/<g>.yml and host_vars/<h>.yml.

    The default is a clean deployment: one TURN server and one Nextcloud host.
    """
    if groups is None:
        groups = {"turn_servers": {TURN: None}, "nextcloud": {CLOUD: None}}
    directory.mkdir(parents=True, exist_ok=True)
    children = {name: {"hosts": hosts} for name, hosts in groups.items()}
    (directory / "hosts.yml").write_text(
        yaml.safe_dump({"all": {"children": children}}, sort_keys=False)
    )
    for kind, values in (("group_vars", group_vars), ("host_vars", host_vars)):
        for name, variables in (values or {}).items():
            path = directory / kind / f"{name}.yml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(variables, sort_keys=False))
    return directory
