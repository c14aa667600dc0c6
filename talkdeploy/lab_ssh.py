"""Lab hosts reached over real SSH, set up the way a careful operator sets up a server.

`talkdeploy lab up --ssh` turns the TURN and Nextcloud containers into hosts that Ansible
reaches over SSH instead of `docker exec`:

- openssh-server and sudo from Debian's packages (installed by talkdeploy/lab.py), sshd
  started by systemd;
- a non-root user (`deploy`) with sudo: without a password, or (`sudo_password=`) with one,
  which the operator then gives with `-e ansible_become_password=...` or a vault;
- an ed25519 key made for the lab on this workstation (`<dir>/.ssh/id_ed25519`, 0600);
- a known_hosts file for the lab only (`<dir>/.ssh/known_hosts`), filled by ssh-keyscan and
  used with `-o UserKnownHostsFile=FILE -o StrictHostKeyChecking=yes`: the user's own
  ~/.ssh/known_hosts is neither read nor written, and an unknown or changed key is refused.

The directory is hidden so that Ansible does not read it as an inventory source. The
workstation needs OpenSSH's client tools (ssh-keygen, ssh-keyscan: Debian's openssh-client).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SSH_USER = "deploy"
KEY_NAME = "id_ed25519"
SSH_DIR = ".ssh"

Docker = Callable[..., str]


class SshLabError(RuntimeError):
    """Something the operator can fix; the message says how."""


@dataclass(frozen=True)
class SshAccess:
    """How the workstation reaches one lab host over SSH."""

    address: str
    port: int
    user: str
    key_file: Path
    known_hosts: Path

    def as_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "address": self.address,
            "port": self.port,
            "key": str(self.key_file),
            "known_hosts": str(self.known_hosts),
        }

    def host_vars(self) -> dict[str, Any]:
        """The host's inventory variables: plain Ansible, nothing talkdeploy-specific (no
        ansible_connection: ssh is Ansible's default, and `--connection paramiko` can choose)."""
        return {
            "ansible_host": self.address,
            "ansible_port": self.port,
            "ansible_user": self.user,
            "ansible_ssh_private_key_file": str(self.key_file),
            "ansible_ssh_common_args": (
                f"-o UserKnownHostsFile={self.known_hosts} -o StrictHostKeyChecking=yes"
            ),
        }


def require_client_tools() -> None:
    missing = [tool for tool in ("ssh", "ssh-keygen", "ssh-keyscan") if not shutil.which(tool)]
    if missing:
        raise SshLabError(
            f"`lab up --ssh` needs OpenSSH's client tools ({', '.join(missing)} missing); "
            "install them with `apt-get install openssh-client`"
        )


def make_key(directory: Path) -> Path:
    """The lab's ed25519 key pair, kept when it exists; returns the private key's path."""
    ssh_dir = directory / SSH_DIR
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ssh_dir / KEY_NAME
    if not key.is_file():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "talkdeploy-lab", "-f", str(key)],
            check=True,
            capture_output=True,
        )
    return key


def add_user(
    container: str,
    public_key: str,
    docker: Docker,
    user: str = SSH_USER,
    sudo_password: str | None = None,
) -> None:
    """A non-root user that logs in with the key and may sudo (asking `sudo_password` if set)."""
    rule = "ALL=(ALL:ALL) ALL" if sudo_password else "ALL=(ALL:ALL) NOPASSWD: ALL"
    quoted = shlex.quote(user)
    home = shlex.quote(f"/home/{user}")
    script = (
        f"id {quoted} >/dev/null 2>&1 || useradd --create-home --shell /bin/bash {quoted}\n"
        f"install -d -m 0700 -o {quoted} -g {quoted} {home}/.ssh\n"
        f"cat > {home}/.ssh/authorized_keys\n"
        f"chown {quoted}: {home}/.ssh/authorized_keys\n"
        f"chmod 0600 {home}/.ssh/authorized_keys\n"
        f"echo {shlex.quote(f'{user} {rule}')} > /etc/sudoers.d/{quoted}\n"
        f"chmod 0440 /etc/sudoers.d/{quoted}\n"
    )
    docker("exec", "-i", container, "sh", "-ec", script, input_bytes=public_key.encode())
    if sudo_password:  # through stdin: the password is on no command line
        docker(
            "exec", "-i", container, "chpasswd",
            input_bytes=f"{user}:{sudo_password}\n".encode(),
        )  # fmt: skip


def scan_host_key(address: str, port: int, known_hosts: Path, timeout: float = 30.0) -> None:
    """Record the host's ed25519 key in `known_hosts` (ssh-keyscan, retried while sshd starts),
    replacing what the file said of that host before (a container started again has new keys).

    ssh-keyscan trusts whatever answers; in the lab that is the container just started. For a
    real server, compare the fingerprint with the one its console shows first.
    """
    deadline = time.monotonic() + timeout
    while True:
        scan = subprocess.run(
            ["ssh-keyscan", "-t", "ed25519", "-p", str(port), address],
            capture_output=True,
            text=True,
            check=False,
        )
        if scan.stdout.strip():
            break
        if time.monotonic() > deadline:
            raise SshLabError(f"ssh-keyscan got no host key from {address}:{port}")
        time.sleep(0.5)
    existing = known_hosts.read_text() if known_hosts.is_file() else ""
    kept = [line for line in existing.splitlines() if not names_host(line, address, port)]
    known_hosts.write_text("\n".join([*kept, *scan.stdout.strip().splitlines()]) + "\n")
    known_hosts.chmod(0o600)


def names_host(known_hosts_line: str, address: str, port: int = 22) -> bool:
    """Whether a known_hosts line is about this host (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT":
    comma-separated names first, `[host]:port` for a port other than 22)."""
    name = address if port == 22 else f"[{address}]:{port}"
    return name in known_hosts_line.split(" ", 1)[0].split(",")


def enable(container: str, address: str, directory: Path, docker: Docker) -> SshAccess:
    """Make `container`, where sshd runs, an SSH host for the `deploy` user; returns how to
    reach it."""
    key = make_key(directory)
    add_user(container, Path(f"{key}.pub").read_text(), docker)
    known_hosts = directory / SSH_DIR / "known_hosts"
    scan_host_key(address, 22, known_hosts)
    return SshAccess(address, 22, SSH_USER, key, known_hosts)
