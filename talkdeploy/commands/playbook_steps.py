"""Steps shared by the commands that run playbooks (apply, plan, status, verify):
validate first, check SSH, run with the progress view, report the result."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from talkdeploy.commands.inventory_options import load_deployment
from talkdeploy.errors import ExitCode
from talkdeploy.report import Reporter

if TYPE_CHECKING:
    from rich.console import Console

    from talkdeploy.model import Deployment
    from talkdeploy.preflight import Reach
    from talkdeploy.run_result import Masker, RunResult
    from talkdeploy.runner import RunOptions

F = TypeVar("F", bound=Callable[..., Any])


# Spelled as ansible-playbook spells them; every command that reaches hosts takes these two.
limit_option = click.option("-l", "--limit", help="Only these hosts or groups (Ansible pattern).")
connection_option = click.option(
    "-c",
    "--connection",
    type=click.Choice(["ssh", "paramiko"]),
    help="SSH client: OpenSSH (Ansible's default) or paramiko (no ssh binary).",
)


def run_options(function: F) -> F:
    """The ansible-playbook options apply and plan share."""
    for option in reversed(
        [
            limit_option,
            click.option("-t", "--tags", help="Only tasks with these tags."),
            click.option(
                "-e",
                "--extra-vars",
                "extra_vars",
                multiple=True,
                help="Extra variables, key=value or @file (repeatable).",
            ),
            connection_option,
            click.option(
                "--skip-preflight",
                is_flag=True,
                help="Do not check SSH reachability and sudo before the run.",
            ),
        ]
    ):
        function = option(function)
    return function


# Ansible's password variables (ansible-core docs, "Connecting to hosts: behavioral inventory
# parameters"): read for the preflight, never shown.
PASSWORD_VARIABLES = ("ansible_password", "ansible_ssh_pass", "ansible_become_password",
                      "ansible_become_pass")  # fmt: skip


def secrets_to_mask(deployment: Deployment) -> list[str]:
    """Every secret the inventory holds, masked in all output as a second line of defence."""
    found = [server.secret for server in deployment.turn_servers if server.secret]
    for host in deployment.nextcloud_hosts:
        for name, value in host.variables.items():
            if name.endswith("secret") and isinstance(value, str) and value:
                found.append(value)
    for loaded in deployment.inventory.hosts.values():
        found += [str(loaded.inventory[n]) for n in PASSWORD_VARIABLES if loaded.inventory.get(n)]
    return found


def validate_or_exit(
    ctx: click.Context, reporter: Reporter, inventory: Path, vault_password_file: Path | None
) -> Deployment:
    from talkdeploy.commands.validate import draw_problems
    from talkdeploy.problems import has_errors

    deployment, problems = load_deployment(inventory, vault_password_file)
    if has_errors(problems):
        data = {"ok": False, "stage": "validate", "problems": [p.as_dict() for p in problems]}

        def draw(console: Console) -> None:
            draw_problems(console, problems)
            console.print("[red]invalid inventory: nothing was run[/red]")

        reporter.result(data, draw)
        ctx.exit(1)
    for problem in problems:
        reporter.warn(f"{problem.file} {problem.key}: {problem.message}")
    return deployment


def preflight_or_exit(
    ctx: click.Context, reporter: Reporter, deployment: Deployment, options: RunOptions, stage: str
) -> list[Reach]:
    """Every SSH host reachable and able to become root, or a report of all that are not.

    The hosts that cannot be used are returned, to run without them (without_hosts); when no
    TURN server or Nextcloud host of the selection can be used, nothing runs: exit 3.
    """
    from talkdeploy import ssh_settings
    from talkdeploy.errors import UserError
    from talkdeploy.preflight import check_all

    try:
        targets = ssh_settings.targets(
            deployment.inventory,
            limit=options.limit,
            connection=options.connection,
            extra_vars=options.extra_vars,
            vault_password_file=options.vault_password_file,
        )
    except ssh_settings.SettingsError as error:
        raise UserError(str(error), fix=error.fix) from error
    reaches = check_all(targets)
    for reach in reaches:
        if reach.reason == "deferred":
            reporter.warn(f"{reach.host}: not checked before the run ({reach.detail})")
    bad = [r for r in reaches if not r.ok]
    if not bad:
        return []
    deployed = {s.name for s in deployment.turn_servers} | {
        h.name for h in deployment.nextcloud_hosts
    }
    if any(r.ok and r.host in deployed for r in reaches):
        for reach in bad:
            reporter.warn(
                f"{reach.host} ({reach.address}:{reach.port}) {reach.reason}: {reach.detail}; "
                f"the run goes on without it (fix: {reach.fix})"
            )
        return bad
    data = {
        "ok": False,
        "stage": stage,
        "exit_code": ExitCode.UNREACHABLE,
        "preflight": [r.as_dict() for r in reaches],
    }

    def draw(console: Console) -> None:
        console.print(f"[red]{len(bad)} host(s) cannot be used; nothing was run:[/red]")
        draw_unusable(console, bad)

    reporter.result(data, draw)
    ctx.exit(ExitCode.UNREACHABLE)


def draw_unusable(console: Console, bad: list[Reach]) -> None:
    from rich.markup import escape

    for reach in bad:
        console.print(
            f"  [bold]{escape(reach.host)}[/bold] ({escape(reach.address)}:{reach.port}) "
            f"[red]{reach.reason}[/red]: {escape(reach.detail)}"
        )
        console.print(f"    [dim]fix:[/dim] {escape(reach.fix)}")


def without_hosts(options: RunOptions, deployment: Deployment, bad: list[Reach]) -> RunOptions:
    """The run limited to the usable hosts. Talk keeps its entries for the TURN servers left
    out, and gets none for one it has none for (roles/nextcloud_talk, talk_turn_hosts_kept)."""
    import dataclasses
    import json

    from talkdeploy.inventory import limit_excluding

    if not bad:
        return options
    limit = limit_excluding(options.limit, {reach.host for reach in bad})
    turn_servers = {server.name for server in deployment.turn_servers}
    kept = {reach.host for reach in bad if reach.host in turn_servers}
    for host in deployment.nextcloud_hosts:  # an extra variable replaces the inventory's
        kept.update(str(name) for name in host.variables.get("talk_turn_hosts_kept") or [])
    extra = json.dumps({"talk_turn_hosts_kept": sorted(kept)})
    return dataclasses.replace(options, limit=limit, extra_vars=(*options.extra_vars, extra))


def exit_code_without(result: RunResult, bad: list[Reach]) -> int:
    """The run's own exit code, and 3 (unreachable) when it went well without some hosts."""
    return ExitCode.UNREACHABLE if bad and result.exit_code == 0 else result.exit_code


