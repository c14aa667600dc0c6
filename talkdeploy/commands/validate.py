"""`talkdeploy validate`: every mistake in an inventory, before any host is touched."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from talkdeploy.commands.inventory_options import inventory_options, load_deployment
from talkdeploy.problems import Problem
from talkdeploy.report import Reporter, pass_reporter

if TYPE_CHECKING:
    from rich.console import Console


@click.command("validate")
@inventory_options
@click.option("--strict", is_flag=True, help="Fail (exit 1) on warnings too.")
@pass_reporter
@click.pass_context
def command(
    ctx: click.Context,
    reporter: Reporter,
    inventory: Path,
    vault_password_file: Path | None,
    strict: bool,
) -> None:
    """Check an inventory: every problem at once, each with its file, key and fix.

    Exit status 0 when there is no error (warnings allowed unless --strict), 1 otherwise.
    """
    deployment, problems = load_deployment(inventory, vault_password_file)
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    failed = errors > 0 or (strict and warnings > 0)
    data = {
        "inventory": str(inventory),
        "ok": not failed,
        "errors": errors,
        "warnings": warnings,
        "turn_servers": [server.name for server in deployment.turn_servers],
        "nextcloud_hosts": [host.name for host in deployment.nextcloud_hosts],
        "problems": [problem.as_dict() for problem in problems],
    }

    def draw(console: Console) -> None:
        draw_problems(console, problems)
        summary = (
            f"{len(deployment.turn_servers)} TURN server(s), "
            f"{len(deployment.nextcloud_hosts)} Nextcloud host(s): "
            f"{errors} error(s), {warnings} warning(s)"
        )
        style = "red" if errors else ("yellow" if warnings else "green")
        console.print(f"[{style}]{summary}[/{style}]")

    reporter.result(data, draw)
    ctx.exit(1 if failed else 0)


def draw_problems(console: Console, problems: list[Problem]) -> None:
    from rich.markup import escape

    for problem in problems:
        style = "red" if problem.severity == "error" else "yellow"
        host = f" [dim]({escape(problem.host)})[/dim]" if problem.host else ""
        console.print(
            f"[{style}]{problem.severity}[/{style}] {escape(problem.file)} "
            f"[bold]{escape(problem.key)}[/bold]{host}"
        )
        console.print(f"  {escape(problem.message)}")
        console.print(f"  [dim]fix:[/dim] {escape(problem.fix)}")
