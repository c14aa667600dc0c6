"""`talkdeploy init [DIR]`: write a documented inventory to start from."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from talkdeploy.errors import UserError
from talkdeploy.report import Reporter, pass_reporter
from talkdeploy.shared import INSTALL_KINDS

if TYPE_CHECKING:
    from rich.console import Console

_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")


def _host_name(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not _NAME.match(value):
        raise click.BadParameter(f"{value!r} is not a host name (e.g. turn.example.org)")
    return value


def _interactive() -> bool:
    return sys.stdin.isatty()


def _ask(value: str | None, prompt: str, option: str, kind: str = "host") -> str:
    """The option's value, else (on a terminal only) the answer to a prompt."""
    if value is not None:
        return value
    if not _interactive():
        raise UserError(
            f"{option} is required when not run on a terminal",
            fix=f"pass {option}, or run `talkdeploy init` on a terminal to be asked",
        )
    if kind == "install":
        return str(click.prompt(prompt, type=click.Choice(INSTALL_KINDS), default="bare"))
    while True:
        answer = str(click.prompt(prompt)).strip()
        if _NAME.match(answer):
            return answer
        click.echo(f"{answer!r} is not a host name (e.g. turn.example.org)", err=True)


@click.command("init")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=".")
@click.option("--turn-domain", callback=_host_name, help="Public DNS name of the TURN server.")
@click.option("--nextcloud-host", callback=_host_name, help="Inventory name of the Nextcloud host.")
@click.option(
    "--nextcloud-install",
    type=click.Choice(INSTALL_KINDS),
    help="How Nextcloud runs: bare (php occ), docker (official image), aio, snap.",
)
@click.option("--nextcloud-path", help="bare: Nextcloud directory (default /var/www/nextcloud).")
@click.option("--docker-container", help="docker: the Nextcloud container (default nextcloud).")
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@pass_reporter
def command(
    reporter: Reporter,
    directory: Path,
    turn_domain: str | None,
    nextcloud_host: str | None,
    nextcloud_install: str | None,
    nextcloud_path: str | None,
    docker_container: str | None,
    force: bool,
) -> None:
    """Write a documented inventory (hosts.yml, group_vars) into DIRECTORY.

    On a terminal it asks for the values it needs; otherwise give them as options.
    Existing files are never overwritten without --force.
    """
    from talkdeploy.scaffold import Answers, ScaffoldError, scaffold, write

    answers = Answers(
        turn_domain=_ask(turn_domain, "TURN server's public DNS name", "--turn-domain"),
        nextcloud_host=_ask(nextcloud_host, "Nextcloud host (inventory name)", "--nextcloud-host"),
        nextcloud_install=_ask(
            nextcloud_install, "How is Nextcloud installed", "--nextcloud-install", "install"
        ),
        nextcloud_path=nextcloud_path,
        docker_container=docker_container,
    )
    try:
        files = scaffold(answers, directory=str(directory))
        written = write(directory, files, force)
    except ScaffoldError as error:
        raise UserError(str(error)) from error
    data = {"directory": str(directory), "files": [str(path) for path in written]}

    def draw(console: Console) -> None:
        for path in written:
            console.print(f"wrote {path}")
        console.print(f"next: talkdeploy validate -i {directory}")

    reporter.result(data, draw)
