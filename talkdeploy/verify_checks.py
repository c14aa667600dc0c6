"""verify's checks, built from the host reports and the probes: one Check per claim.

Talk's settings are compared with what coturn serves, turnutils_uclient's output is judged,
and the STUN/TURN probes (talkdeploy.probe.stun_turn) run from here. Secrets are compared and
shown only as fingerprints.

Each check's seconds are its own: a probe's time on the wire; for a check judged from what the
verify playbook read, the duration of the task(s) that read its evidence on the hosts (the
callback's per-host `duration`, kept in Reports.times) plus the time of the judgement here.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from talkdeploy.errors import ExitCode
from talkdeploy.host_reports import (
    TALK_SETTINGS_READ,
    TURN_CONFIG_READ,
    NextcloudReport,
    TurnReport,
    effective_secret,
)
from talkdeploy.probe import Check
from talkdeploy.shared import masking

if TYPE_CHECKING:
    from talkdeploy.host_reports import Reports
    from talkdeploy.model import Deployment
    from talkdeploy.run_result import RunResult

LOST = re.compile(r"Total lost packets\s+(\d+)\s+\(([\d.]+)%\)")
# The command module's `delta`, str(datetime.timedelta) (ansible-core 2.19
# lib/ansible/modules/command.py, main: r['delta'] = to_text(r['end'] - r['start'])).
DELTA = re.compile(r"^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$")


def _since(started: float, before: float = 0.0) -> float:
    """`before` (seconds measured elsewhere) plus the time since `started` (time.monotonic())."""
    return round(before + time.monotonic() - started, 3)


def _split(value: Any) -> set[str]:
    return {part.strip() for part in str(value or "").split(",") if part.strip()}


def talk_matches_coturn(
    nextcloud: NextcloudReport, turn: TurnReport, secret: str | None, read_seconds: float = 0.0
) -> Check:
    """Talk hands out only what this coturn serves: its server:port, schemes, protocols, secret.

    Its seconds: `read_seconds` (what reading the two reports took on the hosts: talk_checks
    passes it; drift shows no time and passes none) plus this comparison's own time."""
    started = time.monotonic()
    ok, detail = _talk_against_coturn(nextcloud, turn, secret)
    name = f"talk settings match {turn.host}"
    return Check(nextcloud.host, name, ok, _since(started, read_seconds), detail)


def _talk_against_coturn(
    nextcloud: NextcloudReport, turn: TurnReport, secret: str | None
) -> tuple[bool, str]:
    if nextcloud.error:
        return False, nextcloud.error
    endpoint = turn.endpoint
    server = f"{endpoint.get('public_name')}:{endpoint.get('listening_port')}"
    entries = [e for e in nextcloud.turn_servers if str(e.get("server", "")) == server]
    if not entries:
        known = ", ".join(str(e.get("server")) for e in nextcloud.turn_servers) or "none"
        return False, f"Talk has no TURN server {server} (it has: {known})"
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
        return False, f"{server}: " + "; ".join(problems)
    detail = f"{server}: " + "; ".join(
        f"{e.get('schemes', 'turn')} over {e.get('protocols')}" for e in entries
    ) + f"; secret {masking.fingerprint(str(entries[0].get('secret')))}"  # fmt: skip
    return True, detail


def delta_seconds(delta: Any) -> float | None:
    """The command module's `delta` ("0:00:01.234567") in seconds; None when it has none."""
    match = DELTA.match(str(delta or ""))
    if match is None:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def uclient_check(
    from_host: str, target: str, rc: int | None, stdout: str, ran: float | None
) -> Check:
    """turnutils_uclient's verdict: its exit code AND `Total lost packets` (the code alone lies).

    Its seconds: `ran`, how long the command ran on `from_host` (its `delta`), plus this
    judgement. None: it never started (the module reports no delta then), so only the
    judgement is timed, and the detail says so."""
    started = time.monotonic()
    ok, detail = _uclient_verdict(rc, stdout)
    if ran is None:
        detail += "; it never started: seconds are the controller's judgement only"
    return Check(from_host, f"turnutils_uclient to {target}", ok, _since(started, ran or 0), detail)


