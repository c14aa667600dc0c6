"""The talkdeploy command line: the click group and its global options.

Each command lives in talkdeploy/commands/<name>.py as a thin click command
that calls the module owning the job; heavy imports (ansible, aioice, docker)
happen inside those modules' functions, so `talkdeploy --help` stays instant.
"""

from __future__ import annotations

import importlib

import click

from talkdeploy import __version__
from talkdeploy.report import Reporter

# talkdeploy/commands/<module>.py each define `command`; listed in help order.
COMMAND_MODULES = (
    "init",
    "validate",
    "render",
    "plan",
    "apply",
    "verify",
    "status",
    "secret",
    "paths",
    "lab",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="talkdeploy")
@click.option(
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    envvar="TALKDEPLOY_OUTPUT",
    help="Result format; json is for pipelines.",
)
@click.option("--no-color", is_flag=True, envvar="NO_COLOR", help="Plain text without colours.")
@click.pass_context
def main(ctx: click.Context, output: str, no_color: bool) -> None:
    """Deploy and verify coTURN and Nextcloud Talk with Ansible."""
    ctx.obj = Reporter("json" if output == "json" else "text", color=not no_color)


for _module in COMMAND_MODULES:
    main.add_command(importlib.import_module(f"talkdeploy.commands.{_module}").command)
