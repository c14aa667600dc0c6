"""`talkdeploy paths`: where the Ansible content an installed talkdeploy runs lives."""

from __future__ import annotations

import click

from talkdeploy.errors import UserError
from talkdeploy.report import Reporter, pass_reporter


@click.command("paths")
@pass_reporter
def command(reporter: Reporter) -> None:
    """Show where the collection (roles, playbooks, plugins) and templates talkdeploy runs are."""
    from talkdeploy.resources import ResourcesMissingError, locate

    try:
        found = locate()
    except ResourcesMissingError as error:
        raise UserError(str(error)) from error
    data = {
        "layout": found.layout,
        "collection": str(found.root),
        "collections_path": str(found.collections_path),
        "roles": str(found.roles),
        "playbooks": str(found.playbooks),
        "templates": str(found.templates),
    }
    reporter.result(data, lambda _console: click.echo(_as_lines(data)))


def _as_lines(data: dict[str, str]) -> str:
    return "\n".join(f"{key:<10} {value}" for key, value in data.items())
