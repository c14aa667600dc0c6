"""Facts a role computes with `set_fact`, evaluated locally from the role's own task files.

The coturn role derives `coturn_endpoint` (tasks/endpoint.yml), its version gates
(tasks/version.yml) and the `coturn_config` dict its template reads (tasks/config.yml)
with Jinja expressions. The CLI does not re-implement them: it loads those very
set_fact tasks and the role's vars/ files with Ansible's DataLoader and evaluates the
expressions with Ansible's Templar, on the same variables the role would see.

    facts = evaluate(role_dir, variables, [("endpoint.yml", "coturn_endpoint")])
    facts["coturn_endpoint"]["tls_listening_port"]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SET_FACT = ("ansible.builtin.set_fact", "set_fact")
# The platform whose vars/ file is loaded (Debian 12 and 13 are the tested platforms).
PLATFORM_VARS = ("Debian.yml",)


class RoleFactError(RuntimeError):
    """A role file the CLI evaluates is missing, or an expression fails."""


def _set_fact_task(
    loader: Any, task_file: Path, fact: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The set_fact arguments and task vars of the task in `task_file` that sets `fact`."""
    if not task_file.is_file():
        raise RoleFactError(f"{task_file} is missing")
    tasks = loader.load_from_file(str(task_file), trusted_as_template=True) or []
    for task in tasks:
        for module in SET_FACT:
            arguments = task.get(module) if isinstance(task, Mapping) else None
            if isinstance(arguments, Mapping) and fact in arguments:
                facts = {k: v for k, v in arguments.items() if k != "cacheable"}
                return facts, dict(task.get("vars") or {})
    raise RoleFactError(f"{task_file} has no set_fact task for {fact}")


def evaluate(
    role_dir: Path,
    variables: Mapping[str, Any],
    facts: Sequence[tuple[str, str]],
) -> dict[str, Any]:
    """`variables` plus the role's vars/ and the facts of each (task file, fact) in order.

    Every fact the located task sets is evaluated (a task may set several, like the
    version gates), and later tasks see the facts of earlier ones, as in a play.
    """
    from ansible.errors import AnsibleError
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    from talkdeploy.inventory import plain

    loader = DataLoader()
    environment: dict[str, Any] = dict(variables)
    for name in (*PLATFORM_VARS, "main.yml"):
        path = role_dir / "vars" / name
        if path.is_file():
            environment.update(loader.load_from_file(str(path), trusted_as_template=True) or {})
    for task_file, fact in facts:
        arguments, task_vars = _set_fact_task(loader, role_dir / "tasks" / task_file, fact)
        templar = Templar(loader=loader, variables={**environment, **task_vars})
        for name, expression in arguments.items():
            try:
                environment[name] = plain(templar.template(expression))
            except AnsibleError as error:
                raise RoleFactError(
                    f"cannot evaluate {name} from {role_dir.name}/tasks/{task_file}: {error}"
                ) from error
    return environment
