"""What each host will get, rendered locally from the roles' own templates and filters.

    deployment, problems = model.build(inventory.load(path))
    text = turnserver_conf(deployment, "turn1.example.org", coturn_version="4.6.1")
    settings = talk_settings(deployment, "cloud.example.org")

turnserver.conf comes from roles/coturn/templates/turnserver.conf.j2 (plain Jinja2, the
role's only template for it), which reads one dict, `coturn_config`. That dict is built by
the function the role's tasks/config.yml calls through a filter
(plugins/module_utils/coturn.py `config`), on the same checked settings, the installed
coturn version and the effective secret. Jinja2 is set up as Ansible's template module sets
it up, and tests/test_render_matches_role.py proves the bytes equal what
ansible.builtin.template writes.

The Talk settings are computed by the nextcloud_talk role's own filters.
Secrets are replaced by the mask (talkdeploy.shared.masking.MASK) unless show_secrets is set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from talkdeploy.model import Deployment, TurnServer, expected_turn_entries, talk_filters
from talkdeploy.shared import masking

DEFAULT_COTURN_VERSION = "4.6.1"  # Debian 12 (bookworm) and 13 (trixie) ship coturn 4.6.1
UNKNOWN_SECRET = "<kept-from-the-host-or-generated-on-first-run>"  # noqa: S105
TEMPLATE = "turnserver.conf.j2"


class RenderError(RuntimeError):
    """The role's template or its inputs are missing."""


def coturn_config(
    deployment: Deployment,
    server: TurnServer,
    coturn_version: str = DEFAULT_COTURN_VERSION,
    show_secrets: bool = False,
) -> dict[str, Any]:
    """The `coturn_config` dict the template reads, from the function the role calls.

    plugins/module_utils/coturn.py `config`, on the checked settings, the installed version and
    the effective secrets (tasks/config.yml passes the same three).
    """
    from ansible_collections.talkdeploy.talk.plugins.module_utils import coturn

    secret = server.secret if server.secret is not None else UNKNOWN_SECRET
    additional = list(server.variables.get("coturn_additional_static_auth_secrets") or [])
    secrets = (
        [secret, *additional] if show_secrets else [masking.MASK for _ in [secret, *additional]]
    )
    try:
        return coturn.config(server.variables, coturn_version, secrets)
    except KeyError as missing:  # a value with no valid fallback; validate names it
        raise RenderError(
            f"cannot render turnserver.conf for {server.name}: {missing} has no valid value "
            "(see `talkdeploy validate`)"
        ) from missing


def turnserver_conf(
    deployment: Deployment,
    server_name: str,
    coturn_version: str = DEFAULT_COTURN_VERSION,
    show_secrets: bool = False,
) -> str:
    """turnserver.conf as the coturn role writes it on `server_name`."""
    import jinja2

    server = deployment.turn_server(server_name)
    role = deployment.inventory.specs.get("coturn")
    template = role.path / "templates" / TEMPLATE if role is not None else Path(TEMPLATE)
    if not template.is_file():
        raise RenderError(f"the coturn role's template {template} was not found")
    # Ansible's template module: trim_blocks on, lstrip_blocks off, "\n" newlines, and the
    # template's trailing newline kept.
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template.parent),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=False,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - a config file, not HTML
    )
    try:
        return environment.get_template(TEMPLATE).render(
            coturn_config=coturn_config(deployment, server, coturn_version, show_secrets)
        )
    except jinja2.TemplateError as error:
        raise RenderError(f"cannot render {template} for {server_name}: {error}") from error


def talk_settings(
    deployment: Deployment, host_name: str, show_secrets: bool = False
) -> dict[str, Any]:
    """The Talk app config talkdeploy manages on a Nextcloud host, as the role computes it.

    Entries Talk holds today that talkdeploy does not own are kept by the role; they are
    not known locally, so these are the lists for a Talk with no foreign entries.
    """
    host = next(h for h in deployment.nextcloud_hosts if h.name == host_name)
    filters = talk_filters()
    variables = host.variables
    endpoints = [server.endpoint() for server in deployment.turn_servers]
    stun_wanted = variables.get("talk_stun_servers")
    if stun_wanted is None:
        stun_wanted = filters["talk_endpoint_servers"](endpoints)
    stun = filters["talk_reconcile_stun"](
        [],
        stun_wanted,
        [e["public_name"] for e in endpoints],
        variables.get("talk_retired_servers") or [],
        bool(variables.get("talk_keep_default_stun", True)),
        bool(variables.get("talk_stun_servers_exclusive", False)),
    )
    turn = expected_turn_entries(deployment.inventory, deployment.turn_servers, variables)
    for server, entry in zip(deployment.turn_servers, turn, strict=True):
        if server.secret is None:
            entry["secret"] = "<the secret coturn keeps on " + server.name + ">"
        elif not show_secrets:
            entry["secret"] = masking.MASK
        # Talk's key order: schemes, server, secret, protocols.
        entry_order = ("schemes", "server", "secret", "protocols")
        ordered = {key: entry[key] for key in entry_order if key in entry}
        entry.clear()
        entry.update(ordered)
    settings: dict[str, Any] = {"stun_servers": stun, "turn_servers": turn}
    signaling = variables.get("talk_signaling_servers") or []
    if signaling:
        settings["signaling_servers"] = {
            "servers": filters["talk_signaling_list"](signaling),
            "secret": variables.get("talk_signaling_secret", "") if show_secrets else masking.MASK,
        }
    federation = variables.get("talk_federation_enabled")
    if federation is not None:
        settings["federation_enabled"] = "yes" if federation else "no"
    return settings
