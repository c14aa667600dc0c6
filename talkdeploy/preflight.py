"""Before a playbook starts: can every SSH host be reached, and can it become root?

The connection settings are the ones Ansible will use (talkdeploy/ssh_settings.py reads them
from the loaded inventory, `-e`, ansible.cfg, the environment and, for OpenSSH, `ssh -G`).
paramiko does the SSH (it needs no ssh binary, so the check works on CI runners without one,
like `--connection paramiko`). All hosts are tried at once and all problems are reported
together, each with its reason and a fix:

    dns            the name does not resolve
    refused        nothing listens on the SSH port (or a firewall rejects)
    timeout        no answer (filtered port, host down)
    host-key       the host key is unknown, or it changed (Ansible would refuse it too)
    auth           the SSH server refused the user's key / password
    ssh            an SSH protocol error
    sudo-password  sudo needs a password and none is configured, or refused the one given
    no-sudo        the user may not become root at all

Hosts reached another way (ansible_connection local, docker, ...) are `skipped`; hosts whose
settings the check cannot reproduce (ProxyJump, host certificates, a vault-locked value) are
`deferred`: Ansible itself checks them when the run starts, nothing is blocked.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import shlex
import socket
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from talkdeploy.ssh_settings import SshTarget

FIXES = {
    "dns": "check the host name or set ansible_host to an address",
    "refused": "start sshd on the host or set ansible_port to the port it listens on",
    "timeout": "check the address, the host's firewall and any security group for the SSH port",
    "auth": "check ansible_user and ansible_ssh_private_key_file (or the keys in ssh-agent)",
    "ssh": "check that an SSH server answers on that port",
    "sudo-password": "give the sudo password: ansible_become_password in a vault-encrypted "
    "host_vars file, or -e @FILE (a vault file holding it), or allow the user NOPASSWD sudo",
    "no-sudo": "allow the user to run sudo, or connect as root",
}


@dataclass
class Reach:
    host: str
    address: str
    port: int
    ok: bool
    reason: str  # "" when ok, "skipped", "deferred", or one of FIXES' keys / "host-key"
    detail: str
    fix: str
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class KnownKey:
    """One known_hosts line that names the host."""

    file: str
    line: int
    key: Any  # paramiko.PKey

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


class HostKeyProblem(Exception):
    """An unknown or changed host key, with OpenSSH's kind of explanation and fix."""

    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(detail)
        self.fix = fix


def fingerprint(key: Any) -> str:
    """OpenSSH's SHA256 fingerprint of a host key (`ssh-keygen -lf`)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def key_type(key: Any) -> str:
    """ED25519, RSA, ECDSA: the names OpenSSH shows."""
    name = str(key.get_name())
    for short in ("ed25519", "rsa", "ecdsa", "dss"):
        if short in name:
            return short.upper()
    return name


def known_name(address: str, port: int) -> str:
    """How known_hosts names the host: `[addr]:port` when not on port 22 (sshd(8))."""
    return address if port == 22 else f"[{address}]:{port}"


def _matches(pattern: str, name: str) -> bool:
    from paramiko.hostkeys import HostKeys  # type: ignore[import-untyped]

    if pattern.startswith("|1|"):
        return bool(HostKeys.hash_host(name, pattern) == pattern)
    return fnmatch.fnmatchcase(name, pattern)


def known_keys(files: Iterable[str], name: str) -> tuple[list[KnownKey], bool]:
    """The known_hosts lines naming `name`, and whether a @cert-authority line exists."""
    from paramiko.hostkeys import HostKeyEntry

    found: list[KnownKey] = []
    authority = False
    for file in files:
        path = Path(file).expanduser()
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        for number, line in enumerate(lines, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            if text.startswith("@"):
                authority = authority or text.startswith("@cert-authority")
                continue
            try:
                entry = HostKeyEntry.from_line(text, number)
            except Exception:  # noqa: S112 - a key type paramiko cannot read is skipped, as ssh does
                continue
            if entry is None or entry.key is None:
                continue
            patterns = entry.hostnames
            if any(p.startswith("!") and _matches(p[1:], name) for p in patterns):
                continue
            if any(_matches(p, name) for p in patterns if not p.startswith("!")):
                found.append(KnownKey(str(path), number, entry.key))
    return found, authority


def changed_key(target: SshTarget, offered: Any, known: list[KnownKey]) -> HostKeyProblem:
    """OpenSSH's 'REMOTE HOST IDENTIFICATION HAS CHANGED', in one line and a fix."""
    name = known_name(target.address, target.port)
    same_type = [k for k in known if k.key.get_name() == offered.get_name()] or known
    first = same_type[0]
    detail = (
        f"the host key of {name} has CHANGED: it offers {key_type(offered)} "
        f"{fingerprint(offered)}, {first.where} has {fingerprint(first.key)}"
    )
    fix = (
        "someone may be intercepting the connection, or the host was reinstalled; compare the "
        "new fingerprint with the host's console (ssh-keygen -lf "
        "/etc/ssh/ssh_host_ed25519_key.pub), and only then: "
        f"ssh-keygen -R {shlex.quote(name)} -f {_shell_path(first.file)} and add the new key"
    )
    return HostKeyProblem(detail, fix)


