"""`talkdeploy plan`'s file diffs: turnserver.conf and Talk's settings, now against after apply."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from talkdeploy.host_reports import effective_secret
from talkdeploy.shared import masking

if TYPE_CHECKING:
    from talkdeploy.host_reports import Reports
    from talkdeploy.model import Deployment


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
    for talk in reports.nextcloud.values():  # what Talk holds now: with --limit, the only copy
        secrets += [secret for secret in map(_talk_secret, talk.turn_servers or []) if secret]
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
        before = masking.mark_known(str(report.config_text), secrets)
        after = masking.mark_known(wanted, secrets)
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
        current = {
            str(item.get("server")): _talk_secret(item)
            for item in nextcloud.turn_servers or []
            if isinstance(item, dict)
        }
        for entry, server in zip(settings["turn_servers"], deployment.turn_servers, strict=False):
            if server.secret is None:
                # Not in the inventory and not read here (e.g. --limit nextcloud): apply reads it
                # from the TURN host; Talk's current one is the best guess, and is masked.
                entry["secret"] = (
                    effective_secret(deployment, reports, server.name)
                    or current.get(str(entry.get("server")))
                    or f"<secret read from {server.name} by apply>"
                )
        now = {"stun_servers": nextcloud.stun_servers, "turn_servers": nextcloud.turn_servers}
        wanted_settings = {key: settings[key] for key in ("stun_servers", "turn_servers")}
        before = masking.mark_known(json.dumps(now, indent=2), secrets)
        after = masking.mark_known(json.dumps(wanted_settings, indent=2), secrets)
        text = _unified(before, after, f"{host.name}:spreed (now)", "spreed (after apply)")
        if text:
            diffs.append({"host": host.name, "file": "Talk settings", "diff": text})
    return diffs


def _talk_secret(entry: Any) -> str:
    return str(entry.get("secret") or "") if isinstance(entry, dict) else ""
