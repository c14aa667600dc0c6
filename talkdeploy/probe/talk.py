"""Host reports (playbooks/verify.yml) parsed; Talk's TURN settings checked against coturn's.

The reports arrive as JSON files the read-only playbook wrote on the controller
(0600, in a private directory): they hold the TURN secret, which therefore never
passes through Ansible's output. Nothing here prints a secret: secrets are
compared, and shown only as a fingerprint (first 8 hex digits of their SHA-256).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from talkdeploy.probe import Check

SOCKET = re.compile(r"^(?P<proto>udp|tcp)\s+\S+\s+\d+\s+\d+\s+(?P<local>\S+):(?P<port>\d+)\s")
LOST = re.compile(r"Total lost packets\s+(\d+)\s+\(([\d.]+)%\)")
SENT = re.compile(r"Total send dropped\s+(\d+)")


def fingerprint(secret: str) -> str:
    """First 8 hex digits of the secret's SHA-256: enough to compare, useless to an attacker."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


@dataclass
class TurnReport:
    host: str
    config_found: bool
    secrets: list[str] = field(repr=False)  # static-auth-secret lines (several in a rotation)
    options: dict[str, str]  # turnserver.conf option -> value (last wins; flags -> "")
    version: str
    active: str
    enabled: str
    listening: list[tuple[str, int]]  # (udp|tcp, port), sorted, unique
    endpoint: dict[str, Any]
    config_text: str = field(default="", repr=False)  # holds the secret: never printed as is


@dataclass
class NextcloudReport:
    host: str
    error: str  # "" when occ answered
    turn_servers: list[dict[str, Any]] = field(default_factory=list, repr=False)  # secrets
    stun_servers: list[str] = field(default_factory=list)
    talk_version: str | None = None


def parse_config(text: str) -> tuple[list[str], dict[str, str]]:
    secrets: list[str] = []
    options: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if name == "static-auth-secret":
            secrets.append(value)
        else:
            options[name] = value
    return secrets, options


def parse_turn(data: dict[str, Any]) -> TurnReport:
    secrets, options = parse_config(str(data.get("config", "")))
    state: dict[str, str] = {}
    sockets: list[tuple[str, int, str]] = []
    for line in str(data.get("state", "")).splitlines():
        key, _, value = line.partition("=")
        if key == "socket":
            match = SOCKET.match(value)
            if match:
                sockets.append((match["proto"], int(match["port"]), value))
        else:
            state[key] = value.strip()
    # `ss -p` names the process only where root may read other users' /proc/<pid>/fd
    # (CAP_SYS_PTRACE: yes on a host, not in a default container). Without names, every
    # listening socket counts.
    named = any("users:((" in line for _, _, line in sockets)
    listening = {(p, port) for p, port, line in sockets if not named or "turnserver" in line}
    return TurnReport(
        host=str(data["host"]),
        config_found=bool(data.get("config_found")),
        secrets=secrets,
        options=options,
        version=state.get("version", ""),
        active=state.get("active", "") or "unknown",
        enabled=state.get("enabled", "") or "unknown",
        listening=sorted(listening),
        endpoint=dict(data.get("endpoint") or {}),
        config_text=str(data.get("config", "")),
    )


def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def parse_nextcloud(data: dict[str, Any]) -> NextcloudReport:
    host = str(data["host"])
    if data.get("config_rc") != 0:
        reason = (str(data.get("config_error") or "") + " " + str(data.get("config") or "")).strip()
        return NextcloudReport(host, f"occ config:list failed: {reason[:300]}")
    try:
        listed = json.loads(str(data.get("config")))
    except json.JSONDecodeError:
        return NextcloudReport(host, "occ config:list printed no JSON (wrong occ user?)")
    spreed = (listed.get("apps") or {}).get("spreed") or {}
    turn = _json_value(spreed.get("turn_servers")) or []
    stun = _json_value(spreed.get("stun_servers")) or []
    version = None
    try:
        apps = json.loads(str(data.get("apps")))
        version = (apps.get("enabled") or {}).get("spreed")
    except (json.JSONDecodeError, AttributeError):
        pass
    return NextcloudReport(
        host,
        "",
        [entry for entry in turn if isinstance(entry, dict)],
        [str(s) for s in stun],
        version,
    )


