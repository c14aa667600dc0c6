"""The documented inventory `talkdeploy init` writes, from templates/inventory/*.j2.

    files = scaffold(Answers("turn.example.org", "cloud.example.org", "bare"))
    write(Path("inventories/prod"), files, force=False)

Each variable's comment and default come from the roles themselves (argument_specs.yml
and defaults/main.yml), so the scaffold's documentation cannot drift from the roles.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from talkdeploy.shared import INSTALL_KINDS
from talkdeploy.specs import RoleSpec, load_role_specs, variable_specs

# The variables an operator commonly changes, in the order the files list them.
TURN_VARIABLES = (
    "coturn_public_name",
    "coturn_listening_port",
    "coturn_tls_listening_port",
    "coturn_cert",
    "coturn_pkey",
    "coturn_min_port",
    "coturn_max_port",
    "coturn_external_ips",
    "coturn_allowed_peer_ips",
    "coturn_privileged_port_method",
    "coturn_extra_options",
    "firewall_backend",
    "firewall_turn_sources",
)
NEXTCLOUD_VARIABLES = (
    "talk_nextcloud_install",
    "talk_nextcloud_path",
    "talk_docker_container",
    "talk_web_user",
    "talk_occ_command",
    "talk_stun_servers",
    "talk_keep_default_stun",
    "talk_turn_schemes",
    "talk_turn_protocols",
    "talk_signaling_servers",
    "talk_federation_enabled",
)
TEMPLATES = (
    "hosts.yml",
    "group_vars/turn_servers/main.yml",
    "group_vars/nextcloud/main.yml",
)
# Port used when coturn shares its host with Nextcloud's web server (which holds TCP 443);
# the TLS port keeps its default, 5349.
SHARED_HOST_PORTS = {"coturn_listening_port": 3478}


class ScaffoldError(RuntimeError):
    """Files exist and --force was not given, or an answer is unusable."""


@dataclass(frozen=True)
class Answers:
    turn_domain: str
    nextcloud_host: str
    nextcloud_install: str
    nextcloud_path: str | None = None
    docker_container: str | None = None


def _yaml_value(value: Any) -> str:
    text: str = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False)
    return text.strip().removesuffix("...").strip()


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, width=96, initial_indent="# ", subsequent_indent="# ")


def _option_renderer(specs: dict[str, RoleSpec]) -> Any:
    variables = variable_specs(specs)

    def option(name: str, value: Any = None) -> str:
        spec = variables[name]
        default = specs[spec.role].defaults.get(name, spec.documented_default)
        lines = _comment(spec.description)
        if value is not None:
            lines.append(f"{name}: {_yaml_value(value)}")
        elif isinstance(default, list | dict) and len(default) > 3:
            lines.append(f"# {name}: ({len(default)} entries: roles/{spec.role}/defaults/main.yml)")
        else:
            lines.append(f"# {name}: {_yaml_value(default)}")
        return "\n".join(lines)

    return option


def scaffold(
    answers: Answers, directory: str = "DIR", roles_dir: Path | None = None
) -> dict[str, str]:
    """The inventory files (relative path -> text) for these answers."""
    import jinja2

    from talkdeploy.resources import locate

    if answers.nextcloud_install not in INSTALL_KINDS:
        raise ScaffoldError(
            f"unknown Nextcloud install kind {answers.nextcloud_install!r}; "
            f"use one of: {', '.join(INSTALL_KINDS)}"
        )
    specs = load_role_specs(roles_dir)
    known = variable_specs(specs)
    turn_values: dict[str, Any] = {}
    if answers.turn_domain == answers.nextcloud_host:
        turn_values.update(SHARED_HOST_PORTS)
    nextcloud_values: dict[str, Any] = {"talk_nextcloud_install": answers.nextcloud_install}
    if answers.nextcloud_path:
        nextcloud_values["talk_nextcloud_path"] = answers.nextcloud_path
    if answers.docker_container:
        nextcloud_values["talk_docker_container"] = answers.docker_container

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(locate().templates / "inventory"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - YAML, not HTML
    )
    context = {
        "directory": directory,
        "turn_domain": answers.turn_domain,
        "nextcloud_host": answers.nextcloud_host,
        "turn_variables": [name for name in TURN_VARIABLES if name in known],
        "nextcloud_variables": [name for name in NEXTCLOUD_VARIABLES if name in known],
        "turn_values": turn_values,
        "nextcloud_values": nextcloud_values,
        "option": _option_renderer(specs),
    }
    return {
        name: environment.get_template(f"{name}.j2").render(context).rstrip("\n") + "\n"
        for name in TEMPLATES
    }


def write(directory: Path, files: dict[str, str], force: bool) -> list[Path]:
    """Write the files under `directory`; refuse (writing nothing) if any exists, unless force."""
    targets = {directory / name: text for name, text in files.items()}
    existing = [path for path in targets if path.exists()]
    if existing and not force:
        raise ScaffoldError(
            "not overwriting existing file(s): "
            + ", ".join(str(path) for path in existing)
            + " (use --force to replace them)"
        )
    for path, text in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(targets)
