"""`talkdeploy status`'s drift report: what the hosts run against what the inventory says."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from talkdeploy.host_reports import effective_secret
from talkdeploy.shared import masking
from talkdeploy.verify_checks import talk_matches_coturn

if TYPE_CHECKING:
    from talkdeploy.host_reports import Reports
    from talkdeploy.model import Deployment


def _expected_listeners(endpoint: Mapping[str, Any]) -> list[tuple[str, int]]:
    wanted: list[tuple[str, int]] = []
    port = endpoint.get("listening_port")
    if port is not None:
        wanted += [(proto, int(port)) for proto in ("udp", "tcp") if endpoint.get(proto)]
    if endpoint.get("tls") and endpoint.get("tls_listening_port"):
        wanted.append(("tcp", int(endpoint["tls_listening_port"])))
    return wanted


def status_data(deployment: Deployment, reports: Reports) -> dict[str, Any]:
    """The drift report: per TURN server and per Nextcloud host, with a list of drifts."""
    turn_rows: list[dict[str, Any]] = []
    drift: list[str] = []
    for server in deployment.turn_servers:
        report = reports.turn.get(server.name)
        if report is None:
            turn_rows.append({"host": server.name, "reachable": False})
            drift.append(f"{server.name}: not read (see the failures above)")
            continue
        missing = [
            f"{proto}/{port}"
            for proto, port in _expected_listeners(report.endpoint)
            if (proto, port) not in report.listening
        ]
        prints = [masking.fingerprint(s) for s in report.secrets]
        if server.secret and server.secret not in report.secrets:
            drift.append(f"{server.name}: inventory secret {masking.fingerprint(server.secret)} "
                         f"is not in turnserver.conf ({', '.join(prints) or 'none'})")  # fmt: skip
        if not report.config_found:
            drift.append(f"{server.name}: no turnserver.conf")
        if report.active != "active":
            drift.append(f"{server.name}: coturn is {report.active}")
        if missing:
            drift.append(f"{server.name}: not listening on {', '.join(missing)}")
        turn_rows.append(
            {
                "host": server.name,
                "reachable": True,
                "version": report.version or None,
                "service": report.active,
                "enabled": report.enabled,
                "listening": [f"{proto}/{port}" for proto, port in report.listening],
                "not_listening": missing,
                "secret_fingerprints": prints,
            }
        )
    nextcloud_rows: list[dict[str, Any]] = []
    for host in deployment.nextcloud_hosts:
        nc = reports.nextcloud.get(host.name)
        if nc is None:
            nextcloud_rows.append({"host": host.name, "reachable": False})
            drift.append(f"{host.name}: not read (see the failures above)")
            continue
        matches = []
        for server in deployment.turn_servers:
            turn = reports.turn.get(server.name)
            if turn is None:
                continue
            check = talk_matches_coturn(
                nc, turn, effective_secret(deployment, reports, server.name)
            )
            matches.append({"turn_server": server.name, "ok": check.ok, "detail": check.detail})
            if not check.ok:
                drift.append(f"{host.name}: {check.detail}")
        nextcloud_rows.append(
            {
                "host": host.name,
                "reachable": True,
                "talk_version": nc.talk_version,
                "error": nc.error or None,
                "turn_settings": matches,
                "federation": nc.federation,
            }
        )
        for app in (nc.federation or {}).get("apps_disabled", []):
            drift.append(f"{host.name}: Talk federation is on but the {app} app is not enabled")
    return {
        "ok": not drift and reports.run.exit_code == 0,
        "turn_servers": turn_rows,
        "nextcloud": nextcloud_rows,
        "drift": drift,
        "failures": reports.run.failures,
    }