def _uclient_verdict(rc: int | None, stdout: str) -> tuple[bool, str]:
    lost = LOST.search(stdout)
    if rc == 124:
        return False, "timed out after 30 s (port filtered?)"
    if "Cannot complete Allocation" in stdout or rc not in (0, None):
        last = stdout.strip().splitlines()[-1] if stdout.strip() else ""
        return False, f"exit {rc}: {last}"
    if lost is None:
        return False, "no `Total lost packets` line in its output"
    count, percent = int(lost.group(1)), lost.group(2)
    return count == 0, f"lost {count} packets ({percent}%)"


def read_checks(reports: Reports) -> list[Check]:
    """A check per task that failed or was unreachable while reading, timed as that task took
    on that host; and, when ansible-playbook did not run at all, one timed as the whole read."""
    checks = []
    durations = reports.times.of_failures(reports.run.failures)
    for failure, duration in zip(reports.run.failures, durations, strict=True):
        detail = f"{failure['task']}: {failure['msg']}"
        if duration is None:
            # Ansible reported it without handing a task to the host (an include that did not
            # load): nothing on the host to time.
            detail += " (reported by Ansible before any task ran: nothing to time)"
        name = f"read state ({failure['status']})"
        checks.append(Check(failure["host"], name, False, round(duration or 0.0, 3), detail))
    if reports.run.exit_code == ExitCode.USER_ERROR:
        checks.append(Check("-", "read state", False, reports.seconds, reports.run.log_tail))
    return checks


def unread_reason(run: RunResult, host: str) -> str | None:
    """Why the read-only playbook has no report from `host`, when that only follows from a
    failure read_checks already shows; None when nothing explains it."""
    statuses = {f["status"] for f in run.failures if f["host"] == host}
    if "unreachable" in statuses:
        return f"{host} was unreachable"
    if statuses:
        return f"reading {host} failed"
    if run.exit_code == ExitCode.USER_ERROR:
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
        started = time.monotonic()
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
            # Timed as the read of turnserver.conf that found none, plus this lookup.
            read = reports.times.of(server.name, TURN_CONFIG_READ)
            checks.append(Check(server.name, "secret known", False, _since(started, read), reason))
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
    """Talk's settings on each Nextcloud host against each TURN server's, each comparison timed
    as the two reads that gave its evidence (occ config:list on the Nextcloud host, the
    turnserver.conf read on the TURN host) plus the comparison."""
    checks: list[Check] = []
    for host in deployment.nextcloud_hosts:
        nextcloud = reports.nextcloud.get(host.name)
        if nextcloud is None:
            unread = unread_reason(reports.run, host.name)
            if unread:
                checks.append(Check.not_run(host.name, "talk settings read", unread))
            else:
                # Timed as every task the read ran on that host (0 when none did).
                seconds = round(reports.times.on_host(host.name), 3)
                checks.append(Check(host.name, "talk settings read", False, seconds, "not read"))
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
            read = reports.times.of(host.name, TALK_SETTINGS_READ) + reports.times.of(
                server.name, TURN_CONFIG_READ
            )
            checks.append(talk_matches_coturn(nextcloud, turn, secret, read))
    return checks


def uclient_checks(from_host: str, reports: Reports) -> list[Check]:
    """turnutils_uclient's verdict per TURN server, each timed as its own run on `from_host`
    (the loop item's `delta`, not the whole loop task)."""
    runs = reports.uclient.get(from_host)
    if runs is None:
        unread = unread_reason(reports.run, from_host)
        if unread:
            return [Check.not_run(from_host, "turnutils_uclient", unread)]
        # Timed as every task the read ran on that host (0 when none did).
        seconds = round(reports.times.on_host(from_host), 3)
        return [Check(from_host, "turnutils_uclient", False, seconds, "did not run on that host")]
    checks = []
    for run in runs:
        item = run.get("item") or {}
        if run.get("skipped"):
            continue
        target, rc, stdout = str(item.get("host")), run.get("rc"), str(run.get("stdout", ""))
        checks.append(uclient_check(from_host, target, rc, stdout, delta_seconds(run.get("delta"))))
    return checks


def unreachable_hosts(run: RunResult) -> set[str]:
    return {f["host"] for f in run.failures if f["status"] == "unreachable"}


def skip_unreachable(hosts: list[str], run: RunResult, name: str) -> tuple[list[str], list[Check]]:
    """`hosts` split into those worth another playbook run and a not-run `name` check for each
    host the read found unreachable: that host is already reported once, by read_checks."""
    unreachable = unreachable_hosts(run)
    skipped = [Check.not_run(h, name, f"{h} was unreachable") for h in hosts if h in unreachable]
    return [h for h in hosts if h not in unreachable], skipped


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