def run_site(
    reporter: Reporter, options: RunOptions, masker: Masker, playbook: str = "site.yml"
) -> RunResult:
    """Run a playbook with the progress view (rich on a terminal, plain lines otherwise)."""
    from talkdeploy.errors import UserError
    from talkdeploy.resources import ResourcesMissingError, locate
    from talkdeploy.run_view import ProgressView
    from talkdeploy.runner import run_playbook

    try:
        found = locate()
    except ResourcesMissingError as error:
        raise UserError(str(error)) from error
    live = not reporter.wants_json and sys.stderr.isatty()
    with ProgressView(reporter.err_console, live=live) as view:
        return run_playbook(
            found.playbook(playbook),
            options,
            collections=found.collections_path,
            on_event=view,
            masker=masker,
        )


def make_options(
    inventory: Path,
    vault_password_file: Path | None,
    limit: str | None,
    tags: str | None,
    extra_vars: tuple[str, ...],
    connection: str | None,
    check: bool,
    diff: bool,
) -> RunOptions:
    from talkdeploy.runner import RunOptions

    return RunOptions(
        inventory=inventory,
        limit=limit,
        tags=tags,
        check=check,
        diff=diff,
        extra_vars=extra_vars,
        vault_password_file=vault_password_file,
        connection=connection,
    )


def report_run(
    reporter: Reporter,
    result: RunResult,
    title: str,
    show_diffs: bool,
    file_diffs: list[dict[str, Any]] | None = None,
    unusable: list[Reach] | None = None,
) -> None:
    from talkdeploy.run_view import draw_diffs, draw_summary

    exit_code = exit_code_without(result, unusable or [])
    data = {"ok": exit_code == 0, "stage": title, **result.as_dict(), "exit_code": exit_code}
    if not show_diffs:
        data.pop("diffs")
    if file_diffs is not None:
        data["file_diffs"] = file_diffs
    if unusable:
        data["not_run"] = [reach.as_dict() for reach in unusable]

    def draw(console: Console) -> None:
        if show_diffs:
            draw_diffs(console, result.diffs)
        for item in file_diffs or []:
            console.print(f"=== {item['host']}: {item['file']}", style="bold", markup=False)
            if item.get("error"):
                console.print(f"cannot compute: {item['error']}", markup=False)
            console.print(item["diff"], markup=False, highlight=False, end="")
        if file_diffs == []:
            console.print("turnserver.conf and Talk's settings: no change", markup=False)
        draw_summary(console, result, title=title)
        if unusable:
            console.print(
                f"[red]{len(unusable)} host(s) could not be used and were left out:[/red]"
            )
            draw_unusable(console, unusable)

    reporter.result(data, draw)
