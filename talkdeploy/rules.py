"""Validation of a loaded inventory: the roles' own checks, plus what only the inventory shows.

The checks of each role's variables (types, what each value is, the rules between them, the
relay policy) are not written here: they live in the collection, plugins/module_utils/
{coturn,firewall,talk}.py, where each role runs them as its first task
(talkdeploy.talk.check_settings). `role_findings` runs the same code on the values the role
will see and adds the file that set each key. What stays here needs the inventory as a whole:

- variable rules (`check_variables`), per host: unknown role variables (with a "did you
  mean"), variables for a role the host does not run, values that could not be read;
- deployment rules (`check_deployment`): Talk's TURN entries against the TURN servers, the
  groups, and hints about intent (a TLS port set while TLS stays off).

Every Problem names the file that set the value (or the file to set it in), the key,
what is wrong and how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import talkdeploy.shared
from talkdeploy.inventory import NEXTCLOUD_GROUP, TURN_GROUP, LoadedHost, LoadedInventory
from talkdeploy.problems import Problem, Severity
from talkdeploy.specs import ROLE_GROUPS, role_for, variable_specs

if TYPE_CHECKING:
    from talkdeploy.model import Deployment

talkdeploy.shared.enable()


class Where:
    """Locates a host's variables: the file that set one, or the file to set it in."""

    def __init__(self, inventory: LoadedInventory, host: LoadedHost, group: str) -> None:
        self.inventory = inventory
        self.host = host
        self.group = group

    def __call__(self, key: str) -> str:
        origin = self.host.origins.get(key)
        if origin is not None:
            return origin
        return self.inventory.group_vars_file(self.group)

    def set_by_inventory(self, key: str) -> bool:
        return key in self.host.inventory

    def problem(self, key: str, message: str, fix: str, severity: Severity = "error") -> Problem:
        return Problem(self(key), key, message, fix, severity, self.host.name)


# --------------------------------------------------------------------------- variables


def check_variables(inventory: LoadedInventory, host: LoadedHost) -> list[Problem]:
    """Per-host checks of which variables are set where; their values are the roles' job."""
    specs = variable_specs(inventory.specs)
    where = Where(inventory, host, _main_group(host))
    problems: list[Problem] = []
    known_roles = set(inventory.specs)
    for key in sorted(host.inventory):
        role = role_for(key)
        if role is None:
            continue
        spec = specs.get(key)
        if spec is None:
            if role in known_roles:  # else that role's spec is not available to compare with
                problems.append(_unknown_variable(where, key, specs))
            continue
        group = ROLE_GROUPS.get(spec.role)
        if (
            group is not None
            and not host.in_group(group)
            and not _set_for_all(host.origins.get(key, ""))
        ):
            problems.append(
                where.problem(
                    key,
                    f"{key} belongs to the {spec.role} role, which runs only on the "
                    f"`{group}` group; {host.name} is not in it, so the value has no effect",
                    f"move {key} to group_vars/{group} or add {host.name} to `{group}`",
                    "warning",
                )
            )
    for key, reason in sorted(host.unresolved.items()):
        if role_for(key) is None:
            continue
        problems.append(
            where.problem(
                key,
                f"{key} could not be read: {reason}; it was not checked",
                "pass --vault-password-file (or set ANSIBLE_VAULT_PASSWORD_FILE)"
                if "vault" in reason
                else "make the value a literal or a template of inventory variables only",
                "warning",
            )
        )
    problems.extend(role_findings(host, where))
    problems.extend(tls_port_without_tls(host, where))
    return problems


def _set_for_all(origin: str) -> bool:
    parts = Path(origin.partition(":")[0]).parts
    return any(
        parts[i] == "group_vars" and parts[i + 1].split(".")[0] == "all"
        for i in range(len(parts) - 1)
    )


def _main_group(host: LoadedHost) -> str:
    if host.in_group(TURN_GROUP):
        return TURN_GROUP
    if host.in_group(NEXTCLOUD_GROUP):
        return NEXTCLOUD_GROUP
    return "all"


def _unknown_variable(where: Where, key: str, specs: dict[str, Any]) -> Problem:
    role = role_for(key)
    same_role = [name for name, spec in specs.items() if spec.role == role]
    close = difflib.get_close_matches(key, same_role, n=1, cutoff=0.75)
    if close:
        fix = f"did you mean {close[0]}?"
    else:
        fix = f"remove it, or see roles/{role}/meta/argument_specs.yml for the {role} variables"
    return where.problem(key, f"{key} is not a variable of the {role} role", fix)


# --------------------------------------------------------------------------- shared checks


