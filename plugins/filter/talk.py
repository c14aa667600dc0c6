"""Filters that turn occ output and the inventory into Talk's settings, and back.

The nextcloud_talk role reads all of Talk's app config with one occ call, computes the
wanted STUN / TURN / signaling values here, and writes only what differs. Comparisons are
made on parsed JSON, never on occ's echo. The formats are spreed's (lib/Config.php,
lib/Command/Stun/*.php, lib/Command/Turn/*.php in nextcloud/spreed):

- stun_servers:      ["host:port", ...]
- turn_servers:      [{"schemes": "turn,turns", "server": "host:port", "secret": "...",
                       "protocols": "udp,tcp"}, ...]   (this key order)
- signaling_servers: {"servers": [{"server": "https://...", "verify": true}], "secret": "..."}

What differs is written with one `occ config:import` that reads its document from stdin
(nextcloud/server core/Command/Config/Import.php), so no value is ever on a command line.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ansible_collections.talkdeploy.talk.plugins.module_utils import talk
from ansible_collections.talkdeploy.talk.plugins.module_utils.values import Invalid

DEFAULT_STUN_SERVER = "stun.nextcloud.com:443"  # spreed lib/Config.php getStunServers()


def _json_document(stdout: str) -> Any:
    """The JSON document in occ's stdout (occ may print warnings on lines before it)."""
    lines = [line for line in stdout.splitlines() if line.lstrip().startswith(("{", "["))]
    if not lines:
        raise ValueError("occ printed no JSON: " + stdout[:200])
    return json.loads(lines[-1])


def talk_occ_json(stdout: str) -> Any:
    """Parse the output of an occ command run with --output=json."""
    return _json_document(stdout)


def talk_app_config(stdout: str, app: str = "spreed") -> dict[str, Any]:
    """The app's values from `occ config:list <app> --private --output=json`.

    nextcloud/server core/Command/Config/ListConfigs.php prints {"apps": {"<app>": {...}}};
    PHP encodes an app without values as [] instead of {}.
    """
    values = _json_document(stdout).get("apps", {}).get(app, {})
    return values if isinstance(values, dict) else {}


def talk_json_value(value: Any, kind: str = "list") -> Any:
    """A stored app config value decoded like Talk does: invalid or wrong type -> empty."""
    empty: Any = [] if kind == "list" else {}
    if value is None:
        return empty
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return empty
    if kind == "list" and isinstance(value, list):
        return value
    if kind == "dict" and isinstance(value, dict):
        return value
    return empty


