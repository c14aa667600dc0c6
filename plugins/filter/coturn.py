"""Filters of the coturn role: what it computes from its checked settings.

The functions live in plugins/module_utils/coturn.py, where the talkdeploy CLI imports them too
(render, plan), so the role and the CLI write the same turnserver.conf.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleError
from ansible_collections.talkdeploy.talk.plugins.module_utils import coturn
from ansible_collections.talkdeploy.talk.plugins.module_utils.argspec import is_secret
from ansible_collections.talkdeploy.talk.plugins.module_utils.plain import plain

# The coturn role's defaults, next to this plugin in the collection (roles/coturn/defaults).
COTURN_DEFAULTS = Path(__file__).resolve().parents[2] / "roles" / "coturn" / "defaults" / "main.yml"


def coturn_config(settings: Any, version: Any, secrets: Any) -> dict[str, Any]:
    return coturn.config(plain(settings), str(version), plain(secrets))


def coturn_endpoint(settings: Any) -> dict[str, Any]:
    return coturn.endpoint(plain(settings))


def _defined(value: Any) -> Any:
    """`value`, or AnsibleUndefinedVariable when it is or holds an undefined value (inside a
    filter, ansible-core 2.19 returns those as markers, jinja2 Undefined subclasses, instead of
    raising: lib/ansible/_internal/_templating/_jinja_common.py, Marker)."""
    from ansible.errors import AnsibleUndefinedVariable
    from jinja2 import Undefined

    if isinstance(value, Undefined):
        raise AnsibleUndefinedVariable("a value it uses is undefined")
    if isinstance(value, Mapping):
        for item in value.values():
            _defined(item)
    elif isinstance(value, list):
        for item in value:
            _defined(item)
    return value


def coturn_host_endpoint(host_variables: Any, host: Any) -> dict[str, Any]:
    """coturn_endpoint of a TURN host that is not in the play (`--limit nextcloud`), as
    {"endpoint": {...} | None, "errors": ["<message>. Fix: <fix>", ...]}.

    What roles/coturn/tasks/endpoint.yml computes when the role runs on `host`: the role's
    defaults (defaults/main.yml, templated for `host` as Ansible does: a default such as
    coturn_public_name: "{{ inventory_hostname }}" becomes the host's name) under the host's
    own values (`hostvars[host]`: inventory, facts, extra vars), checked by the same
    coturn.check() the action talkdeploy.talk.check_settings runs, then coturn.endpoint().
    Errors are values (the Talk role reports them with the other TURN servers' problems, in
    one message); secrets are checked but never quoted.
    A delegated task cannot do it: Ansible templates a task's variables for the host of the
    play, not the delegated one (ansible-core 2.19 lib/ansible/executor/task_executor.py,
    TaskExecutor._execute(): only connection, become and shell options are templated with the
    delegated host's `ansible_delegated_vars`).
    """
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    name = str(host)
    variables: Mapping[str, Any] = host_variables
    loader = DataLoader()
    defaults = loader.load_from_file(str(COTURN_DEFAULTS), trusted_as_template=True) or {}
    own: dict[str, Any] = {}
    deferred: list[str] = []
    for key in sorted(coturn.VARIABLES):
        try:
            if key in variables:
                own[key] = _defined(plain(variables[key]))
        except AnsibleError:
            deferred.append(key)  # it may use a coturn default, which hostvars lacks
    # hostvars[host] keeps the host's values untemplated (ansible-core 2.19
    # lib/ansible/vars/hostvars.py, HostVarsVars._vars); a value that needs a coturn default
    # (coturn_realm: "{{ coturn_public_name }}") is templated here, over the defaults.
    raw: Mapping[str, Any] = getattr(variables, "_vars", None) or {}
    templar = Templar(
        loader=loader, variables={**defaults, **raw, **own, "inventory_hostname": name}
    )
    unreadable: list[str] = []
    for key in deferred:
        try:
            own[key] = _defined(plain(templar.template(raw[key])))
        except (AnsibleError, KeyError) as error:
            reason = "template error" if is_secret("coturn", key) else str(error).splitlines()[0]
            unreadable.append(f"{key} cannot be templated: {reason}")
    merged = dict(own)
    for key, value in defaults.items():
        if key in coturn.VARIABLES and key not in own:
            try:
                merged[key] = _defined(plain(templar.template(value)))
            except AnsibleError as error:
                unreadable.append(f"{key} cannot be templated: {str(error).splitlines()[0]}")
    groups = tuple(str(group) for group in (variables.get("group_names") or ()))
    report = coturn.check(merged, coturn.Context(coturn.ssh_port(variables), groups))
    errors = [*unreadable, *(f"{e.message}. Fix: {e.fix}" for e in report.errors)]
    return {"endpoint": None if errors else coturn.endpoint(report.settings), "errors": errors}


def coturn_public_names(host_variables: Any, hosts: Any) -> dict[str, str | None]:
    """Each TURN host's public name (what Talk's entries for it hold), from its coturn_endpoint
    when this run set one, else as coturn_host_endpoint() computes it; None when its settings
    are invalid. `host_variables` is `hostvars`."""
    names: dict[str, str | None] = {}
    for host in hosts:
        variables = host_variables[str(host)]
        if "coturn_endpoint" in variables:
            endpoint = plain(variables["coturn_endpoint"])
        else:
            endpoint = coturn_host_endpoint(variables, host)["endpoint"]
        names[str(host)] = str(endpoint["public_name"]) if endpoint else None
    return names


def coturn_installed_version(package_version: Any) -> str:
    return coturn.installed_version(str(package_version or ""))


def coturn_version_gates(version: Any) -> dict[str, bool]:
    return coturn.version_gates(str(version or ""))


def coturn_tls_copies(tls_dir: Any) -> dict[str, str]:
    return coturn.tls_copies(str(tls_dir))


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "coturn_config": coturn_config,
            "coturn_endpoint": coturn_endpoint,
            "coturn_host_endpoint": coturn_host_endpoint,
            "coturn_public_names": coturn_public_names,
            "coturn_installed_version": coturn_installed_version,
            "coturn_version_gates": coturn_version_gates,
            "coturn_tls_copies": coturn_tls_copies,
        }
