"""Options every inventory-reading command shares, and the load-and-build step behind them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from talkdeploy.errors import UserError

if TYPE_CHECKING:
    from talkdeploy.model import Deployment
    from talkdeploy.problems import Problem

F = TypeVar("F", bound=Callable[..., Any])


def inventory_options(function: F) -> F:
    """`-i/--inventory` and `--vault-password-file`, as ansible-playbook spells them.

    Declared once, applied by this one decorator to every command that reads an inventory.
    A missing -i path is click's BadParameter; cli.py reports it as a user error (exit 1).
    """
    function = click.option(
        "--vault-password-file",
        type=click.Path(path_type=Path, dir_okay=False),
        envvar="ANSIBLE_VAULT_PASSWORD_FILE",
        help="File holding the Ansible Vault password [env: ANSIBLE_VAULT_PASSWORD_FILE].",
    )(function)
    function = click.option(
        "-i",
        "--inventory",
        type=click.Path(path_type=Path, exists=True),
        required=True,
        envvar="TALKDEPLOY_INVENTORY",
        help="Inventory directory or hosts file [env: TALKDEPLOY_INVENTORY].",
    )(function)
    return function


def load_deployment(
    inventory: Path, vault_password_file: Path | None
) -> tuple[Deployment, list[Problem]]:
    """Load and validate, turning an unreadable inventory into a user error (exit 1)."""
    from talkdeploy.inventory import InventoryError, load
    from talkdeploy.model import build
    from talkdeploy.specs import SpecError

    try:
        return build(load(inventory, vault_password_file))
    except (InventoryError, SpecError) as error:
        raise UserError(str(error)) from error