def talk_php_json(value: Any) -> str:
    """JSON as PHP's json_encode() writes it (Talk's own writer): compact, "/" escaped."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/")


def talk_config_import(values: dict[str, Any], app: str = "spreed") -> str:
    """The document `occ config:import` reads from stdin: {"apps": {"<app>": {key: value}}}.

    nextcloud/server core/Command/Config/Import.php validateAppsArray() takes app config values
    as strings, integers or null (delete) only: each value must already be the string Talk
    stores (a JSON list as its talk_php_json() text, "yes"/"no").
    """
    for key, value in values.items():
        if not isinstance(value, str):
            raise TypeError(f"the value of {app} {key} must be the string Talk stores")
    return json.dumps({"apps": {app: values}}, separators=(",", ":"))


# What nextcloud/server core/Command/Config/Import.php (validateFileContent(), validateArray(),
# validateAppsArray()) prints when it refuses the document this role sends: it names root
# keys, apps and config keys, never a value.
_IMPORT_REFUSAL = re.compile(
    r"The file must contain a valid json array"
    r"|Found invalid entries in root: [\w, ]*"
    r"|At least one key of the following is expected: system, apps"
    r"|The (system|apps) config array is not an array"
    r'|Invalid app config value for "\w+":"\w+"\.'
    r" Only integers, strings and null \(delete\) are allowed\."
)


def talk_import_failure(stdout: str) -> str:
    """What a failed `occ config:import` may show: occ's message when it is one of Import.php's
    refusals, else nothing of its output (a PHP exception or a wrapper could print values)."""
    message = (stdout or "").strip()
    if _IMPORT_REFUSAL.fullmatch(message):
        return "occ said: " + message
    return "its output is hidden, as it may contain the secrets"


def _host(server: str) -> str:
    return server.rsplit(":", 1)[0] if ":" in server else server


def _owned(server: Any, owned_hosts: list[str], retired: list[str]) -> bool:
    if not isinstance(server, str):
        return False
    return _host(server) in owned_hosts or server in retired or _host(server) in retired


def _kept(server: Any, kept_hosts: list[str] | None) -> bool:
    return isinstance(server, str) and _host(server) in (kept_hosts or [])


def _with_kept(result: list[Any], current: list[Any], kept: list[bool]) -> list[Any]:
    """`result` with the kept entries of `current` put back at their current places, so a
    list that only differed by them compares equal and nothing is written."""
    merged = list(result)
    for index, entry in enumerate(current):
        if kept[index]:
            merged.insert(min(index, len(merged)), entry)
    return merged


def talk_reconcile_stun(
    current: list[Any],
    wanted: list[str],
    owned_hosts: list[str],
    retired: list[str],
    keep_default: bool,
    exclusive: bool,
    kept_hosts: list[str] | None = None,
) -> list[str]:
    """The STUN list Talk should hold: the wanted servers (and Talk's default when kept),
    then the entries talkdeploy does not own, in their current order, once each.

    Entries of kept_hosts (TURN servers not deployed in this run) stay as they are and where
    they are, also in an exclusive list."""
    kept = [_kept(server, kept_hosts) for server in current]
    kept_servers = [server for index, server in enumerate(current) if kept[index]]
    result: list[str] = []
    for server in [*wanted, *([DEFAULT_STUN_SERVER] if keep_default else [])]:
        if server not in result and server not in kept_servers:
            result.append(server)
    if not exclusive:
        for index, server in enumerate(current):
            if (
                isinstance(server, str)
                and not kept[index]
                and server != DEFAULT_STUN_SERVER
                and not _owned(server, owned_hosts, retired)
                and server not in result
            ):
                result.append(server)
    return _with_kept(result, current, kept)


def talk_reconcile_turn(
    current: list[Any],
    wanted: list[dict[str, str]],
    owned_hosts: list[str],
    retired: list[str],
    exclusive: bool,
    kept_hosts: list[str] | None = None,
) -> list[Any]:
    """The TURN list Talk should hold: the wanted entries (deduplicated on schemes + server +
    protocols, as Talk >= 20 does), then the entries talkdeploy does not own, untouched.

    Entries of kept_hosts (TURN servers not deployed in this run) stay as they are, secret
    included, and where they are, also in an exclusive list."""
    kept = [_kept(e.get("server") if isinstance(e, dict) else None, kept_hosts) for e in current]
    result: list[Any] = []
    seen: set[tuple[str, str, str]] = set()
    for entry in wanted:
        key = (entry["schemes"], entry["server"], entry["protocols"])
        if key not in seen:
            seen.add(key)
            result.append(
                {
                    "schemes": entry["schemes"],
                    "server": entry["server"],
                    "secret": entry["secret"],
                    "protocols": entry["protocols"],
                }
            )
    if not exclusive:
        for index, entry in enumerate(current):
            server = entry.get("server") if isinstance(entry, dict) else None
            if not kept[index] and not _owned(server, owned_hosts, retired):
                result.append(entry)
    return _with_kept(result, current, kept)


def talk_kept_servers(current: list[Any], kept_hosts: list[str]) -> list[str]:
    """The servers (host:port, no secret) of Talk's current entries for kept_hosts."""
    servers = [e.get("server") if isinstance(e, dict) else e for e in current]
    return [str(s) for s in servers if _kept(s, kept_hosts)]


def talk_endpoint_servers(endpoints: list[dict[str, Any]]) -> list[str]:
    """Each TURN server as host:port: its public name and listening port."""
    return [f"{e['public_name']}:{int(e['listening_port'])}" for e in endpoints]


def talk_turn_entries(
    endpoints: list[dict[str, Any]], secrets: list[str], schemes: str, protocols: str
) -> list[dict[str, str]]:
    """Talk's TURN entry for each TURN server (coturn_endpoint + its secret).

    schemes/protocols "auto" follow the endpoint: "turn,turns" when TLS is on (coturn takes
    TLS on its listening port as well), and the transports coturn listens on.
    """
    entries = []
    for endpoint, secret in zip(endpoints, secrets, strict=True):
        if schemes == "auto":
            entry_schemes = "turn,turns" if endpoint.get("tls") else "turn"
        else:
            entry_schemes = schemes
        if protocols == "auto":
            transports = [p for p in ("udp", "tcp") if endpoint.get(p, True)]
            entry_protocols = ",".join(transports)
        else:
            entry_protocols = protocols
        entries.append(
            {
                "schemes": entry_schemes,
                "server": f"{endpoint['public_name']}:{int(endpoint['listening_port'])}",
                "secret": secret,
                "protocols": entry_protocols,
            }
        )
    return entries


def talk_signaling_list(servers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Signaling servers as Talk's admin page stores them: {"server": url, "verify": bool}."""
    return [{"server": s["server"], "verify": bool(s.get("verify", True))} for s in servers]


# Talk federation's app config, as spreed reads it and its admin page writes it (spreed
# docs/settings.md, "App configuration"; lib/Settings/Admin/AdminSettings.php initFederation()):
# federation_enabled is "yes" | "no" (default "no", lib/Config.php isFederationEnabled()); the
# three flags are "1" | "0" read with IAppConfig::getAppValueBool() and these defaults;
# federation_allowed_groups is a JSON list read with getAppValueArray() ([] = everyone).
FEDERATION_FLAGS = {
    "federation_incoming_enabled": True,
    "federation_outgoing_enabled": True,
    "federation_only_trusted_servers": False,
}
# Apps Talk federation needs (docs/facts.md, "Talk federation"): spreed's federation code
# takes OCA\FederatedFileSharing\AddressHandler (lib/Federation/CloudFederationProviderTalk.php,
# BackendNotifier.php) and is an OCM provider served by cloud_federation_api; limited to trusted
# servers, it refuses every invitation while the `federation` app is disabled
# (BackendNotifier::sendRemoteShare(), lib/Federation/RestrictionValidator.php).
FEDERATION_APPS = ("cloud_federation_api", "federatedfilesharing")
TRUSTED_SERVERS_APP = "federation"


def talk_bool_value(value: Any, default: bool) -> bool:
    """An app config flag as Nextcloud reads it: nextcloud/server lib/private/AppConfig.php
    getValueBool() takes "1", "true", "yes" and "on" (any case) as true; unset is the default."""
    if value is None:
        return default
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def talk_federation_apps(enabled: Any, only_trusted: Any) -> list[str]:
    """The apps that must be enabled for the wanted federation settings ([] when not on)."""
    if enabled is not True:
        return []
    return [*FEDERATION_APPS, *([TRUSTED_SERVERS_APP] if only_trusted is True else [])]


def talk_federation_changes(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, str]:
    """Federation values to write, as the strings Talk stores: only those that differ.

    `wanted` maps enabled / incoming / outgoing / only_trusted_servers / allowed_groups to the
    role's variables, None meaning "leave it". A flag that is unset counts as different, so the
    value talkdeploy was asked for is written once and then read back as it is.
    """
    changes: dict[str, str] = {}
    enabled = wanted.get("enabled")
    if enabled is not None and str(current.get("federation_enabled", "no")) != (
        "yes" if enabled else "no"
    ):
        changes["federation_enabled"] = "yes" if enabled else "no"
    for key, default in FEDERATION_FLAGS.items():
        flag = wanted.get(key.removeprefix("federation_").removesuffix("_enabled"))
        stored = current.get(key)
        if flag is not None and (stored is None or talk_bool_value(stored, default) != flag):
            changes[key] = "1" if flag else "0"
    groups = wanted.get("allowed_groups")
    stored_groups = current.get("federation_allowed_groups")
    if groups is not None and (
        stored_groups is None or talk_json_value(stored_groups, "list") != list(groups)
    ):
        changes["federation_allowed_groups"] = talk_php_json(list(groups))
    return changes


def talk_federation_state(current: dict[str, Any]) -> dict[str, Any]:
    """Talk's federation settings as it reads them (for reports: no secret in these keys)."""
    state: dict[str, Any] = {
        "enabled": str(current.get("federation_enabled", "no")) == "yes",
    }
    for key, default in FEDERATION_FLAGS.items():
        state[key.removeprefix("federation_")] = talk_bool_value(current.get(key), default)
    state["allowed_groups"] = talk_json_value(current.get("federation_allowed_groups"), "list")
    return state


def talk_trusted_servers(rc: Any, stdout: Any) -> str:
    """What `occ federation:trusted-servers --list` says: "some", "none" or "unknown".

    Nextcloud 32 has no occ command that lists trusted servers (they live in the federation
    app's own table); nextcloud/server pull request 63440 adds `federation:trusted-servers
    --list` (apps/federation/lib/Command/ManageTrustedServers.php), which prints "No trusted
    servers configured." or a table of id, url and status. Any other answer (the command is
    not defined: exit 1) is "unknown".
    """
    text = str(stdout or "")
    if rc != 0:
        return "unknown"
    if "No trusted servers configured." in text:
        return "none"
    return "some" if re.search(r"^\|\s*\d+\s*\|", text, re.MULTILINE) else "unknown"


# spreed lib/Command/Room/Create.php execute(): "Room token: <token>" before "Room
# successfully created."; tokens are lower-case letters and digits (lib/Manager.php).
_ROOM_TOKEN = re.compile(r"^Room token: ([a-z0-9]{4,64})$", re.MULTILINE)


def talk_room_token(stdout: Any) -> str:
    """The new conversation's token from `occ talk:room:create`, or "" when there is none."""
    match = _ROOM_TOKEN.search(str(stdout or ""))
    return match.group(1) if match else ""


def _seconds(result: dict[str, Any]) -> float:
    """A command result's run time from Ansible's `delta` ("0:00:01.234567")."""
    hours, _, rest = str(result.get("delta") or "0:0:0").partition(":")
    minutes, _, seconds = rest.partition(":")
    try:
        return round(int(hours) * 3600 + int(minutes) * 60 + float(seconds), 3)
    except ValueError:
        return 0.0


def _said(result: dict[str, Any]) -> str:
    """What occ said, on one line (Talk's room commands print no secret)."""
    text = " ".join(f"{result.get('stdout') or ''} {result.get('stderr') or ''}".split())
    return (text[:197] + "...") if len(text) > 200 else (text or "no output")


def _ran(result: Any) -> bool:
    return isinstance(result, dict) and "rc" in result and not result.get("skipped")


def talk_conversation_steps(
    create: Any, add: Any, read: Any, delete: Any, gone: Any, user: str, peer: str
) -> list[dict[str, Any]]:
    """Each step of the throwaway conversation (tasks/conversation.yml), judged.

    The commands and what they print are spreed's lib/Command/Room/Create.php ("Room token:
    <token>", then "Room successfully created."; an unknown user: "User '<id>' not found." with
    exit 1, after Talk deleted the new room), Add.php ("Users successfully added to room."),
    Delete.php ("Room successfully deleted.") and lib/Command/Monitor/Room.php
    (`--output=json`: {"attendees": n, "sessions": n, "call": n}; an unknown token: exit 1).
    """
    token = talk_room_token(create.get("stdout") if isinstance(create, dict) else "")
    steps: list[dict[str, Any]] = []

    def step(name: str, ok: bool, detail: str, result: Any) -> None:
        seconds = _seconds(result) if isinstance(result, dict) else 0.0
        steps.append({"name": name, "ok": ok, "detail": detail, "seconds": seconds})

    created = _ran(create) and create["rc"] == 0 and token != ""
    if not _ran(create):
        step("conversation created", False, "occ talk:room:create did not run", create)
    elif created:
        step("conversation created", True, f"owned by {user}, token {token}", create)
    else:
        step("conversation created", False, f"exit {create['rc']}: {_said(create)}", create)
    if peer:
        if _ran(add):
            ok = add["rc"] == 0 and "Users successfully added to room." in str(add.get("stdout"))
            detail = f"{peer} added" if ok else f"exit {add['rc']}: {_said(add)}"
            step("conversation peer added", ok, detail, add)
        else:
            step("conversation peer added", False, "not run: no conversation to add to", add)
    expected = 2 if peer else 1
    if _ran(read):
        try:
            attendees = json.loads(str(read.get("stdout"))).get("attendees")
        except (ValueError, AttributeError):
            attendees = None
        ok = read["rc"] == 0 and attendees == expected
        detail = (
            f"{attendees} attendee(s), as expected"
            if ok
            else f"expected {expected} attendee(s), occ talk:monitor:room said (exit "
            f"{read['rc']}): {_said(read)}"
        )
        step("conversation read back", ok, detail, read)
    else:
        step("conversation read back", False, "not run: no conversation to read", read)
    if _ran(delete):
        deleted = delete["rc"] == 0 and "Room successfully deleted." in str(delete.get("stdout"))
        vanished = _ran(gone) and gone["rc"] == 1
        if deleted and vanished:
            detail = f"deleted; talk:monitor:room no longer finds {token}"
        elif deleted:
            detail = f"occ said it was deleted, but talk:monitor:room still finds {token}"
        else:
            detail = f"exit {delete['rc']}: {_said(delete)}; delete {token} by hand"
        step("conversation deleted", deleted and vanished, detail, delete)
    elif token:
        step("conversation deleted", False, f"did not run; delete {token} by hand", delete)
    elif _ran(create) and create["rc"] == 0:
        step(
            "conversation deleted",
            False,
            "occ printed no room token, so the conversation cannot be deleted by talkdeploy",
            delete,
        )
    else:
        step("conversation deleted", True, "nothing to delete: Talk kept no conversation", create)
    return steps


def talk_user_id_problem(value: Any) -> str:
    """Empty when the value is a Nextcloud user id (plugins/module_utils/talk.py user_id()),
    else what is wrong with it and how to fix it."""
    try:
        talk.user_id(value)
    except Invalid as invalid:
        return f"{invalid.problem}: {invalid.fix}"
    return ""


def talk_turn_summary(entries: list[Any]) -> list[str]:
    """A printable view of TURN entries, without their secrets."""
    summary = []
    for entry in entries:
        if isinstance(entry, dict):
            summary.append(
                f"{entry.get('schemes', 'turn')} {entry.get('server')} {entry.get('protocols')}"
            )
        else:
            summary.append("(malformed entry)")
    return summary


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "talk_occ_json": talk_occ_json,
            "talk_app_config": talk_app_config,
            "talk_json_value": talk_json_value,
            "talk_php_json": talk_php_json,
            "talk_config_import": talk_config_import,
            "talk_import_failure": talk_import_failure,
            "talk_reconcile_stun": talk_reconcile_stun,
            "talk_reconcile_turn": talk_reconcile_turn,
            "talk_kept_servers": talk_kept_servers,
            "talk_turn_summary": talk_turn_summary,
            "talk_endpoint_servers": talk_endpoint_servers,
            "talk_turn_entries": talk_turn_entries,
            "talk_signaling_list": talk_signaling_list,
            "talk_bool_value": talk_bool_value,
            "talk_federation_apps": talk_federation_apps,
            "talk_federation_changes": talk_federation_changes,
            "talk_federation_state": talk_federation_state,
            "talk_trusted_servers": talk_trusted_servers,
            "talk_room_token": talk_room_token,
            "talk_conversation_steps": talk_conversation_steps,
            "talk_user_id_problem": talk_user_id_problem,
        }
