"""The nextcloud_talk role's settings, checked before any occ call.

Formats are the ones Talk itself accepts (spreed lib/Command/Stun/Add.php, Turn/Add.php,
Signaling/Add.php); a signaling entry is reported by its position and host, never echoed whole
(an entry or its URL may carry credentials).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ansible_collections.talkdeploy.talk.plugins.module_utils import values
from ansible_collections.talkdeploy.talk.plugins.module_utils.findings import Report
from ansible_collections.talkdeploy.talk.plugins.module_utils.values import Invalid

ROLE = "nextcloud_talk"
# How Nextcloud runs; each kind has its occ preset in roles/nextcloud_talk/vars/main.yml.
INSTALL_KINDS = ("bare", "docker", "aio", "snap")
USER = re.compile(r"[a-z_][a-z0-9_.-]{0,31}\$?", re.ASCII)  # useradd(8) NAME_REGEX, relaxed
CONTAINER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", re.ASCII)  # docker container names
SCHEME = re.compile(r"(stun|turn|turns|https?):", re.ASCII)


def _user(value: Any) -> str:
    user = values.text(value)
    if user and not USER.fullmatch(user):
        values.fail(f"is {values.shown(user)}, not a user name", "e.g. www-data")
    return user


def _container(value: Any) -> str:
    name = values.text(value, empty=False, what="a container name")
    if not CONTAINER.fullmatch(name):
        values.fail(f"is {values.shown(name)}, not a Docker container name", "e.g. nextcloud")
    return name


def _occ_command(value: Any) -> Any:
    """A string split on spaces, or a list of arguments."""
    if isinstance(value, str):
        return values.text(value)
    if isinstance(value, list):
        return [values.text(item, empty=False, what="an argument") for item in value]
    values.fail(f"is {values.kind(value)}", "give a string or a list of arguments")


def _retired(value: Any) -> str:
    """`host` or `host:port` as Talk's lists hold them; kept as written (it is compared)."""
    item = values.text(value, empty=False, what="host or host:port")
    if "/" in item or SCHEME.match(item):
        values.fail(f"has {values.shown(item)}, with a scheme or a path", "give host or host:port")
    try:
        if item.startswith("[") or item.count(":") == 1:
            values.host_port(item)  # a port: ASCII digits 1-65535, IPv6 in brackets
        else:
            values.host_or_address(item)  # a DNS name or a bare IPv4/IPv6 address
    except Invalid as invalid:
        values.fail(invalid.problem, "give host or host:port, e.g. old.example.org:3478")
    return item


def _federation(value: Any) -> bool | None:
    return None if value is None else values.boolean(value)


def _signaling_servers(value: Any) -> list[dict[str, Any]]:
    servers = []
    for position, entry in enumerate(values.string_list(value), start=1):
        if not isinstance(entry, Mapping):
            values.fail(
                f"entry {position} is {values.kind(entry)}",
                "write each entry as {server: https://signaling.example.org, verify: true}",
            )
        url = entry.get("server")
        host = _url_host(url)
        if host is None:
            values.fail(
                f"entry {position} has no https:// or http:// URL in `server`",
                "write each entry as {server: https://signaling.example.org, verify: true}",
            )
        verify = entry.get("verify", True)
        if not isinstance(verify, bool):
            values.fail(
                f"entry {position} ({host}) has a `verify` that is not true/false",
                "write verify: true or verify: false, without quotes",
            )
        servers.append({"server": url, "verify": verify})
    return servers


def _url_host(url: Any) -> str | None:
    try:
        text = values.text(url, empty=False)
    except Invalid:
        return None
    parts = urlsplit(text)
    if (
        parts.scheme not in ("https", "http")
        or not parts.hostname
        or any(c.isspace() for c in text)
    ):
        return None
    return parts.hostname


SCALARS = {
    "talk_nextcloud_install": lambda v: values.choice(v, INSTALL_KINDS),
    "talk_nextcloud_path": values.absolute_path,
    "talk_web_user": _user,
    "talk_docker_container": _container,
    "talk_occ_command": _occ_command,
    "talk_turn_schemes": lambda v: values.choice(v, ("auto", "turn", "turns", "turn,turns")),
    "talk_turn_protocols": lambda v: values.choice(v, ("auto", "udp", "tcp", "udp,tcp")),
    "talk_signaling_servers": _signaling_servers,
    "talk_signaling_secret": values.text,
    "talk_federation_enabled": _federation,
}
BOOLEANS = (
    "talk_app_install",
    "talk_keep_default_stun",
    "talk_stun_servers_exclusive",
    "talk_turn_servers_exclusive",
)
LISTS = {"talk_retired_servers": _retired}
VARIABLES = frozenset({*SCALARS, *BOOLEANS, *LISTS, "talk_stun_servers"})


def check(variables: Mapping[str, Any]) -> Report:
    report = Report(ROLE, variables)
    report.table(SCALARS, BOOLEANS, LISTS)
    if report.values.get("talk_stun_servers", "") is None:  # null: the TURN servers' names
        report.settings["talk_stun_servers"] = None
    else:  # every bad entry reported, not only the first
        report.items("talk_stun_servers", values.host_port)
    s = report.settings
    if s.get("talk_stun_servers") == [] and s.get("talk_keep_default_stun") is False:
        report.add(
            "talk_stun_servers",
            "talk_stun_servers is empty and talk_keep_default_stun is false: Talk would fall "
            "back to stun.nextcloud.com:443 anyway",
            "list at least one STUN server (host:port), or keep the default",
        )
    if report.values.get("talk_signaling_servers") and s.get("talk_signaling_secret") == "":
        report.add(
            "talk_signaling_secret",
            "signaling servers are listed but talk_signaling_secret is empty",
            "set talk_signaling_secret (vault-encrypted) to the signaling server's secret",
        )
    return report
