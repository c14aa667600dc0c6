"""`talkdeploy lab up|down|status`: a local lab of containers to deploy to and verify."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from talkdeploy.errors import UserError
from talkdeploy.report import Reporter, pass_reporter

if TYPE_CHECKING:
    from rich.console import Console

HONESTY = (
    "The lab's Nextcloud is an occ stand-in (the occ emulator), not a real Nextcloud; "
    "the TURN server, its firewall and the relay tests are real."
)


@click.group("lab")
def command() -> None:
    """A local lab: TURN server, Nextcloud (occ emulator) and client containers."""


@command.command("up")
@click.option(
    "--distro",
    type=click.Choice(["debian12", "debian13"]),
    default="debian12",
    show_default=True,
    help="Base image of the three containers.",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("inventories/lab"),
    show_default=True,
    help="Where the lab's inventory (and the CA of its self-signed certificate) is written.",
)
@click.option(
    "--ssh",
    is_flag=True,
    help="Reach the TURN and Nextcloud hosts over SSH as a non-root sudo user (sshd, a key and "
    "a known_hosts file made for the lab) instead of `docker exec`.",
)
@pass_reporter
def up_command(reporter: Reporter, distro: str, directory: Path, ssh: bool) -> None:
    """Start the lab's containers and write a ready inventory for them."""
    from talkdeploy import lab

    def say(message: str) -> None:
        if reporter.wants_json:
            return
        reporter.err_console.print(f"[dim]lab:[/dim] {message}")

    try:
        built = lab.up(distro=distro, directory=directory, say=say, ssh=ssh)
    except lab.LabError as error:
        raise UserError(str(error)) from error
    inventory_dir = _shown(built.inventory.parent)
    next_commands = [
        f"talkdeploy plan -i {inventory_dir}",
        f"talkdeploy apply -i {inventory_dir}",
        f"talkdeploy verify -i {inventory_dir}",
        "talkdeploy lab down",
    ]
    data = {**built.as_dict(), "next": next_commands, "note": HONESTY}

    def draw(console: Console) -> None:
        _draw_members(console, data["members"])
        console.print(f"inventory: {_shown(built.inventory)}")
        for name, access in built.ssh.items():
            console.print(
                f"over SSH: {name} as {access.user}@{access.address}, key "
                f"{_shown(access.key_file)}, known_hosts {_shown(access.known_hosts)}",
                markup=False,
            )
        console.print(
            f"CA of the TURN server's self-signed certificate: {_shown(built.ca_certificate)}"
        )
        console.print(f"[bold]note:[/bold] {HONESTY}")
        console.print("next:")
        for line in next_commands:
            console.print(f"  {line}")

    reporter.result(data, draw)


@command.command("down")
@pass_reporter
def down_command(reporter: Reporter) -> None:
    """Remove the lab's containers and network (those labelled talkdeploy.lab), nothing else."""
    from talkdeploy import lab

    try:
        removed = lab.down()
    except lab.LabError as error:
        raise UserError(str(error)) from error

    def draw(console: Console) -> None:
        if not removed:
            console.print("no lab is up; nothing removed")
        for name in removed:
            console.print(f"removed {name}")

    reporter.result({"removed": removed}, draw)


@command.command("status")
@click.option(
    "--all", "every_lab", is_flag=True, help="Every container labelled talkdeploy.lab, any lab."
)
@pass_reporter
def status_command(reporter: Reporter, every_lab: bool) -> None:
    """List the lab's containers, their role, state and address."""
    from talkdeploy import lab

    try:
        members = [
            member.as_dict() for member in lab.status(None if every_lab else lab.DEFAULT_NAME)
        ]
    except lab.LabError as error:
        raise UserError(str(error)) from error

    def draw(console: Console) -> None:
        if not members:
            console.print("no lab is up; start one with `talkdeploy lab up`")
            return
        _draw_members(console, members)

    reporter.result({"members": members}, draw)


WHAT_RUNS = {
    "turn": "coturn + nftables firewall (real)",
    "nextcloud": "occ emulator (a stand-in for Nextcloud)",
    "client": "turnutils_uclient (real)",
}


def _draw_members(console: Console, members: list[dict[str, Any]]) -> None:
    """One plain line per container (no table borders: names stay whole and copyable)."""
    width = max(len(member["name"]) for member in members)
    for member in members:
        console.print(
            f"  {member['name']:<{width}}  {member['group'] or member['role']:<12}  "
            f"{member['distro']:<8}  {member['state']:<8}  {member['address'] or '-':<15}  "
            f"{WHAT_RUNS.get(member['role'], '')}",
            markup=False,
        )


def _shown(path: Path) -> str:
    """A path relative to the working directory when it is below it (shorter to copy)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
