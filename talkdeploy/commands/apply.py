"""`talkdeploy apply`: validate, check SSH, run playbooks/site.yml, show what changed."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from talkdeploy.commands.inventory_options import inventory_options
from talkdeploy.commands.playbook_steps import (
    exit_code_without,
    make_options,
    preflight_or_exit,
    report_run,
    run_options,
    run_site,
    secrets_to_mask,
    validate_or_exit,
    without_hosts,
)
from talkdeploy.errors import UserError
from talkdeploy.report import Reporter, pass_reporter


@click.command("apply")
@inventory_options
@run_options
@click.option("--check", is_flag=True, help="Dry run: change nothing (ansible --check).")
@click.option("--diff", is_flag=True, help="Show file and settings differences.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_reporter
@click.pass_context
def command(
    ctx: click.Context,
    reporter: Reporter,
    inventory: Path,
    vault_password_file: Path | None,
    limit: str | None,
    tags: str | None,
    extra_vars: tuple[str, ...],
    connection: str | None,
    skip_preflight: bool,
    check: bool,
    diff: bool,
    yes: bool,
) -> None:
    """Deploy coturn, its firewall and Talk's TURN settings (playbooks/site.yml).

    Exit status: 0 success, 2 a host failed, 3 a host was unreachable, 1 invalid input.
    Hosts the preflight cannot use are named and left out; the others still converge (exit 3).
    """
    from talkdeploy.run_result import Masker

    deployment = validate_or_exit(ctx, reporter, inventory, vault_password_file)
    options = make_options(
        inventory, vault_password_file, limit, tags, extra_vars, connection, check, diff
    )
    if not (yes or check):
        hosts = len(deployment.turn_servers) + len(deployment.nextcloud_hosts)
        if not sys.stdin.isatty():
            raise UserError(
                "not a terminal: apply cannot ask for confirmation",
                fix="pass --yes to apply without confirming",
            )
        click.confirm(f"Apply to {hosts} host(s) of {inventory}?", abort=True, err=True)
    unusable = (
        [] if skip_preflight else preflight_or_exit(ctx, reporter, deployment, options, "preflight")
    )
    options = without_hosts(options, deployment, unusable)
    result = run_site(reporter, options, Masker(secrets_to_mask(deployment)))
    title = "check" if check else "apply"
    report_run(reporter, result, title, show_diffs=diff, unusable=unusable)
    ctx.exit(exit_code_without(result, unusable))
