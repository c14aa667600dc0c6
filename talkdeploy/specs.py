"""The roles' own variable specs, read from roles/*/meta/argument_specs.yml.

The CLI's model never lists role variables itself: the names, types, choices and
documented defaults all come from the argument specs the roles ship, and the real
defaults from each role's defaults/main.yml. The values themselves are checked by the
collection's plugins/module_utils (the code each role runs as its first task).

    specs = load_role_specs()                      # {"coturn": RoleSpec, ...}
    spec = variable_specs(specs)["coturn_min_port"]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# Which role owns a variable is told by its prefix (DESIGN.md: role variables are prefixed by role).
ROLE_PREFIXES: dict[str, str] = {
    "coturn_": "coturn",
    "firewall_": "firewall",
    "talk_": "nextcloud_talk",
}
# The inventory group whose hosts run each role (playbooks/site.yml).
ROLE_GROUPS: dict[str, str] = {
    "coturn": "turn_servers",
    "firewall": "turn_servers",
    "nextcloud_talk": "nextcloud",
}


class SpecError(RuntimeError):
    """A role's argument_specs.yml or defaults/main.yml cannot be read."""


@dataclass(frozen=True)
class VariableSpec:
    """One role variable as meta/argument_specs.yml declares it."""

    name: str
    role: str
    type: str
    description: str
    choices: tuple[Any, ...] | None
    required: bool
    documented_default: Any
    # The spec entry exactly as written, handed to Ansible's validator unchanged.
    ansible_spec: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class RoleSpec:
    name: str
    path: Path
    variables: Mapping[str, VariableSpec]
    # defaults/main.yml as written (Jinja expressions unrendered); what Ansible really uses.
    defaults: Mapping[str, Any]

    @property
    def defaults_file(self) -> Path:
        return self.path / "defaults" / "main.yml"


def role_for(variable: str) -> str | None:
    """The role a variable belongs to by its prefix, or None for a foreign variable."""
    for prefix, role in ROLE_PREFIXES.items():
        if variable.startswith(prefix):
            return role
    return None


def _description(entry: Mapping[str, Any]) -> str:
    text = entry.get("description", "")
    if isinstance(text, list):
        return " ".join(str(line) for line in text)
    return str(text)


def read_role_spec(role_dir: Path) -> RoleSpec:
    """Read one role: the union of the options of every entry point, plus its defaults."""
    spec_file = role_dir / "meta" / "argument_specs.yml"
    try:
        document = yaml.safe_load(spec_file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise SpecError(f"cannot read {spec_file}: {error}") from error
    entry_points = document.get("argument_specs") or {}
    if not isinstance(entry_points, Mapping):
        raise SpecError(f"{spec_file}: argument_specs must be a mapping of entry points")
    variables: dict[str, VariableSpec] = {}
    for entry_point in entry_points.values():
        for name, entry in ((entry_point or {}).get("options") or {}).items():
            if name in variables:
                continue  # entry points share variables; the first declaration wins
            entry = dict(entry or {})
            choices = entry.get("choices")
            variables[name] = VariableSpec(
                name=name,
                role=role_dir.name,
                type=str(entry.get("type", "str")),
                description=_description(entry),
                choices=tuple(choices) if choices is not None else None,
                required=bool(entry.get("required", False)),
                documented_default=entry.get("default"),
                ansible_spec=entry,
            )
    defaults_file = role_dir / "defaults" / "main.yml"
    defaults: Mapping[str, Any] = {}
    if defaults_file.is_file():
        try:
            defaults = yaml.safe_load(defaults_file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise SpecError(f"cannot read {defaults_file}: {error}") from error
    return RoleSpec(role_dir.name, role_dir, variables, defaults)


def load_role_specs(roles_dir: Path | None = None) -> dict[str, RoleSpec]:
    """Every role under `roles_dir` (default: the roles talkdeploy ships) that has a spec."""
    if roles_dir is None:
        from talkdeploy.resources import locate

        roles_dir = locate().roles
    found: dict[str, RoleSpec] = {}
    for spec_file in sorted(roles_dir.glob("*/meta/argument_specs.yml")):
        role_dir = spec_file.parent.parent
        found[role_dir.name] = read_role_spec(role_dir)
    return found


def variable_specs(specs: Mapping[str, RoleSpec]) -> dict[str, VariableSpec]:
    """All variables of all roles by name."""
    merged: dict[str, VariableSpec] = {}
    for role in specs.values():
        merged.update(role.variables)
    return merged
