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


def talk_reconcile_stun(
    current: list[Any],
    wanted: list[str],
    owned_hosts: list[str],
    retired: list[str],
    keep_default: bool,
    exclusive: bool,
) -> list[str]:
    """The STUN list Talk should hold: the wanted servers (and Talk's default when kept),
    then the entries talkdeploy does not own, in their current order, once each."""
    result: list[str] = []
    for server in [*wanted, *([DEFAULT_STUN_SERVER] if keep_default else [])]:
        if server not in result:
            result.append(server)
    if not exclusive:
        for server in current:
            if (
                isinstance(server, str)
                and server != DEFAULT_STUN_SERVER
                and not _owned(server, owned_hosts, retired)
                and server not in result
            ):
                result.append(server)
    return result


def talk_reconcile_turn(
    current: list[Any],
    wanted: list[dict[str, str]],
    owned_hosts: list[str],
    retired: list[str],
    exclusive: bool,
) -> list[Any]:
    """The TURN list Talk should hold: the wanted entries (deduplicated on schemes + server +
    protocols, as Talk >= 20 does), then the entries talkdeploy does not own, untouched."""
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
        for entry in current:
            server = entry.get("server") if isinstance(entry, dict) else None
            if not _owned(server, owned_hosts, retired):
                result.append(entry)
    return result


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
            "talk_turn_summary": talk_turn_summary,
            "talk_endpoint_servers": talk_endpoint_servers,
            "talk_turn_entries": talk_turn_entries,
            "talk_signaling_list": talk_signaling_list,
        }
