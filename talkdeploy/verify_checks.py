"""verify's checks, built from the host reports and the probes: one Check per claim.

Talk's settings are compared with what coturn serves, turnutils_uclient's output is judged,
and the STUN/TURN probes (talkdeploy.probe.stun_turn) run from here. Secrets are compared and
shown only as fingerprints.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from talkdeploy.host_reports import NextcloudReport, TurnReport, effective_secret
from talkdeploy.probe import Check
from talkdeploy.runner import EXIT_INVALID
from talkdeploy.shared import masking

if TYPE_CHECKING:
    from talkdeploy.host_reports import Reports
    from talkdeploy.model import Deployment
    from talkdeploy.runner import RunResult

LOST = re.compile(r"Total lost packets\s+(\d+)\s+\(([\d.]+)%\)")


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
            coturn_prints = ",".join(masking.fingerprint(s) for s in sorted(accepted)) or "none"
            talk_print = masking.fingerprint(talk_secret) if talk_secret else "empty"
            problems.append(f"secret differs (Talk {talk_print}, coturn {coturn_prints})")
    if problems:
        return Check(nextcloud.host, name, False, seconds, f"{server}: " + "; ".join(problems))
    detail = f"{server}: " + "; ".join(
        f"{e.get('schemes', 'turn')} over {e.get('protocols')}" for e in entries
    ) + f"; secret {masking.fingerprint(str(entries[0].get('secret')))}"  # fmt: skip
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


def read_checks(reports: Reports, seconds: float) -> list[Check]:

    checks = [
        Check(f["host"], f"read state ({f['status']})", False, 0.0, f"{f['task']}: {f['msg']}")
        for f in reports.run.failures
    ]
    if reports.run.exit_code == EXIT_INVALID:
        checks.append(Check("-", "read state", False, round(seconds, 3), reports.run.log_tail))
    return checks


def unread_reason(run: RunResult, host: str) -> str | None:
    """Why the read-only playbook has no report from `host`, when that only follows from a
    failure read_checks already shows; None when nothing explains it."""
    statuses = {f["status"] for f in run.failures if f["host"] == host}
    if "unreachable" in statuses:
        return f"{host} was unreachable"
    if statuses:
        return f"reading {host} failed"
    if run.exit_code == EXIT_INVALID:
        return "ansible-playbook did not run"
    stopped_by = sorted({_failed_host(f["host"], run) for f in run.failures})
    if stopped_by:
        # Once every host of a play failed, Ansible runs none of the later plays (ansible-core
        # 2.19 lib/ansible/executor/playbook_executor.py, PlaybookExecutor.run, break_play).
        return "Ansible stopped before reaching it, after " + ", ".join(stopped_by)
    return None


def _failed_host(host: str, run: RunResult) -> str:
    return f"{host} was unreachable" if host in unreachable_hosts(run) else f"{host} failed"


def _ca_file(deployment: Deployment, host: str) -> str | None:
    loaded = deployment.inventory.hosts.get(host)
    value = loaded.inventory.get("talkdeploy_probe_ca_file") if loaded else None
    return str(value) if value else None


def probe_checks(deployment: Deployment, reports: Reports, timeout: float) -> list[Check]:
    from talkdeploy.probe.stun_turn import TurnTarget, probe_server_sync

    checks: list[Check] = []
    for server in deployment.turn_servers:
        secret = effective_secret(deployment, reports, server.name)
        unread = None if server.name in reports.turn else unread_reason(reports.run, server.name)
        if not secret and unread:
            # The probes run from here and need no SSH, only the secret; it was on the host.
            reason = (
                f"{unread}, so coturn's static-auth-secret was not read (none in the inventory)"
            )
            checks.append(Check.not_run(server.name, "stun/turn probes", reason))
            continue
        if not secret:
            reason = "no static-auth-secret in the inventory or on the host"
            checks.append(Check(server.name, "secret known", False, 0.0, reason))
            continue
        target = TurnTarget(
            name=server.name,
            address=server.address,
            public_name=server.public_name,
            port=server.listening_port,
            tls_port=server.tls_listening_port,
            udp=server.udp,
            tcp=server.tcp,
            tls=server.tls,
        )
        checks += probe_server_sync(
            target, secret, ca_file=_ca_file(deployment, server.name), timeout=timeout
        )
    return checks


def talk_checks(deployment: Deployment, reports: Reports) -> list[Check]:

    checks: list[Check] = []
    for host in deployment.nextcloud_hosts:
        nextcloud = reports.nextcloud.get(host.name)
        if nextcloud is None:
            unread = unread_reason(reports.run, host.name)
            if unread:
                checks.append(Check.not_run(host.name, "talk settings read", unread))
            else:
                checks.append(Check(host.name, "talk settings read", False, 0.0, "not read"))
            continue
        for server in deployment.turn_servers:
            turn = reports.turn.get(server.name)
            if turn is None:
                unread = unread_reason(reports.run, server.name)
                if unread:
                    name = f"talk settings match {server.name}"
                    checks.append(Check.not_run(host.name, name, f"not compared: {unread}"))
                continue
            secret = effective_secret(deployment, reports, server.name)
            checks.append(talk_matches_coturn(nextcloud, turn, secret))
    return checks


def uclient_checks(from_host: str, reports: Reports) -> list[Check]:

    runs = reports.uclient.get(from_host)
    if runs is None:
        unread = unread_reason(reports.run, from_host)
        if unread:
            return [Check.not_run(from_host, "turnutils_uclient", unread)]
        return [Check(from_host, "turnutils_uclient", False, 0.0, "did not run on that host")]
    checks = []
    for run in runs:
        item = run.get("item") or {}
        if run.get("skipped"):
            continue
        checks.append(
            uclient_check(
                from_host, str(item.get("host")), run.get("rc"), str(run.get("stdout", ""))
            )
        )
    return checks


def unreachable_hosts(run: RunResult) -> set[str]:
    return {f["host"] for f in run.failures if f["status"] == "unreachable"}


def skip_unreachable(hosts: list[str], run: RunResult, name: str) -> tuple[list[str], list[Check]]:
    """`hosts` split into those worth another playbook run and a not-run `name` check for each
    host the read found unreachable: that host is already reported once, by read_checks."""
    unreachable = unreachable_hosts(run)
    skipped = [Check.not_run(h, name, f"{h} was unreachable") for h in hosts if h in unreachable]
    return [h for h in hosts if h not in unreachable], skipped


def limit_excluding(limit: str | None, hosts: set[str]) -> str | None:
    """An Ansible --limit pattern: `limit` (or all hosts) without `hosts` (patterns joined by
    commas, `!` excludes; Ansible docs, "Patterns: targeting hosts and groups")."""
    if not hosts:
        return limit
    return ",".join([limit or "all", *(f"!{host}" for host in sorted(hosts))])


def within_limit(deployment: Deployment, limit: str | None) -> Deployment:
    """The deployment as `--limit` narrows it: hosts outside the limit are neither read nor
    checked (their checks would only report them as unread)."""
    if not limit:
        return deployment
    from dataclasses import replace

    from talkdeploy.inventory import limit_hosts

    selected = set(limit_hosts(deployment.inventory, limit))
    return replace(
        deployment,
        turn_servers=[s for s in deployment.turn_servers if s.name in selected],
        nextcloud_hosts=[h for h in deployment.nextcloud_hosts if h.name in selected],
    )