def read_reports(directory: Path) -> dict[str, Any]:
    """{"turn": {host: TurnReport}, "nextcloud": {host: NextcloudReport}, "uclient": {...}}."""
    found: dict[str, Any] = {"turn": {}, "nextcloud": {}, "uclient": {}}
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text())
        kind = data.get("kind")
        if kind == "turn":
            found["turn"][data["host"]] = parse_turn(data)
        elif kind == "nextcloud":
            found["nextcloud"][data["host"]] = parse_nextcloud(data)
        elif kind == "uclient":
            found["uclient"][data["host"]] = data.get("runs", [])
    return found


def _split(value: Any) -> set[str]:
    return {part.strip() for part in str(value or "").split(",") if part.strip()}


def talk_matches_coturn(
    nextcloud: NextcloudReport, turn: TurnReport, secret: str | None, seconds: float = 0.0
) -> Check:
    """Talk hands out only what this coturn serves: its server:port, schemes, protocols, secret."""
    name = f"talk settings match {turn.host}"
    if nextcloud.error:
        return Check(nextcloud.host, name, False, seconds, nextcloud.error)
    endpoint = turn.endpoint
    server = f"{endpoint.get('public_name')}:{endpoint.get('listening_port')}"
    entries = [e for e in nextcloud.turn_servers if str(e.get("server", "")) == server]
    if not entries:
        known = ", ".join(str(e.get("server")) for e in nextcloud.turn_servers) or "none"
        return Check(nextcloud.host, name, False, seconds,
                     f"Talk has no TURN server {server} (it has: {known})")  # fmt: skip
    accepted = set(turn.secrets) | ({secret} if secret else set())
    served_schemes = {"turn"} | ({"turns"} if endpoint.get("tls") else set())
    served_protocols = {p for p in ("udp", "tcp") if endpoint.get(p)}
    problems: list[str] = []
    for entry in entries:
        schemes = _split(entry.get("schemes", "turn"))
        protocols = _split(entry.get("protocols"))
        if schemes - served_schemes:
            problems.append(f"schemes {','.join(sorted(schemes))} but coturn serves "
                            f"{','.join(sorted(served_schemes))}")  # fmt: skip
        if not protocols or protocols - served_protocols:
            problems.append(f"protocols {','.join(sorted(protocols)) or 'none'} but coturn "
                            f"serves {','.join(sorted(served_protocols))}")  # fmt: skip
        talk_secret = str(entry.get("secret") or "")
        if talk_secret not in accepted:
            coturn_prints = ",".join(fingerprint(s) for s in sorted(accepted)) or "none"
            talk_print = fingerprint(talk_secret) if talk_secret else "empty"
            problems.append(f"secret differs (Talk {talk_print}, coturn {coturn_prints})")
    if problems:
        return Check(nextcloud.host, name, False, seconds, f"{server}: " + "; ".join(problems))
    detail = f"{server}: " + "; ".join(
        f"{e.get('schemes', 'turn')} over {e.get('protocols')}" for e in entries
    ) + f"; secret {fingerprint(str(entries[0].get('secret')))}"  # fmt: skip
    return Check(nextcloud.host, name, True, seconds, detail)


def uclient_check(from_host: str, target: str, rc: int | None, stdout: str) -> Check:
    """turnutils_uclient's verdict: its exit code AND `Total lost packets` (the code alone lies)."""
    name = f"turnutils_uclient to {target}"
    lost = LOST.search(stdout)
    if rc == 124:
        return Check(from_host, name, False, 30.0, "timed out after 30 s (port filtered?)")
    if "Cannot complete Allocation" in stdout or rc not in (0, None):
        last = stdout.strip().splitlines()[-1] if stdout.strip() else ""
        return Check(from_host, name, False, 0.0, f"exit {rc}: {last}")
    if lost is None:
        return Check(from_host, name, False, 0.0, "no `Total lost packets` line in its output")
    count, percent = int(lost.group(1)), lost.group(2)
    ok = count == 0
    return Check(from_host, name, ok, 0.0, f"lost {count} packets ({percent}%)")
