"""Before a playbook starts: can every SSH host be reached, and can it become root?

paramiko does the SSH (it needs no ssh binary, so the check works on CI runners
without one, like `--connection paramiko`). All hosts are tried at once and all
problems are reported together, each with its reason and a fix:

    dns          the name does not resolve
    refused      nothing listens on the SSH port (or a firewall rejects)
    timeout      no answer (filtered port, host down)
    host-key     the host key is unknown or changed (Ansible would refuse it too)
    auth         the SSH server refused the user's key / password
    ssh          an SSH protocol error
    sudo-password  sudo needs a password and none is configured (ansible_become_password)
    no-sudo      the user may not become root at all

Hosts reached another way (ansible_connection local, docker, ...) are not SSH
hosts and are listed as skipped.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SSH_CONNECTIONS = ("ssh", "paramiko", "paramiko_ssh", "ansible.builtin.ssh",
                   "ansible.builtin.paramiko_ssh", "smart")  # fmt: skip

FIXES = {
    "dns": "check the host name or set ansible_host to an address",
    "refused": "start sshd on the host or set ansible_port to the port it listens on",
    "timeout": "check the address, the host's firewall and any security group for the SSH port",
    "host-key": "add the host key to ~/.ssh/known_hosts (ssh-keyscan, after checking it) "
    "or set ANSIBLE_HOST_KEY_CHECKING=False for a lab",
    "auth": "check ansible_user and ansible_ssh_private_key_file (or the ssh-agent)",
    "ssh": "check that an SSH server answers on that port",
    "sudo-password": "give the sudo password (ansible_become_password from a vault, or "
    "--ask-become-pass) or allow the user NOPASSWD sudo",
    "no-sudo": "allow the user to run sudo, or connect as root",
}


@dataclass(frozen=True)
class SshTarget:
    name: str
    address: str
    port: int = 22
    user: str | None = None
    key_file: str | None = None
    password: str | None = None
    become_password: str | None = None
    connection: str = "ssh"


@dataclass
class Reach:
    host: str
    address: str
    port: int
    ok: bool
    reason: str  # "" when ok, "skipped", or one of FIXES' keys
    detail: str
    fix: str
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def classify(error: BaseException) -> str:
    """The reason an SSH connection failed, from the exception paramiko or the socket raised."""
    import paramiko  # type: ignore[import-untyped]

    if isinstance(error, socket.gaierror):
        return "dns"
    if isinstance(error, paramiko.BadHostKeyException | _UnknownHostKeyError):
        return "host-key"
    if isinstance(error, paramiko.AuthenticationException):
        return "auth"
    if isinstance(error, paramiko.ssh_exception.NoValidConnectionsError):
        return "refused"
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(error, paramiko.SSHException) and "host key" in str(error).lower():
        return "host-key"
    return "ssh"


class _UnknownHostKeyError(Exception):
    pass


def _become(client: Any, target: SshTarget, timeout: float) -> tuple[str, str]:
    """("", detail) when root is reachable, else (reason, detail)."""

    def run(command: str, stdin_text: str | None = None) -> tuple[int, str]:
        stdin, stdout, stderr = client.exec_command(command, timeout=timeout)
        if stdin_text is not None:
            stdin.write(stdin_text)
            stdin.flush()
        stdin.channel.shutdown_write()
        status = stdout.channel.recv_exit_status()
        return status, (stdout.read() + stderr.read()).decode(errors="replace").strip()

    status, out = run("id -u")
    if status == 0 and out == "0":
        return "", "connected as root"
    status, out = run("sudo -n true")
    if status == 0:
        return "", "sudo without password"
    if "password is required" in out or "a terminal is required" in out:
        if target.become_password is None:
            return "sudo-password", "sudo asks for a password and none is configured"
        status, out = run("sudo -S -p '' true", target.become_password + "\n")
        if status == 0:
            return "", "sudo with the configured become password"
        return "sudo-password", "sudo refused the configured become password"
    return "no-sudo", out.splitlines()[-1] if out else f"sudo exited {status}"


def check(
    target: SshTarget,
    *,
    timeout: float = 10.0,
    host_key_checking: bool = True,
    known_hosts: Path | None = None,
) -> Reach:
    """Connect, authenticate and try to become root on one host."""
    import paramiko

    started = time.monotonic()

    def done(ok: bool, reason: str, detail: str) -> Reach:
        return Reach(target.name, target.address, target.port, ok, reason, detail,
                     FIXES.get(reason, ""), round(time.monotonic() - started, 3))  # fmt: skip

    if target.connection not in SSH_CONNECTIONS:
        return done(True, "skipped", f"reached with ansible_connection={target.connection}")

    class Refuse(paramiko.MissingHostKeyPolicy):  # type: ignore[misc]
        def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
            raise _UnknownHostKeyError(f"unknown host key {key.get_name()} for {hostname}")

    client = paramiko.SSHClient()
    if host_key_checking:
        # Like OpenSSH's UserKnownHostsFile: a file given replaces the user's own one.
        if known_hosts is None:
            client.load_system_host_keys()  # ~/.ssh/known_hosts
        elif known_hosts.is_file():
            client.load_host_keys(str(known_hosts))
        client.set_missing_host_key_policy(Refuse())
    else:
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 (asked for)
    pkey = None
    if target.key_file:
        try:  # loaded here so that a refused key is an auth failure, not a key-format riddle
            pkey = paramiko.PKey.from_path(Path(target.key_file).expanduser())
        except Exception as error:
            return done(False, "auth", f"cannot load {target.key_file}: {error}")
    try:
        client.connect(
            target.address,
            port=target.port,
            username=target.user,
            password=target.password,
            pkey=pkey,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            allow_agent=True,
            look_for_keys=target.key_file is None and target.password is None,
        )
    except Exception as error:  # every failure is reported, with its reason
        reason = classify(error)
        return done(False, reason, str(error) or type(error).__name__)
    try:
        reason, detail = _become(client, target, timeout)
    except Exception as error:
        return done(False, "ssh", f"connected, but running sudo failed: {error}")
    finally:
        client.close()
    return done(reason == "", reason, detail)


def check_all(
    targets: Iterable[SshTarget],
    *,
    timeout: float = 10.0,
    host_key_checking: bool = True,
    known_hosts: Path | None = None,
) -> list[Reach]:
    """Every host at once (in threads); results in the order given."""
    listed = list(targets)
    if not listed:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(listed))) as pool:
        return list(
            pool.map(
                lambda t: check(
                    t, timeout=timeout, host_key_checking=host_key_checking,
                    known_hosts=known_hosts,
                ),
                listed,
            )
        )  # fmt: skip


def targets_from_inventory(
    inventory: Path,
    vault_password_file: Path | None = None,
    limit: str | None = None,
    connection: str | None = None,
) -> list[SshTarget]:
    """The SSH view of each host, read with Ansible's own inventory and variable managers."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    if vault_password_file is not None:
        from ansible.parsing.vault import VaultSecret

        secret = VaultSecret(vault_password_file.read_bytes().strip())
        loader.set_vault_secrets([("default", secret)])
    manager = InventoryManager(loader=loader, sources=[str(inventory)])
    if limit:
        manager.subset(limit)
    variables = VariableManager(loader=loader, inventory=manager)
    targets = []
    for host in manager.get_hosts("all"):
        raw = variables.get_vars(host=host, include_hostvars=False)
        templar = Templar(loader=loader, variables=raw)

        def value(*names: str, raw: dict[str, Any] = raw, templar: Any = templar) -> Any:
            for name in names:
                if name in raw and raw[name] is not None:
                    return templar.template(raw[name])
            return None

        conn = connection or value("ansible_connection") or "ssh"
        targets.append(
            SshTarget(
                name=host.get_name(),
                address=str(value("ansible_host", "ansible_ssh_host") or host.get_name()),
                port=int(value("ansible_port", "ansible_ssh_port") or 22),
                user=_optional(value("ansible_user", "ansible_ssh_user"))
                or os.environ.get("ANSIBLE_REMOTE_USER"),
                key_file=_optional(
                    value("ansible_ssh_private_key_file", "ansible_private_key_file")
                ),
                password=_optional(value("ansible_password", "ansible_ssh_pass")),
                become_password=_optional(value("ansible_become_password", "ansible_become_pass")),
                connection=str(conn).rsplit(".", 1)[-1],  # ansible.builtin.ssh -> ssh
            )
        )
    return targets


def _optional(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def ansible_host_key_checking() -> bool:
    """Ansible's own setting (ansible.cfg or ANSIBLE_HOST_KEY_CHECKING)."""
    import ansible.constants as constants

    return bool(constants.HOST_KEY_CHECKING)
