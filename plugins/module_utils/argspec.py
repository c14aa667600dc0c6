"""Types and choices, as the roles declare them in meta/argument_specs.yml.

Ansible validates a role's variables against its argument spec before the role's first task
(ansible-core lib/ansible/playbook/role/__init__.py, `_prepend_validation_task`). The shared
checks run the same validator (ansible.module_utils.common.arg_spec.ArgumentSpecValidator) on
the same spec, so a type error reads the same from the CLI and from the role.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

COLLECTION_ROOT = Path(__file__).resolve().parents[2]


@cache
def role_options(role: str) -> dict[str, dict[str, Any]]:
    """Every option of every entry point of a role's argument spec (first declaration wins)."""
    import yaml

    spec_file = COLLECTION_ROOT / "roles" / role / "meta" / "argument_specs.yml"
    document = yaml.safe_load(spec_file.read_text(encoding="utf-8")) or {}
    options: dict[str, dict[str, Any]] = {}
    for entry_point in (document.get("argument_specs") or {}).values():
        for name, entry in ((entry_point or {}).get("options") or {}).items():
            options.setdefault(name, dict(entry or {}))
    return options


def type_errors(role: str, name: str, value: Any) -> list[str]:
    """Ansible's verdict on one value: [] when its type and choices are accepted."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    entry = role_options(role).get(name)
    if entry is None:
        return []
    entry = {key: val for key, val in entry.items() if key not in ("required", "description")}
    result = ArgumentSpecValidator({name: entry}).validate({name: value})
    return [str(getattr(error, "error_message", error)) for error in result.errors]


def is_secret(role: str, name: str) -> bool:
    """Secrets are never quoted: named *secret*, or declared no_log in the spec."""
    return "secret" in name or bool(role_options(role).get(name, {}).get("no_log"))
