"""`talkdeploy secret show|set|generate`: the inventory-side TURN secret.

The secret is printed only by `show`; `set` reads it from a file or stdin (never from
the command line, where `ps` would show it); `generate` makes a new 64-hex one. Both
refuse to replace an existing inventory secret without --force: a new secret breaks
every Talk client until Talk has it, which `talkdeploy apply` (or a rotation) does.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from talkdeploy.commands.inventory_options import inventory_options
from talkdeploy.report import Reporter, pass_reporter

if TYPE_CHECKING:
    from rich.console import Console

    from talkdeploy.inventory import LoadedInventory


@click.group("secret")
def command() -> None:
    """Show, set or generate the TURN secret kept in the inventory."""


def _load(inventory: Path, vault_password_file: Path | None) -> LoadedInventory:
    from talkdeploy.inventory import InventoryError, load
    from talkdeploy.specs import SpecError

    try:
        return load(inventory, vault_password_file)
    except (InventoryError, SpecError) as error:
        raise click.ClickException(str(error)) from error


def _turn_hosts(loaded: LoadedInventory, host: str | None) -> list[str]:
    names = list(loaded.groups.get("turn_servers", ()))
    if host is None:
        return names
    if host not in names:
        raise click.ClickException(f"{host} is not in the turn_servers group of the inventory")
    return [host]


@command.command("show")
@inventory_options
@click.option("--host", help="Only this TURN server.")
@pass_reporter
def show(
    reporter: Reporter, inventory: Path, vault_password_file: Path | None, host: str | None
) -> None:
    """Print each TURN server's inventory secret (this is the one command that prints it)."""
    loaded = _load(inventory, vault_password_file)
    rows: dict[str, dict[str, Any]] = {}
    for name in _turn_hosts(loaded, host):
        found = loaded.hosts[name]
        reason = found.unresolved.get("coturn_static_auth_secret")
        if reason is not None:
            if "vault-encrypted" in reason:
                raise click.ClickException(
                    f"the secret of {name} is vault-encrypted: pass --vault-password-file "
                    "(or set ANSIBLE_VAULT_PASSWORD_FILE)"
                )
            raise click.ClickException(f"the secret of {name} cannot be read here: {reason}")
        value = found.inventory.get("coturn_static_auth_secret") or None
        rows[name] = {
            "secret": value,
            "file": found.origins.get("coturn_static_auth_secret"),
        }

    def draw(console: Console) -> None:
        for name, row in rows.items():
            if row["secret"] is None:
                click.echo(f"{name}: (none in the inventory: kept or generated on the host)")
            else:
                click.echo(f"{name}: {row['secret']}  ({row['file']})")

    reporter.result({"secrets": rows}, draw)


def _current(loaded: LoadedInventory, hosts: list[str]) -> list[str]:
    return [
        name
        for name in hosts
        if loaded.hosts[name].inventory.get("coturn_static_auth_secret")
        or "coturn_static_auth_secret" in loaded.hosts[name].unresolved
    ]


def _store(
    reporter: Reporter,
    inventory: Path,
    vault_password_file: Path | None,
    host: str | None,
    value: str,
    force: bool,
) -> None:
    from talkdeploy.inventory import default_vault_password_file, display_path
    from talkdeploy.secrets import SecretError, store

    vault_password_file = vault_password_file or default_vault_password_file()
    loaded = _load(inventory, vault_password_file)
    hosts = _turn_hosts(loaded, host)
    existing = _current(loaded, hosts)
    if existing and not force:
        raise click.ClickException(
            "the inventory already holds a secret for " + ", ".join(existing) + "; replacing "
            "it breaks Talk clients until Talk has the new one. Use --force (then run "
            "`talkdeploy apply`), or rotate it without a broken window."
        )
    try:
        stored = store(loaded.root, value, vault_password_file, host)
    except SecretError as error:
        raise click.ClickException(str(error)) from error
    if not stored.encrypted:
        reporter.warn(
            f"{display_path(stored.path)} holds the secret in plain text (mode 0600): "
            "no vault password is configured (--vault-password-file or "
            "ANSIBLE_VAULT_PASSWORD_FILE)"
        )
    # Read the inventory back as Ansible will: a higher-precedence value elsewhere wins.
    reloaded = _load(inventory, vault_password_file)
    overridden = {
        name: reloaded.hosts[name].origins.get("coturn_static_auth_secret", "?")
        for name in hosts
        if reloaded.hosts[name].inventory.get("coturn_static_auth_secret") != value
    }
    for name, origin in overridden.items():
        reporter.warn(f"{name} still gets another secret, set in {origin}; remove it there")
    data = {
        "file": str(stored.path),
        "encrypted": stored.encrypted,
        "hosts": [name for name in hosts if name not in overridden],
        "overridden": overridden,
    }

    def draw(console: Console) -> None:
        how = "vault-encrypted" if stored.encrypted else "plain text, mode 0600"
        console.print(f"secret stored in {display_path(stored.path)} ({how})")
        console.print("it reaches coturn and Talk with the next `talkdeploy apply`")

    reporter.result(data, draw)
    if overridden:
        raise click.exceptions.Exit(1)


@command.command("set")
@inventory_options
@click.option("--host", help="Only this TURN server (host_vars) instead of all of them.")
@click.option(
    "--from-file",
    type=click.File("r"),
    help="Read the secret from this file ('-' for stdin). Default: prompt, or stdin if piped.",
)
@click.option("--force", is_flag=True, help="Replace a secret the inventory already holds.")
@pass_reporter
def set_secret(
    reporter: Reporter,
    inventory: Path,
    vault_password_file: Path | None,
    host: str | None,
    from_file: Any,
    force: bool,
) -> None:
    """Store a secret you provide (never as an argument: `ps` would show it)."""
    try:
        if from_file is not None:
            value = from_file.read().strip()
        elif sys.stdin.isatty():
            value = click.prompt("TURN secret", hide_input=True, confirmation_prompt=True)
        else:
            value = sys.stdin.read().strip()
    except UnicodeDecodeError as error:
        raise click.ClickException(
            "the secret is not UTF-8 text (a secret is 32 or more hex digits)"
        ) from error
    except OSError as error:
        raise click.ClickException(f"cannot read the secret: {error.strerror or error}") from error
    _store(reporter, inventory, vault_password_file, host, value, force)


@command.command("generate")
@inventory_options
@click.option("--host", help="Only this TURN server (host_vars) instead of all of them.")
@click.option("--force", is_flag=True, help="Replace a secret the inventory already holds.")
@pass_reporter
def generate_secret(
    reporter: Reporter,
    inventory: Path,
    vault_password_file: Path | None,
    host: str | None,
    force: bool,
) -> None:
    """Generate a new secret (64 hex characters) and store it; it is not printed."""
    from talkdeploy.secrets import generate

    _store(reporter, inventory, vault_password_file, host, generate(), force)
