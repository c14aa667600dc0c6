"""`talkdeploy status`: a quick drift report of the deployed TURN servers and Talk."""

from __future__ import annotations

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
from talkdeploy.federation_state import federation_summary
from talkdeploy.report import Reporter, pass_reporter

if TYPE_CHECKING:
    from rich.console import Console


@click.command("status")
@inventory_options
@limit_option
@connection_option
@pass_reporter
@click.pass_context
def command(
    ctx: click.Context,
    reporter: Reporter,
    inventory: Path,
    vault_password_file: Path | None,
    limit: str | None,
    connection: str | None,
) -> None:
    """coturn version, service, ports and secret fingerprint; Talk's version and TURN match.

    Read-only. Exit status 0 when nothing drifted, 2 on drift or a failed read, 3 when a
    host was unreachable, 1 invalid input. Secrets appear only as fingerprints.
    """
    from talkdeploy.drift import status_data
    from talkdeploy.host_reports import read_hosts
    from talkdeploy.run_result import Masker

    deployment = validate_or_exit(ctx, reporter, inventory, vault_password_file)
    options = make_options(
        inventory, vault_password_file, limit, None, (), connection, False, False
    )
    masker = Masker(secrets_to_mask(deployment))
    reports = read_hosts(options, masker)
    data = masker.deep(status_data(deployment, reports))

    def draw(console: Console) -> None:
        draw_status(console, data)

    reporter.result(data, draw)
    run_code = reports.run.exit_code
    ctx.exit(run_code if run_code in (2, 3) else (0 if data["ok"] else 2))


def draw_status(console: Console, data: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    turn = Table(title="TURN servers")
    for column in ("host", "coturn", "service", "listening", "secret (sha256/8)"):
        turn.add_column(column)
    for row in data["turn_servers"]:
        if not row.get("reachable"):
            turn.add_row(escape(row["host"]), "-", "[red]not read[/red]", "-", "-")
            continue
        turn.add_row(
            escape(row["host"]),
            escape(row["version"] or "not installed"),
            f"{row['service']} ({row['enabled']})",
            escape(" ".join(row["listening"]) or "-"),
            escape(", ".join(row["secret_fingerprints"]) or "none"),
        )
    console.print(turn)
    talk = Table(title="Nextcloud Talk")
    for column in ("host", "talk", "TURN settings", "federation"):
        talk.add_column(column)
    for row in data["nextcloud"]:
        if not row.get("reachable"):
            talk.add_row(escape(row["host"]), "-", "[red]not read[/red]", "-")
            continue
        matches = row["error"] or "; ".join(
            f"{m['turn_server']}: {'match' if m['ok'] else 'DIFFERENT'}"
            for m in row["turn_settings"]
        )
        talk.add_row(
            escape(row["host"]),
            escape(row["talk_version"] or "-"),
            escape(matches),
            escape(federation_summary(row.get("federation"))),
        )
    console.print(talk)
    for failure in data["failures"]:
        console.print(f"[red]{failure['status']}[/red] {escape(failure['host'])}: "
                      f"{escape(failure['task'])}: {escape(failure['msg'])}")  # fmt: skip
    if data["drift"]:
        console.print("[yellow]drift:[/yellow]")
        for item in data["drift"]:
            console.print(f"  {escape(item)}")
    else:
        console.print("[green]no drift[/green]")