def unknown_key(target: SshTarget, offered: Any) -> HostKeyProblem:
    name = known_name(target.address, target.port)
    files = ", ".join(target.known_hosts) or "no known_hosts file"
    offers = f"{key_type(offered)} {fingerprint(offered)}"
    detail = f"unknown host key: {name} offers {offers}, not in {files}"
    add_to = target.known_hosts[0] if target.known_hosts else "~/.ssh/known_hosts"
    port = "" if target.port == 22 else f" -p {target.port}"
    fix = (
        "compare the fingerprint with the host's console (ssh-keygen -lf "
        "/etc/ssh/ssh_host_ed25519_key.pub), then add it: "
        f"ssh-keyscan -t {key_type(offered).lower()}{port} {target.address} "
        f">> {_shell_path(add_to)}"
    )
    if target.connection == "paramiko":
        fix += " (Ansible's paramiko reads ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts only)"
    return HostKeyProblem(detail, fix)


def classify(error: BaseException) -> str:
    """The reason an SSH connection failed, from the exception paramiko or the socket raised."""
    import paramiko  # type: ignore[import-untyped]

    if isinstance(error, socket.gaierror):
        return "dns"
    if isinstance(error, HostKeyProblem | paramiko.BadHostKeyException):
        return "host-key"
    if isinstance(error, paramiko.AuthenticationException):
        return "auth"
    if isinstance(error, paramiko.ssh_exception.NoValidConnectionsError):
        return "refused"
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, TimeoutError | socket.timeout):
        return "timeout"
    return "ssh"


def _become(client: Any, target: SshTarget, timeout: float) -> tuple[str, str]:
    """("", detail) when root is reachable, else (reason, detail)."""

    def run(command: str, stdin_text: str | None = None) -> tuple[int, str]:
        stdin, stdout, stderr = client.exec_command(command, timeout=timeout)
        if stdin_text is not None:  # the password goes through stdin, never a command line
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
            return (
                "sudo-password",
                f"sudo asks {target.user or 'the user'} for a password and none is configured",
            )
        status, out = run("sudo -S -p '' true", target.become_password + "\n")
        if status == 0:
            return "", "sudo with the configured become password"
        return "sudo-password", "sudo refused the configured become password"
    return "no-sudo", out.splitlines()[-1] if out else f"sudo exited {status}"


def _auth_detail(target: SshTarget, error: BaseException) -> str:
    keys = ", ".join(target.key_files) or "ssh-agent / default keys"
    how = "password" if target.password else f"key {keys}"
    return f"the SSH server refused user {target.user or '(local user)'} with {how}: {error}"


def check(target: SshTarget, *, timeout: float = 10.0) -> Reach:
    """Connect, authenticate and try to become root on one host."""
    import paramiko

    started = time.monotonic()

    def done(ok: bool, reason: str, detail: str, fix: str | None = None) -> Reach:
        fix = FIXES.get(reason, "") if fix is None else fix
        seconds = round(time.monotonic() - started, 3)
        return Reach(target.name, target.address, target.port, ok, reason, detail, fix, seconds)

    if target.skipped:
        return done(True, "skipped", target.skipped, "")
    if target.deferred:
        return done(True, "deferred", target.deferred, "")

    name = known_name(target.address, target.port)
    known, authority = known_keys(target.known_hosts, name)
    if authority and not known and target.strict != "no":
        return done(True, "deferred", "host certificates (@cert-authority): left to OpenSSH", "")

    class Policy(paramiko.MissingHostKeyPolicy):  # type: ignore[misc]
        def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
            if target.strict == "yes":
                raise unknown_key(target, key)

    client = paramiko.SSHClient()
    if target.strict != "no":
        for entry in known:  # paramiko then prefers these key types, as OpenSSH does
            client.get_host_keys().add(name, entry.key.get_name(), entry.key)
    client.set_missing_host_key_policy(Policy())
    pkey = None
    if target.key_files:
        # Loaded here (PKey.from_path reads every key format) so that a refused key is an auth
        # failure, not a key-format riddle from paramiko's per-class key_filename loading.
        try:
            pkey = paramiko.PKey.from_path(Path(target.key_files[0]))
        except Exception as error:
            return done(False, "auth", f"cannot load {target.key_files[0]}: {error}")
    try:
        client.connect(
            target.address,
            port=target.port,
            username=target.user,
            password=target.password,
            pkey=pkey,
            key_filename=list(target.key_files[1:]) or None,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            allow_agent=True,
            look_for_keys=target.look_for_keys,
        )
    except paramiko.BadHostKeyException as error:
        problem = changed_key(target, error.key, known)
        return done(False, "host-key", str(problem), problem.fix)
    except HostKeyProblem as problem:
        return done(False, "host-key", str(problem), problem.fix)
    except paramiko.AuthenticationException as error:
        return done(False, "auth", _auth_detail(target, error))
    except Exception as error:  # every failure is reported, with its reason
        reason = classify(error)
        detail = str(error) or type(error).__name__
        if reason == "refused":
            detail = f"nothing listens on {name} (connection refused)"
        elif reason == "timeout":
            detail = f"no answer from {name} within {timeout:g} s ({detail})"
        return done(False, reason, detail)
    try:
        reason, detail = _become(client, target, timeout)
    except Exception as error:
        return done(False, "ssh", f"connected, but running sudo failed: {error}")
    finally:
        client.close()
    return done(reason == "", reason, detail)


def check_all(targets: Iterable[SshTarget], *, timeout: float = 10.0) -> list[Reach]:
    """Every host at once (in threads); results in the order given."""
    listed = list(targets)
    if not listed:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(listed))) as pool:
        return list(pool.map(lambda t: check(t, timeout=timeout), listed))


def _shell_path(path: str) -> str:
    """A path quoted for a shell command line the operator copies, with a leading `~/` left
    outside the quotes so that the shell still expands it."""
    if path.startswith("~/"):
        return "~/" + shlex.quote(path[2:])
    return shlex.quote(path)
