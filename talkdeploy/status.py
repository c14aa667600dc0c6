"""Read the deployed state (playbooks/verify.yml, read-only) and summarise it as a drift report.

The playbook writes each host's report as a 0600 JSON file into a private
temporary directory made here, then removed; the TURN secret travels only that
way, never through Ansible's output.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talkdeploy.probe.talk import (
    NextcloudReport,
    TurnReport,
    fingerprint,
    read_reports,
    talk_matches_coturn,
)

if TYPE_CHECKING:
    from talkdeploy.model import Deployment
    from talkdeploy.runner import Event, Masker, RunOptions, RunResult


@dataclass
class Reports:
    run: RunResult
    turn: dict[str, TurnReport] = field(default_factory=dict)
    nextcloud: dict[str, NextcloudReport] = field(default_factory=dict)
    uclient: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def read_hosts(
    options: RunOptions,
    masker: Masker,
    *,
    on_event: Callable[[Event], None] | None = None,
    uclient_from: str | None = None,
    uclient_targets: list[dict[str, Any]] | None = None,
) -> Reports:
    """Run the read-only playbook and collect every host's report."""
    from dataclasses import replace

    from talkdeploy.resources import locate
    from talkdeploy.runner import run_playbook

    found = locate()
    with tempfile.TemporaryDirectory(prefix="talkdeploy-reports-") as private:
        directory = Path(private)
        directory.chmod(0o700)
        variables = {
            "talkdeploy_report_dir": str(directory),
            "talkdeploy_uclient_from": uclient_from or "",
            "talkdeploy_uclient_targets": uclient_targets or [],
        }
        extra = (*options.extra_vars, json.dumps(variables))
        # Reading never changes anything: never in check mode (reads would be skipped).
        read_options = replace(options, extra_vars=extra, check=False, diff=False, tags=None)
        run = run_playbook(
            found.playbook("verify.yml"),
            read_options,
            collections=found.collections_path,
            on_event=on_event,
            masker=masker,
        )
        reports = read_reports(directory)
    for report in reports["turn"].values():
        for secret in report.secrets:
            masker.add(secret)
    return Reports(run, reports["turn"], reports["nextcloud"], reports["uclient"])


def effective_secret(deployment: Deployment, reports: Reports, host: str) -> str | None:
    """The secret coturn uses: the host's first static-auth-secret, else the inventory's."""
    report = reports.turn.get(host)
    if report and report.secrets:
        return report.secrets[0]
    for server in deployment.turn_servers:
        if server.name == host:
            return server.secret
    return None


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
        prints = [fingerprint(s) for s in report.secrets]
        if server.secret and server.secret not in report.secrets:
            drift.append(f"{server.name}: inventory secret {fingerprint(server.secret)} "
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
            }
        )
    return {
        "ok": not drift and reports.run.exit_code == 0,
        "turn_servers": turn_rows,
        "nextcloud": nextcloud_rows,
        "drift": drift,
        "failures": reports.run.failures,
    }


def _secret_marks(text: str, secrets: list[str]) -> str:
    """Each secret becomes <secret sha256:xxxxxxxx>: a changed secret still shows as a change."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, f"<secret sha256:{fingerprint(secret)}>")
    return text


def _unified(before: str, after: str, before_name: str, after_name: str) -> str:
    import difflib

    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=before_name,
            tofile=after_name,
        )
    )


def _package_version(version: str) -> str:
    """4.6.1 from Debian's 4.6.1-1 (what the coturn role's version gates compare)."""
    match = re.match(r"^(?:\d+:)?(\d+(?:\.\d+)*)", version)
    return match.group(1) if match else ""


def plan_diffs(deployment: Deployment, reports: Reports) -> list[dict[str, Any]]:
    """turnserver.conf and Talk's TURN/STUN settings: what is on the hosts vs what apply writes.

    The roles write turnserver.conf and Talk's settings in no_log tasks (they hold the
    secret), so Ansible's --diff cannot show them; these diffs are computed here from the
    hosts' reports and the same template and filters the roles use (talkdeploy.render).
    Secrets appear only as <secret sha256:xxxxxxxx>.
    """
    from talkdeploy import render

    diffs: list[dict[str, Any]] = []
    secrets = [s.secret for s in deployment.turn_servers if s.secret]
    for seen in reports.turn.values():
        secrets += seen.secrets
    for server in deployment.turn_servers:
        report = reports.turn.get(server.name)
        if report is None:
            continue
        path = "turnserver.conf"
        try:
            wanted = render.turnserver_conf(
                deployment,
                server.name,
                coturn_version=_package_version(report.version) or render.DEFAULT_COTURN_VERSION,
                show_secrets=True,
            )
        except Exception as error:  # a render problem must not hide the Ansible plan
            diffs.append({"host": server.name, "file": path, "error": str(error), "diff": ""})
            continue
        kept = report.secrets[0] if report.secrets else render.UNKNOWN_SECRET
        wanted = wanted.replace(render.UNKNOWN_SECRET, kept)
        before = _secret_marks(str(report.config_text), secrets)
        after = _secret_marks(wanted, secrets)
        text = _unified(before, after, f"{server.name}:{path} (now)", f"{path} (after apply)")
        if text:
            diffs.append({"host": server.name, "file": path, "diff": text})
    for host in deployment.nextcloud_hosts:
        nextcloud = reports.nextcloud.get(host.name)
        if nextcloud is None or nextcloud.error:
            continue
        try:
            settings = render.talk_settings(deployment, host.name, show_secrets=True)
        except Exception as error:
            diffs.append({"host": host.name, "file": "talk", "error": str(error), "diff": ""})
            continue
        for entry, server in zip(settings["turn_servers"], deployment.turn_servers, strict=False):
            if server.secret is None:
                entry["secret"] = effective_secret(deployment, reports, server.name) or ""
        now = {"stun_servers": nextcloud.stun_servers, "turn_servers": nextcloud.turn_servers}
        wanted_settings = {key: settings[key] for key in ("stun_servers", "turn_servers")}
        before = _secret_marks(json.dumps(now, indent=2), secrets)
        after = _secret_marks(json.dumps(wanted_settings, indent=2), secrets)
        text = _unified(before, after, f"{host.name}:spreed (now)", "spreed (after apply)")
        if text:
            diffs.append({"host": host.name, "file": "Talk settings", "diff": text})
    return diffs
