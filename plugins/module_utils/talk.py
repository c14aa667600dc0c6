"""The nextcloud_talk role's settings, checked before any occ call.

Formats are the ones Talk itself accepts (spreed lib/Command/Stun/Add.php, Turn/Add.php,
Signaling/Add.php); a signaling entry is reported by its position and host, never echoed whole
(an entry or its URL may carry credentials). Federation's limits are a warning here, so the
role's first task and `talkdeploy validate` say the same; `user_id` checks the users of the
conversation check (`talkdeploy verify --talk-conversation`).
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


def _inventory_host(value: Any) -> str:
    """An inventory host name, as `groups` lists it (the role checks it is a TURN server)."""
    name = values.text(value, empty=False, what="an inventory host name")
    if any(character.isspace() or character == "," for character in name):
        values.fail(f"has {values.shown(name)}", "give one inventory host name per item")
    return name


def _optional_boolean(value: Any) -> bool | None:
    """null leaves Talk's value as it is; otherwise a real boolean."""
    return None if value is None else values.boolean(value)


def _group_ids(value: Any) -> list[str] | None:
    """Nextcloud group ids, as spreed's federation_allowed_groups holds them; null: leave it."""
    if value is None:
        return None
    groups = [
        values.text(item, empty=False, what="a group id") for item in values.string_list(value)
    ]
    if len(set(groups)) != len(groups):
        values.fail("lists a group twice", "list each group id once")
    return groups


# nextcloud/server lib/private/User/Manager.php (createUser(), validateUserId() on newer
# versions): a user id holds only a-z, A-Z, 0-9, spaces and _.@-' , with no whitespace at
# either end, and is at most 64 characters long.
USER_ID = re.compile(r"[A-Za-z0-9_.@'-]([A-Za-z0-9 _.@'-]{0,62}[A-Za-z0-9_.@'-])?", re.ASCII)


def user_id(value: Any) -> str:
    """An existing Nextcloud user's id, as the conversation check passes it to occ."""
    user = values.text(value, empty=False, what="a Nextcloud user id")
    if not USER_ID.fullmatch(user) or user in (".", ".."):
        values.fail(
            f"is {values.shown(user)}, not a Nextcloud user id",
            "give the id of an existing user (letters, digits, spaces inside, and _.@-' only, "
            "at most 64 characters), e.g. admin",
        )
    return user


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
    "talk_federation_enabled": _optional_boolean,
    "talk_federation_incoming_enabled": _optional_boolean,
    "talk_federation_outgoing_enabled": _optional_boolean,
    "talk_federation_only_trusted_servers": _optional_boolean,
    "talk_federation_allowed_groups": _group_ids,
}
BOOLEANS = (
    "talk_app_install",
    "talk_keep_default_stun",
    "talk_stun_servers_exclusive",
    "talk_turn_servers_exclusive",
    "talk_federation_limits_acknowledged",
)
LISTS = {"talk_retired_servers": _retired, "talk_turn_hosts_kept": _inventory_host}
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
    _federation_findings(report)
    return report


# What federated conversations cannot do, as Talk's own clients and trackers say (docs/facts.md,
# "Talk federation"): a federated user is never a moderator (nextcloud/talk-ios pull request
# 1765 removes the option to promote one), federated chats take no files (spreed
# src/components/RightSidebar/RightSidebar.vue: "no attachments support in federated
# conversations"; spreed issue 11874), and calls between instances need Talk 20 or later on both
# and the same kind of signaling (spreed issue 11232, pull request 12604, issue 12806).
FEDERATION_LIMITS = (
    "federated users cannot be moderators of a conversation",
    "federated chats take no file attachments",
    "video calls between instances work only from Talk 20 on both sides and with the same "
    "signaling on both (both internal, or both a High Performance Backend with federation "
    "support)",
)


def _federation_findings(report: Report) -> None:
    s = report.settings
    if s.get("talk_federation_enabled") is True and not s.get(
        "talk_federation_limits_acknowledged"
    ):
        report.warn(
            "talk_federation_enabled",
            "talk_federation_enabled is true: Talk federation has limits users will meet: "
            + "; ".join(FEDERATION_LIMITS),
            "tell your users, then set talk_federation_limits_acknowledged: true to silence this",
        )
    if s.get("talk_federation_enabled") is False and any(
        s.get(key) is not None
        for key in (
            "talk_federation_incoming_enabled",
            "talk_federation_outgoing_enabled",
            "talk_federation_only_trusted_servers",
            "talk_federation_allowed_groups",
        )
    ):
        report.warn(
            "talk_federation_enabled",
            "talk_federation_enabled is false but other talk_federation_* settings are set: "
            "they are written, and take effect only once federation is switched on",
            "leave them at null while federation is off, or switch federation on",
        )
