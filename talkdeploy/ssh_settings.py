"""The SSH settings Ansible will use for each host, for the preflight (talkdeploy/preflight.py).

Read from the inventory talkdeploy already loaded (talkdeploy/inventory.py keeps every
`ansible_*` variable, templated, vault values decrypted) with the `-e` values on top (Ansible's
highest precedence), then resolved exactly as Ansible resolves them: the connection plugin's
options through Ansible's own config manager (variables, ansible.cfg, ANSIBLE_* environment:
ansible_user, ansible_port, ansible_ssh_private_key_file, ansible_ssh_common_args,
ansible_ssh_extra_args, ANSIBLE_SSH_ARGS, host_key_checking) and the become plugin's password.
For OpenSSH, `ssh -G` then applies ~/.ssh/config and the `-o` options (UserKnownHostsFile,
StrictHostKeyChecking, IdentityFile, Port, User, ProxyJump) the way ssh itself will; it
evaluates the configuration only and opens no connection (ssh(1), -G).

Where the check cannot reproduce what Ansible will do (a ProxyJump or ProxyCommand, a value
that is still a template or vault-locked, a become method other than sudo), the host is marked
`deferred` and Ansible itself checks it when the run starts.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from talkdeploy.inventory import LoadedInventory

OPENSSH = ("ssh", "smart")
PARAMIKO = ("paramiko", "paramiko_ssh")
# Ansible's paramiko connection reads these known_hosts files and no UserKnownHostsFile
# (ansible-core lib/ansible/plugins/connection/paramiko_ssh.py, Connection._connect_uncached).
PARAMIKO_KNOWN_HOSTS = (
    "~/.ssh/known_hosts",
    "/etc/ssh/ssh_known_hosts",
    "/etc/openssh/ssh_known_hosts",
)
# What `ssh -G` lists when no IdentityFile is configured (ssh_config(5), IdentityFile).
DEFAULT_IDENTITIES = ("id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk",
                      "id_xmss", "id_dsa")  # fmt: skip


class SettingsError(RuntimeError):
    """An `-e` value the preflight cannot read (Ansible would refuse it too)."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.fix = fix


@dataclass(frozen=True)
class SshTarget:
    name: str
    address: str
    port: int = 22
    user: str | None = None
    key_files: tuple[str, ...] = ()
    look_for_keys: bool = True  # no key configured: try the default identities (as ssh does)
    password: str | None = None
    become_password: str | None = None
    connection: str = "ssh"  # ssh | paramiko
    known_hosts: tuple[str, ...] = ("~/.ssh/known_hosts",)
    strict: str = "yes"  # yes: unknown refused | accept-new | no: not checked
    skipped: str = ""  # not an SSH host: why
    deferred: str = ""  # an SSH host the preflight leaves to Ansible: why


def extra_variables(
    extra_vars: Iterable[str], vault_password_file: Path | None = None
) -> dict[str, Any]:
    """`-e` values as ansible-playbook reads them: key=value, JSON/YAML, or @file (may be vault)."""
    from ansible.errors import AnsibleError
    from ansible.parsing.splitter import parse_kv

    from talkdeploy.inventory import plain, use_vault_password
    from talkdeploy.inventory_bounds import bounded_loader

    loader = bounded_loader()
    if vault_password_file is not None and vault_password_file.is_file():
        use_vault_password(loader, vault_password_file)
    found: dict[str, Any] = {}
    for extra in extra_vars:
        text = extra.strip()
        try:  # as ansible-core lib/ansible/utils/vars.py, load_extra_vars
            if text.startswith("@"):
                data = loader.load_from_file(text[1:])
            elif text.startswith(("{", "[")):
                data = loader.load(text)
            else:
                data = parse_kv(text)
        except (AnsibleError, OSError) as error:
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise SettingsError(
                f"-e {text[:80]}: {first}",
                "give -e key=value, a JSON/YAML mapping, or @FILE of an existing YAML file "
                "(vault-encrypted files need --vault-password-file)",
            ) from error
        if isinstance(data, Mapping):
            found.update({str(k): plain(v) for k, v in data.items()})
    return found


