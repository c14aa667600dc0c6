"""The inventory-side TURN secret (`coturn_static_auth_secret`): generate, store, read.

    value = generate()                                   # 64 hex characters from `secrets`
    stored = store(root, value, vault_password_file)     # group_vars/turn_servers/secret.yml
    stored.encrypted                                     # True when a vault password was given

Storage: one file talkdeploy owns, `group_vars/turn_servers/secret.yml` (or
`host_vars/<host>/secret.yml` for one host), written atomically with mode 0600. With a
vault password the value is an inline `!vault` string encrypted by Ansible's own
VaultLib (what `ansible-vault encrypt_string` writes); without one it is plain text and
the caller must warn. The secret is never written to stdout or logs here.
"""

from __future__ import annotations

import os
import secrets as random_source
import tempfile
from dataclasses import dataclass
from pathlib import Path

SECRET_VARIABLE = "coturn_static_auth_secret"  # noqa: S105 - a variable name
SECRET_FILE = "secret.yml"  # noqa: S105 - a file name
HEADER = (
    "---\n"
    "# Written by `talkdeploy secret`; the TURN REST secret shared by coturn and Talk.\n"
    "# Change it with `talkdeploy secret set|generate --force` (or rotate it), not by hand.\n"
)


class SecretError(RuntimeError):
    """The secret cannot be stored (bad value, unreadable vault password, ...)."""


@dataclass(frozen=True)
class StoredSecret:
    path: Path
    encrypted: bool


def generate() -> str:
    """A new secret: 32 random bytes from the OS CSPRNG as 64 hex characters."""
    return random_source.token_hex(32)


def secret_file(root: Path, host: str | None = None) -> Path:
    """group_vars/turn_servers/secret.yml, or host_vars/<host>/secret.yml for one host."""
    from talkdeploy.host_files import UnsafeHostName, host_path

    if host is None:
        return root / "group_vars" / "turn_servers" / SECRET_FILE
    try:
        return host_path(root / "host_vars", host, SECRET_FILE)
    except UnsafeHostName as error:
        raise SecretError(str(error)) from error


def layout_problem(path: Path) -> str | None:
    """Why the secret cannot go to `path` without changing what Ansible reads, or None.

    For a group or host, Ansible reads the first of `<name>`, `<name>.yml`, `<name>.yaml`,
    `<name>.json` that exists (ansible-core 2.19 ansible/parsing/dataloader.py
    `DataLoader.find_vars_files`): creating the directory `<name>/` would hide the file
    `<name>.yml` and every variable in it.
    """
    from talkdeploy.inventory import display_path

    directory = path.parent
    move = f"{display_path(directory)}/main.yml"
    if directory.exists() and not directory.is_dir():
        return (
            f"{display_path(directory)} is a file, and talkdeploy keeps the secret in "
            f"{display_path(path)}: make it a directory with that file as {move} "
            "(rename the file, mkdir, move it in), then run the command again"
        )
    if directory.is_dir():
        return None
    for suffix in (".yml", ".yaml", ".json"):
        sibling = directory.with_name(directory.name + suffix)
        if sibling.exists():
            return (
                f"once {display_path(directory)}/ exists Ansible reads it instead of "
                f"{display_path(sibling)}, whose variables would be lost: move "
                f"{display_path(sibling)} to {move} first, then run the command again"
            )
    return None


MIN_LENGTH = 32
HEX = frozenset("0123456789abcdefABCDEF")


def format_problem(value: str) -> str | None:
    """Why `value` cannot be the TURN secret, or None when it can.

    The coturn role accepts an inventory secret of at least 32 hex characters
    (roles/coturn/defaults/main.yml, coturn_static_auth_secret); so does the CLI.
    """
    if not value:
        return "the secret is empty"
    if any(ch.isspace() for ch in value):
        return "the secret contains whitespace"
    if "{{" in value or "{%" in value:
        return "the secret still contains a Jinja expression after templating"
    if not set(value) <= HEX:
        return "the secret has characters other than hex digits (0-9, a-f)"
    if len(value) < MIN_LENGTH:
        return f"the secret has {len(value)} hex characters, fewer than {MIN_LENGTH}"
    return None


def _vault_block(value: str, vault_password_file: Path) -> str:
    from ansible.cli import CLI
    from ansible.errors import AnsibleError
    from ansible.parsing.dataloader import DataLoader
    from ansible.parsing.vault import VaultLib

    try:
        vault_secrets = CLI.setup_vault_secrets(
            DataLoader(),
            vault_ids=[],
            vault_password_files=[str(vault_password_file)],
            initialize_context=False,
        )
        ciphertext = VaultLib(vault_secrets).encrypt(value, secret=vault_secrets[0][1])
    except (AnsibleError, IndexError, OSError, UnicodeError) as error:
        raise SecretError(f"cannot encrypt with {vault_password_file}: {error}") from error
    lines = ciphertext.decode("ascii").splitlines()
    return "!vault |\n" + "".join(f"  {line}\n" for line in lines)


def render_file(value: str, vault_password_file: Path | None) -> str:
    """The secret file's text: an inline vault string, or the plain value quoted."""
    problem = format_problem(value)
    if problem:
        raise SecretError(problem)
    if vault_password_file is not None:
        return f"{HEADER}{SECRET_VARIABLE}: {_vault_block(value, vault_password_file)}"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{HEADER}{SECRET_VARIABLE}: "{escaped}"\n'


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically; the file is mode 0600 from its first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".secret-", dir=path.parent)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def store(
    root: Path, value: str, vault_password_file: Path | None, host: str | None = None
) -> StoredSecret:
    """Store `value` as the inventory's secret (for all TURN servers, or for `host`)."""
    path = secret_file(root, host)
    problem = layout_problem(path)
    if problem:
        raise SecretError(problem)
    text = render_file(value, vault_password_file)
    try:
        write_private(path, text)
    except OSError as error:
        raise SecretError(f"cannot write {path}: {error.strerror or error}") from error
    return StoredSecret(path, vault_password_file is not None)
