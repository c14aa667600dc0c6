"""`talkdeploy verify`: prove the deployment from where the command runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from talkdeploy.commands.inventory_options import inventory_options
from talkdeploy.commands.playbook_steps import (
    connection_option,
    limit_option,
    make_options,
    secrets_to_mask,
    validate_or_exit,
)
from talkdeploy.errors import UserError
from talkdeploy.report import Reporter, pass_reporter

if TYPE_CHECKING:
    from rich.console import Console

    from talkdeploy.model import Deployment
    from talkdeploy.probe import Check
    from talkdeploy.status import Reports


@click.command("verify")
@inventory_options
@limit_option
@connection_option
@click.option(
    "--from-host",
    help="Also run turnutils_uclient (the Talk guide's test) on this inventory host.",
)
@click.option("--timeout", type=float, default=8.0, show_default=True, help="Seconds per check.")
@pass_reporter
@click.pass_context
def command(
    ctx: click.Context,
    reporter: Reporter,
    inventory: Path,
    vault_password_file: Path | None,
    limit: str | None,
    connection: str | None,
    from_host: str | None,
    timeout: float,
) -> None:
    """STUN, TURN over UDP/TCP/TLS, wrong secret refused, no relay to internal networks,
    and Talk's TURN settings equal to coturn's. Each check: pass/fail and time taken.

    Exit status 0 only when every check passes; 2 when one fails, 3 when a host was
    unreachable, 1 invalid input.
    """
    from talkdeploy.runner import Masker
    from talkdeploy.status import read_hosts

    deployment = validate_or_exit(ctx, reporter, inventory, vault_password_file)
    if from_host and from_host not in deployment.inventory.hosts:
        raise UserError(
            f"--from-host: {from_host} is not an inventory host",
            fix="name a host of the inventory: " + ", ".join(sorted(deployment.inventory.hosts)),
        )
    options = make_options(
        inventory, vault_password_file, limit, None, (), connection, False, False
    )
    masker = Masker(secrets_to_mask(deployment))
    targets = [
        {"host": s.name, "address": s.public_name, "port": s.listening_port}
        for s in deployment.turn_servers
    ]
    started = time.monotonic()
    reports = read_hosts(
        options, masker, uclient_from=from_host, uclient_targets=targets if from_host else None
    )
    checks = read_checks(reports, time.monotonic() - started)
    checks += probe_checks(deployment, reports, timeout)
    checks += talk_checks(deployment, reports)
    if from_host:
        checks += uclient_checks(from_host, reports)
    data: dict[str, Any] = masker.deep(
        {"ok": all(c.ok for c in checks), "checks": [c.as_dict() for c in checks]}
    )

    def draw(console: Console) -> None:
        draw_checks(console, data["checks"])

    reporter.result(data, draw)
    if data["ok"]:
        ctx.exit(0)
    ctx.exit(3 if reports.run.exit_code == 3 else 2)


def read_checks(reports: Reports, seconds: float) -> list[Check]:
    from talkdeploy.probe import Check

    checks = [
        Check(f["host"], f"read state ({f['status']})", False, 0.0, f"{f['task']}: {f['msg']}")
        for f in reports.run.failures
    ]
    if reports.run.exit_code == 1:
        checks.append(Check("-", "read state", False, round(seconds, 3), reports.run.log_tail))
    return checks


def _ca_file(deployment: Deployment, host: str) -> str | None:
    loaded = deployment.inventory.hosts.get(host)
    value = loaded.inventory.get("talkdeploy_probe_ca_file") if loaded else None
    return str(value) if value else None


def probe_checks(deployment: Deployment, reports: Reports, timeout: float) -> list[Check]:
    from talkdeploy.probe import Check
    from talkdeploy.probe.stun_turn import TurnTarget, probe_server_sync
    from talkdeploy.status import effective_secret

    checks: list[Check] = []
    for server in deployment.turn_servers:
        secret = effective_secret(deployment, reports, server.name)
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
    from talkdeploy.probe import Check
    from talkdeploy.probe.talk import talk_matches_coturn
    from talkdeploy.status import effective_secret

    checks: list[Check] = []
    for host in deployment.nextcloud_hosts:
        nextcloud = reports.nextcloud.get(host.name)
        if nextcloud is None:
            checks.append(Check(host.name, "talk settings read", False, 0.0, "not read"))
            continue
        for server in deployment.turn_servers:
            turn = reports.turn.get(server.name)
            if turn is None:
                continue
            secret = effective_secret(deployment, reports, server.name)
            checks.append(talk_matches_coturn(nextcloud, turn, secret))
    return checks


def uclient_checks(from_host: str, reports: Reports) -> list[Check]:
    from talkdeploy.probe import Check
    from talkdeploy.probe.talk import uclient_check

    runs = reports.uclient.get(from_host)
    if runs is None:
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


def draw_checks(console: Console, checks: list[dict[str, Any]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="verify")
    for column in ("host", "check", "result", "seconds", "detail"):
        table.add_column(column)
    for check in checks:
        result = "[green]pass[/green]" if check["ok"] else "[red]FAIL[/red]"
        table.add_row(
            escape(check["host"]),
            escape(check["name"]),
            result,
            f"{check['seconds']:.3f}",
            escape(check["detail"]),
        )
    console.print(table)
    failed = [c for c in checks if not c["ok"]]
    if failed:
        console.print(f"[red]{len(failed)} of {len(checks)} checks failed:[/red] "
                      + escape(", ".join(f"{c['host']}: {c['name']}" for c in failed)))  # fmt: skip
    else:
        console.print(f"[green]all {len(checks)} checks passed[/green]")