def _plugin_options(kind: str, name: str, variables: Mapping[str, Any]) -> dict[str, Any]:
    """The plugin's options as Ansible resolves them (vars > env > ansible.cfg > default)."""
    from ansible import constants
    from ansible.plugins.loader import become_loader, connection_loader

    loader = connection_loader if kind == "connection" else become_loader
    loader.get(name, class_only=True)  # registers the plugin's option definitions
    options: dict[str, Any] = constants.config.get_plugin_options(kind, name, variables=variables)
    return options


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def ssh_dash_g(argv: list[str]) -> dict[str, list[str]] | None:
    """`ssh -G ...`: the configuration ssh would use, as {option: [values]}; None without ssh."""
    binary = shutil.which("ssh")
    if binary is None:
        return None
    run = subprocess.run(
        [binary, "-G", *argv], capture_output=True, text=True, check=False, timeout=10,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if run.returncode != 0:
        return None
    found: dict[str, list[str]] = {}
    for line in run.stdout.splitlines():
        key, _, value = line.partition(" ")
        found.setdefault(key.lower(), []).append(value.strip())
    return found


def _dash_o(args: list[str]) -> dict[str, str]:
    """-o Key=Value options (and -p, -l, -i, -J) of an argument list: the fallback without ssh."""
    found: dict[str, str] = {}
    short = {"-p": "port", "-l": "user", "-i": "identityfile", "-J": "proxyjump"}
    index = 0
    while index < len(args):
        arg = args[index]
        value = args[index + 1] if index + 1 < len(args) else ""
        if arg == "-o":
            key, _, setting = value.replace(" ", "=", 1).partition("=")
            found.setdefault(key.lower(), setting.strip('"'))
            index += 2
        elif arg in short:
            found.setdefault(short[arg], value)
            index += 2
        else:
            index += 1
    return found


def _strictness(value: str | None) -> str:
    text = (value or "ask").lower()
    if text in ("no", "false", "off"):
        return "no"
    if text == "accept-new":
        return "accept-new"
    return "yes"  # yes, true, ask (no one can answer the question during a run)


def _openssh(
    name: str, address: str, variables: Mapping[str, Any], become_password: str | None
) -> SshTarget:
    options = _plugin_options("connection", "ssh", variables)
    user = _text(options.get("remote_user"))
    port = options.get("port")
    key = _text(options.get("private_key_file"))
    # The command line the ssh connection plugin builds, in its order: OpenSSH keeps the first
    # value it gets for an option (ansible-core lib/ansible/plugins/connection/ssh.py,
    # Connection._build_command).
    args = shlex.split(str(options.get("ssh_args") or ""))
    if options.get("host_key_checking") is False:
        args += ["-o", "StrictHostKeyChecking=no"]
    if port:
        args += ["-o", f"Port={port}"]
    if key:
        args += ["-o", f'IdentityFile="{Path(key).expanduser()}"']
    if user:
        args += ["-o", f"User={user}"]
    for setting in ("ssh_common_args", "ssh_extra_args"):
        args += shlex.split(str(options.get(setting) or ""))
    resolved = ssh_dash_g([*args, address])
    if resolved is None:  # no ssh binary: the -o options given, OpenSSH's defaults otherwise
        given = _dash_o(args)
        resolved = {k: [v] for k, v in given.items()}
        resolved.setdefault("hostname", [address])
        resolved.setdefault("userknownhostsfile", ["~/.ssh/known_hosts"])
        resolved.setdefault("globalknownhostsfile", ["/etc/ssh/ssh_known_hosts"])

    def first(option: str) -> str | None:
        values = resolved.get(option) if resolved else None
        return values[0] if values else None

    defaults = {f"~/.ssh/{n}" for n in DEFAULT_IDENTITIES}
    explicit = [i for i in resolved.get("identityfile", []) if i not in defaults]
    known = [f for option in ("userknownhostsfile", "globalknownhostsfile")
             for value in resolved.get(option, []) for f in value.split()]  # fmt: skip
    deferred = ""
    proxy = first("proxyjump") or first("proxycommand")
    if proxy and proxy != "none":
        deferred = f"reached through {proxy!r} (ProxyJump/ProxyCommand): OpenSSH checks it"
    return SshTarget(
        name=name,
        address=first("hostname") or address,
        port=int(first("port") or 22),
        user=first("user") or user,
        key_files=tuple(str(Path(k).expanduser()) for k in explicit),
        look_for_keys=not explicit,
        password=_text(options.get("password")),
        become_password=become_password,
        connection="ssh",
        known_hosts=tuple(known),
        strict=_strictness(first("stricthostkeychecking")),
        deferred=deferred,
    )


def _paramiko(
    name: str, address: str, variables: Mapping[str, Any], become_password: str | None
) -> SshTarget:
    options = _plugin_options("connection", "paramiko_ssh", variables)
    key = _text(options.get("private_key_file"))
    strict = "yes" if options.get("host_key_checking", True) else "no"
    if strict == "yes" and options.get("host_key_auto_add"):
        strict = "accept-new"
    proxy = _text(options.get("proxy_command"))
    return SshTarget(
        name=name,
        address=address,
        port=int(options.get("port") or 22),
        user=_text(options.get("remote_user")),
        key_files=(str(Path(key).expanduser()),) if key else (),
        look_for_keys=bool(options.get("look_for_keys", True)) and key is None,
        password=_text(options.get("password")),
        become_password=become_password,
        connection="paramiko",
        known_hosts=PARAMIKO_KNOWN_HOSTS,
        strict=strict,
        deferred=f"reached through ProxyCommand {proxy!r}: paramiko checks it" if proxy else "",
    )


def _still_templated(variables: Mapping[str, Any]) -> list[str]:
    return sorted(k for k, v in variables.items() if isinstance(v, str) and "{{" in v)


def target_for(
    name: str,
    variables: Mapping[str, Any],
    connection: str | None = None,
    unresolved: Mapping[str, str] | None = None,
) -> SshTarget:
    """One host's SSH view from its `ansible_*` variables (inventory, then -e)."""
    # Ansible: a host's ansible_connection wins over `-c/--connection` (variable precedence).
    conn = str(variables.get("ansible_connection") or connection or "ssh").rsplit(".", 1)[-1]
    address = str(variables.get("ansible_host") or variables.get("ansible_ssh_host") or name)
    if conn not in OPENSSH + PARAMIKO:
        return SshTarget(
            name, address, connection=conn, skipped=f"reached with ansible_connection={conn}"
        )
    locked = sorted(
        k for k in (unresolved or {}) if k.startswith("ansible_") and k not in variables
    )
    templated = _still_templated(variables)
    if locked or templated:
        why = ", ".join(locked + templated)
        return SshTarget(name, address, connection=conn,
                         deferred=f"{why} cannot be read here: Ansible checks it")  # fmt: skip
    method = str(variables.get("ansible_become_method") or "sudo").rsplit(".", 1)[-1]
    become = _plugin_options("become", "sudo", variables) if method == "sudo" else {}
    become_password = _text(become.get("become_pass"))
    build = _openssh if conn in OPENSSH else _paramiko
    target = build(name, address, variables, become_password)
    if method != "sudo" and not target.deferred:
        target = replace(target, deferred=f"become method {method}: Ansible checks it")
    return target


def targets(
    loaded: LoadedInventory,
    *,
    limit: str | None = None,
    connection: str | None = None,
    extra_vars: Iterable[str] = (),
    vault_password_file: Path | None = None,
) -> list[SshTarget]:
    """Every selected host's SSH view, with Ansible's settings for it."""
    extra = {k: v for k, v in extra_variables(extra_vars, vault_password_file).items()
             if k.startswith("ansible_")}  # fmt: skip
    from talkdeploy.inventory import limit_hosts

    found = []
    for name in limit_hosts(loaded, limit):
        host = loaded.hosts[name]
        variables = {k: v for k, v in host.inventory.items() if k.startswith("ansible_")}
        variables.update(extra)
        found.append(target_for(name, variables, connection, host.unresolved))
    return found
