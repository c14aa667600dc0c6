"""`talkdeploy verify`: prove the deployment from where the command runs."""

from __future__ import annotations

from dataclasses import replace
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


@click.command("verify")
@inventory_options
@limit_option
@connection_option
@click.option(
    "--from-host",
    help="Also run turnutils_uclient (the Talk guide's test) on this inventory host.",
)
@click.option("--timeout", type=float, default=8.0, show_default=True, help="Seconds per check.")
@click.option(
    "--talk-conversation",
    metavar="USER",
    help="Also create, read back and delete a throwaway conversation owned by this existing "
    "Nextcloud user, through occ (talkdeploy.conversation_check).",
)
@click.option(
    "--talk-conversation-peer", metavar="USER", help="A second existing user to add to it."
)
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
    talk_conversation: str | None,
    talk_conversation_peer: str | None,
) -> None:
    """STUN, TURN over UDP/TCP/TLS, wrong secret refused, no relay to internal networks,
    and Talk's TURN settings equal to coturn's. Each check: pass/fail and time taken;
    "skipped" when it only follows from a host that was not reached (reported once).

    Exit status 0 only when every check passes; 2 when one fails, 3 when a host was
    unreachable, 1 invalid input.
    """
    from talkdeploy.conversation_check import checked_users, conversation_checks
    from talkdeploy.host_reports import read_hosts
    from talkdeploy.inventory import limit_excluding
    from talkdeploy.run_result import Masker
    from talkdeploy.verify_checks import (
        probe_checks,
        read_checks,
        skip_unreachable,
        talk_checks,
        uclient_checks,
        unreachable_hosts,
        within_limit,
    )

    conversation = checked_users(talk_conversation, talk_conversation_peer)  # before any host
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
    deployment = within_limit(deployment, limit)
    targets = [
        {"host": s.name, "address": s.public_name, "port": s.listening_port}
        for s in deployment.turn_servers
    ]
    reports = read_hosts(
        options, masker, uclient_from=from_host, uclient_targets=targets if from_host else None
    )
    # Every check times its own evidence (talkdeploy.verify_checks): no shared number.
    checks = read_checks(reports)
    checks += probe_checks(deployment, reports, timeout)
    checks += talk_checks(deployment, reports)
    if from_host:
        checks += uclient_checks(from_host, reports)
    if conversation:
        hosts = [h.name for h in deployment.nextcloud_hosts]
        reachable, skipped = skip_unreachable(hosts, reports.run, "conversation check")
        checks += skipped
        if reachable:
            limit = limit_excluding(options.limit, unreachable_hosts(reports.run))
            checks += conversation_checks(
                replace(options, limit=limit), masker, reachable, *conversation
            )
    data: dict[str, Any] = masker.deep(
        {"ok": all(c.ok for c in checks), "checks": [c.as_dict() for c in checks]}
    )

    def draw(console: Console) -> None:
        draw_checks(console, data["checks"])

    reporter.result(data, draw)
    if data["ok"]:
        ctx.exit(0)
    ctx.exit(3 if reports.run.exit_code == 3 else 2)


def _result(check: dict[str, Any]) -> str:
    if check.get("skipped"):
        return "[yellow]skipped[/yellow]"
    return "[green]pass[/green]" if check["ok"] else "[red]FAIL[/red]"


def _names(checks: list[dict[str, Any]]) -> str:
    from rich.markup import escape

    return escape(", ".join(f"{c['host']}: {c['name']}" for c in checks))


def draw_checks(console: Console, checks: list[dict[str, Any]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="verify")
    for column in ("host", "check", "result", "seconds", "detail"):
        table.add_column(column)
    for check in checks:
        table.add_row(
            escape(check["host"]),
            escape(check["name"]),
            _result(check),
            f"{check['seconds']:.3f}",
            escape(check["detail"]),
        )
    console.print(table)
    skipped = [c for c in checks if c.get("skipped")]
    failed = [c for c in checks if not c["ok"] and not c.get("skipped")]
    ran = len(checks) - len(skipped)
    if failed:
        console.print(f"[red]{len(failed)} of {ran} checks failed:[/red] " + _names(failed))
    elif ran:
        that_ran = " that ran" if skipped else ""
        console.print(f"[green]all {ran} checks{that_ran} passed[/green]")
    if skipped:
        # Not run because of a failure shown above (an unreachable host): not failures of
        # their own, and nothing they would prove was proven.
        console.print(f"[yellow]{len(skipped)} not run:[/yellow] " + _names(skipped))
