"""`talkdeploy plan`: what `apply` would change, as diffs, without changing anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
from talkdeploy.report import Reporter, pass_reporter


@click.command("plan")
@inventory_options
@run_options
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
) -> None:
    """Show what apply would change (ansible --check --diff); secrets are masked.

    Exit status as apply's: 0, 2 a host failed, 3 unreachable, 1 invalid input.
    """
    from talkdeploy.run_result import Masker

    deployment = validate_or_exit(ctx, reporter, inventory, vault_password_file)
    options = make_options(
        inventory, vault_password_file, limit, tags, extra_vars, connection, True, True
    )
    unusable = (
        [] if skip_preflight else preflight_or_exit(ctx, reporter, deployment, options, "preflight")
    )
    options = without_hosts(options, deployment, unusable)
    masker = Masker(secrets_to_mask(deployment))
    result = run_site(reporter, options, masker)
    files: list[dict[str, Any]] | None = None  # not compared when the run failed: no "no change"
    if result.exit_code == 0:
        from talkdeploy.host_reports import read_hosts
        from talkdeploy.plan_diff import plan_diffs

        # turnserver.conf and Talk's settings are written by no_log tasks (they hold the
        # secret), so Ansible shows no diff for them: compare the hosts with the render.
        reports = read_hosts(options, masker)
        files = masker.deep(plan_diffs(deployment, reports))
    report_run(reporter, result, "plan", show_diffs=True, file_diffs=files, unusable=unusable)
    ctx.exit(exit_code_without(result, unusable))