def role_findings(host: LoadedHost, where: Where) -> Iterator[Problem]:
    """The roles' own checks (plugins/module_utils), for each role this host runs.

    The very code each role runs as its first task, on the values the role will see: what it
    refuses here, the role refuses on the host, with the same words.
    """
    from ansible_collections.talkdeploy.talk.plugins.module_utils import coturn, firewall, talk

    variables = host.variables
    reports = []
    if host.in_group(TURN_GROUP):
        context = coturn.Context(coturn.ssh_port(host.inventory), host.groups)
        reports.append(coturn.check(_known(variables, coturn.VARIABLES), context))
        reports.append(firewall.check(_known(variables, firewall.VARIABLES), host.groups))
    if host.in_group(NEXTCLOUD_GROUP):
        reports.append(talk.check(_known(variables, talk.VARIABLES)))
    for report in reports:
        for finding in report.findings:
            severity: Severity = "warning" if finding.severity == "warning" else "error"
            yield where.problem(finding.key, finding.message, finding.fix, severity)


def _known(variables: dict[str, Any], names: frozenset[str]) -> dict[str, Any]:
    return {key: value for key, value in variables.items() if key in names}


def tls_port_without_tls(host: LoadedHost, where: Where) -> Iterator[Problem]:
    """A hint only the inventory allows: a TLS port was set on purpose, but TLS stays off."""
    variables = host.variables
    if (
        host.in_group(TURN_GROUP)
        and where.set_by_inventory("coturn_tls_listening_port")
        and not variables.get("coturn_cert")
        and not variables.get("coturn_pkey")
    ):
        yield where.problem(
            "coturn_tls_listening_port",
            "a TLS port is set but coturn_cert and coturn_pkey are not, so TLS stays off",
            "set coturn_cert and coturn_pkey (e.g. /etc/letsencrypt/live/NAME/fullchain.pem "
            "and privkey.pem, readable by the turnserver user)",
            "warning",
        )


# --------------------------------------------------------------------------- Talk hosts


def talk_turn_entries(
    deployment: Deployment, entries: list[dict[str, str]], where: Where
) -> Iterator[Problem]:
    """The entries Talk will get: spelled as Talk accepts, and matching each TURN server."""
    for server, entry in zip(deployment.turn_servers, entries, strict=False):
        schemes = entry["schemes"].split(",")
        protocols = entry["protocols"].split(",") if entry["protocols"] else []
        key = "talk_turn_schemes"
        if "turns" in schemes and not server.tls:
            yield where.problem(
                key,
                f"Talk would offer turns: for {server.name}, which has no TLS (coturn_cert "
                "and coturn_pkey are not both set, or coturn_no_tls is on)",
                "leave talk_turn_schemes at auto, or give the TURN server a certificate",
            )
        key = "talk_turn_protocols"
        for protocol in protocols:
            if not getattr(server, protocol, True):
                yield where.problem(
                    key,
                    f"Talk would offer {protocol} for {server.name}, where coturn has "
                    f"{protocol} switched off",
                    "leave talk_turn_protocols at auto",
                )


# --------------------------------------------------------------------------- deployment


def check_deployment(deployment: Deployment) -> list[Problem]:
    inventory = deployment.inventory
    problems: list[Problem] = []
    for talk in deployment.nextcloud_hosts:
        host = inventory.hosts[talk.name]
        where = Where(inventory, host, NEXTCLOUD_GROUP)
        problems.extend(talk_turn_entries(deployment, talk.expected_turn_entries, where))
        if not deployment.turn_servers:
            problems.append(
                Problem(
                    display_hosts_file(inventory),
                    TURN_GROUP,
                    f"{talk.name} is a Talk host but the inventory has no TURN server: "
                    "calls between networks would fail",
                    "add at least one host to the `turn_servers` group",
                    "error",
                    talk.name,
                )
            )
    if not deployment.turn_servers and not deployment.nextcloud_hosts:
        problems.append(
            Problem(
                display_hosts_file(inventory),
                "all",
                "no host is in `turn_servers` or `nextcloud`; talkdeploy would do nothing",
                "put the coturn hosts in `turn_servers` and the Nextcloud hosts in `nextcloud`",
            )
        )
    elif deployment.turn_servers and not deployment.nextcloud_hosts:
        problems.append(
            Problem(
                display_hosts_file(inventory),
                NEXTCLOUD_GROUP,
                "no host is in `nextcloud`: coturn will run but no Talk is told to use it",
                "add the Nextcloud host(s) to the `nextcloud` group",
                "warning",
            )
        )
    return problems


def display_hosts_file(inventory: LoadedInventory) -> str:
    from talkdeploy.inventory import display_path

    if inventory.source.is_file():
        return display_path(inventory.source)
    for name in ("hosts.yml", "hosts.yaml", "hosts", "hosts.ini", "inventory.yml"):
        if (inventory.source / name).is_file():
            return display_path(inventory.source / name)
    return display_path(inventory.source)
