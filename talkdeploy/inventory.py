"""Read an Ansible inventory exactly as Ansible does, for the model to validate.

Ansible's own InventoryManager, VariableManager and DataLoader do the reading, so
hosts.yml or INI sources, group_vars/ and host_vars/ files and directories, variable
precedence and vault-encrypted values all behave as in `ansible-playbook`. Each
host's values are then templated with Ansible's Templar on top of the defaults of
the roles that host runs (the lowest precedence, as in a play), and turned into
plain Python values.

    loaded = load(Path("inventories/prod"), vault_password_file=Path("~/.vault-pass"))
    host = loaded.hosts["turn1.example.org"]
    host.variables["coturn_listening_port"]   # role default or the inventory's value
    host.origins["coturn_listening_port"]     # "inventories/prod/group_vars/turn_servers.yml:4"

Nothing in the inventory runs or leaks while it is read (the inventory may be a merge
request under review): only hosts-file inventory plugins parse it, every file Ansible reads
is bounded (inventory_bounds), templates run only allowed lookups and plugins
(template_policy), and Ansible's messages reach the output without the lines they quote
(ansible_messages).

Ansible is imported inside `load`, never at module import, so that
`talkdeploy --help` stays fast.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talkdeploy.inventory_bounds import FileRefused, check_before_reading
from talkdeploy.specs import ROLE_GROUPS, RoleSpec, load_role_specs, role_for

if TYPE_CHECKING:
    from talkdeploy.ansible_messages import Message
    from talkdeploy.template_policy import TemplatePolicy

# Non-role variables the model reads besides the coturn_/firewall_/talk_ ones.
# Every `ansible_*` variable is kept: the model reads the address and SSH port, the preflight
# the connection and become settings (talkdeploy/ssh_settings.py).
CONNECTION_PREFIX = "ansible_"
VAR_FILE_SUFFIXES = ("", ".yml", ".yaml", ".json")
# ansible-core 2.19 enables host_list, script, auto, yaml, ini and toml (INVENTORY_ENABLED):
# `script` runs any executable file of the inventory directory and `auto` runs whatever
# inventory plugin a YAML file names (constructed templates, cloud plugins call out).
INVENTORY_PLUGINS = ("yaml", "ini", "toml")  # short names: the collection loader is not set up
VAULT_LOCKED = "vault-encrypted and no vault password was given"
TURN_GROUP = "turn_servers"
NEXTCLOUD_GROUP = "nextcloud"


class InventoryError(RuntimeError):
    """The inventory cannot be read at all (missing, unparsable, locked vault file)."""


@dataclass
class LoadedHost:
    """One inventory host: what the inventory sets, the role defaults under it, and origins."""

    name: str
    groups: tuple[str, ...]  # every group the host is in, `all` excluded
    inventory: dict[str, Any]  # role and connection variables the inventory sets, templated
    defaults: dict[str, Any]  # defaults of the roles this host runs, templated for this host
    origins: dict[str, str]  # variable -> "file:line" that set it
    unresolved: dict[str, str] = field(default_factory=dict)  # variable -> why no value is known

    @property
    def variables(self) -> dict[str, Any]:
        """What the roles will see: role defaults overridden by the inventory."""
        return {**self.defaults, **self.inventory}

    def in_group(self, group: str) -> bool:
        return group in self.groups


@dataclass
class LoadedInventory:
    source: Path  # what was passed with -i
    root: Path  # the directory holding group_vars/ and host_vars/
    hosts: dict[str, LoadedHost]
    groups: dict[str, tuple[str, ...]]  # group -> host names (`all` excluded)
    specs: dict[str, RoleSpec]

    def group_hosts(self, group: str) -> list[LoadedHost]:
        return [self.hosts[name] for name in self.groups.get(group, ())]

    def group_vars_file(self, group: str) -> str:
        """The file an operator should edit to set a variable for `group` (existing or new)."""
        base = self.root / "group_vars"
        for candidate in (base / group / "main.yml", base / f"{group}.yml", base / f"{group}.yaml"):
            if candidate.is_file():
                return display_path(candidate)
        directory = base / group
        if directory.is_dir():
            return display_path(directory / "main.yml")
        return display_path(base / f"{group}.yml")

    def host_vars_file(self, host: str) -> str:
        base = self.root / "host_vars"
        for candidate in (base / host / "main.yml", base / f"{host}.yml", base / f"{host}.yaml"):
            if candidate.is_file():
                return display_path(candidate)
        return display_path(base / f"{host}.yml")


def display_path(path: Path | str) -> str:
    """A path as the operator should read it: relative to the working directory when inside."""
    text = str(path)
    location, sep, line = text.partition(":")
    try:
        relative = os.path.relpath(location)
    except ValueError:
        return text
    if relative.startswith(".."):
        return text
    return relative + (sep + line if sep else "")


def default_vault_password_file() -> Path | None:
    configured = os.environ.get("ANSIBLE_VAULT_PASSWORD_FILE")
    return Path(configured).expanduser() if configured else None


def _wanted(name: str) -> bool:
    return (
        role_for(name) is not None
        or name.startswith("talkdeploy_")
        or name.startswith(CONNECTION_PREFIX)
    )


def plain(value: Any) -> Any:
    """Ansible's tagged values as plain Python: the collection's own conversion, so that the CLI
    checks exactly the values the roles' check_settings sees (mapping keys keep their type)."""
    import talkdeploy.shared

    talkdeploy.shared.enable()
    from ansible_collections.talkdeploy.talk.plugins.module_utils.plain import plain as convert

    return convert(value)


def _origin_tag(value: Any) -> str | None:
    """Ansible >= 2.19 tags each value it read with its file and line; bools carry no tag."""
    try:
        from ansible._internal._datatag._tags import Origin
    except ImportError:  # pragma: no cover - older or newer ansible-core without data tagging
        return None
    tag = Origin.get_tag(value)
    if tag is None or tag.path is None:
        return None
    return f"{tag.path}:{tag.line_num}" if tag.line_num else str(tag.path)


def _var_files(directory: Path, entity: str) -> list[Path]:
    """The files Ansible's host_group_vars plugin reads for a group or host, in load order."""
    files: list[Path] = []
    for suffix in VAR_FILE_SUFFIXES:
        candidate = directory / f"{entity}{suffix}"
        if candidate.is_dir():
            files.extend(
                sorted(
                    path
                    for path in candidate.rglob("*")
                    if path.is_file()
                    and path.suffix in ("", ".yml", ".yaml", ".json")
                    and not path.name.startswith(".")
                )
            )
        elif candidate.is_file():
            files.append(candidate)
    return files


def find_origin(
    root: Path,
    sources: Iterable[Path],
    host: str,
    groups_low_to_high: list[str],
    key: str,
    read: Any,
) -> str | None:
    """Which file set `key` for `host`, searched in Ansible's precedence order (highest first).

    Used when a value carries no origin tag (booleans, None). `read(path)` loads a vars
    file (Ansible's DataLoader in production, so vault files work). host_vars win over
    group_vars, and a more specific group over a less specific one; the inventory source
    itself is checked for inline variables last.
    """
    candidates: list[Path] = list(reversed(_var_files(root / "host_vars", host)))
    for group in reversed(groups_low_to_high):
        candidates.extend(reversed(_var_files(root / "group_vars", group)))
    for path in candidates:
        try:
            data = read(path)
        except Exception:  # noqa: S112 - an unreadable file cannot be the origin; keep looking
            continue
        if isinstance(data, Mapping) and key in data:
            return str(path)
    for source in sources:
        files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
        for path in files:
            if "group_vars" in path.parts or "host_vars" in path.parts:
                continue
            try:
                check_before_reading(str(path))  # no FIFO, device or huge file
                if key in path.read_text(encoding="utf-8", errors="replace"):
                    return str(path)
            except (OSError, FileRefused):
                continue
    return None


def _role_defaults(
    loader: Any, specs: Mapping[str, RoleSpec], groups: Iterable[str]
) -> dict[str, Any]:
    """defaults/main.yml of each role a host in `groups` runs, loaded trusted as Ansible does."""
    defaults: dict[str, Any] = {}
    roles = {role for role, group in ROLE_GROUPS.items() if group in groups}
    for role in sorted(roles):
        spec = specs.get(role)
        if spec is None or not spec.defaults_file.is_file():
            continue
        data = loader.load_from_file(str(spec.defaults_file), trusted_as_template=True) or {}
        defaults.update(data)
    return defaults


def use_vault_password(loader: Any, password_file: Path) -> list[Any]:
    """Make Ansible decrypt with `password_file`, in this loader and process-wide.

    Ansible >= 2.19 decrypts inline vault values through a process-wide context that may be
    initialized only once; a second load (e.g. `secret set` reading the inventory back)
    replaces its secrets instead.
    """
    from ansible.cli import CLI
    from ansible.parsing.vault import VaultSecretsContext

    secrets: list[Any] = CLI.setup_vault_secrets(
        loader,
        vault_ids=[],
        vault_password_files=[str(password_file)],
        initialize_context=False,
    )
    loader.set_vault_secrets(secrets)
    current = VaultSecretsContext.current(optional=True)
    if current is None:
        VaultSecretsContext.initialize(VaultSecretsContext(secrets))
    else:
        current.secrets = secrets
    return secrets


def _forget_found_var_files() -> None:
    """host_group_vars caches which group_vars/host_vars files exist for the whole process;
    a command that writes one (secret set) and loads again must not get the stale list."""
    from ansible.plugins.vars import host_group_vars

    for cache_name in ("FOUND", "NAK"):
        cache = getattr(host_group_vars, cache_name, None)
        if cache is not None:
            cache.clear()


def _inventory_manager(loader: Any, path: Path) -> Any:
    """Ansible's InventoryManager, parsing with the hosts-file plugins only."""
    from ansible.inventory.manager import InventoryManager
    from ansible.plugins.loader import inventory_loader

    class HostsFileInventoryManager(InventoryManager):  # type: ignore[misc]
        def _fetch_inventory_plugins(self) -> list[Any]:
            return [inventory_loader.get(name) for name in INVENTORY_PLUGINS]

    return HostsFileInventoryManager(loader=loader, sources=[str(path)])


def _where(location: str) -> str:
    return display_path(location) if location.startswith(os.sep) else location


def _file_of(location: str) -> str:
    return re.sub(r"(?::\d+){1,2}$", "", _where(location))


def _cannot_read(what: str, message: Message, inventory: Path) -> str:
    """The InventoryError text for an Ansible failure: where, what kind, how to find it."""
    from talkdeploy.ansible_messages import HOW_TO_FIND

    if message.location is None:
        return f"Ansible cannot read {what}: {message.clause}"
    how = HOW_TO_FIND.format(file=_file_of(message.location), inventory=inventory)
    return f"Ansible cannot read {_where(message.location)} ({what}): {message.clause}; {how}"


def _no_hosts(path: Path, messages: list[Message]) -> str:
    from talkdeploy.ansible_messages import HOW_TO_FIND

    text = f"inventory {path} has no hosts: Ansible could not parse it or it is empty"
    located = [(m, m.location) for m in messages if m.location]
    with_line = [(m, where) for m, where in located if re.search(r":\d+(?::\d+)?$", where)]
    if not located:
        return f"{text}; check it with `ansible-inventory -i {path} --graph`"
    message, location = (with_line or located)[0]
    how = HOW_TO_FIND.format(file=_file_of(location), inventory=path)
    return f"{text}; {message.clause} at {_where(location)}; {how}"


def _template(
    templar: Any, raw: Any, policy: TemplatePolicy, loader: Any
) -> tuple[Any, str | None]:
    """The plain value of `raw`, or None and why it cannot be known on the workstation."""
    from ansible.errors import AnsibleError

    policy.refused.clear()
    value: Any = None
    try:
        value, reason = plain(templar.template(raw)), None
    except Exception as error:
        if isinstance(error, AnsibleError) and str(error):
            reason = str(error).splitlines()[0]
            if "vault" in reason.lower() or "decrypt" in reason.lower():
                reason = VAULT_LOCKED
        else:
            reason = f"{type(error).__name__} while templating"
    _raise_refused(loader)  # a file lookup met a file the bounds refuse
    if policy.refused:  # also when the template swallowed the refusal (`| default`)
        return None, policy.refused[0]
    return value, reason


def _raise_refused(loader: Any) -> None:
    if loader.refused is not None:
        raise InventoryError(str(loader.refused)) from loader.refused


def load(
    path: Path,
    vault_password_file: Path | None = None,
    roles_dir: Path | None = None,
) -> LoadedInventory:
    """Load the inventory at `path` (a directory or a hosts file) with Ansible's libraries."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InventoryError(f"inventory {path} does not exist (pass -i DIR or -i hosts.yml)")
    specs = load_role_specs(roles_dir)
    vault_password_file = vault_password_file or default_vault_password_file()

    from talkdeploy import ansible_messages

    messages: list[Message] = []
    try:
        with ansible_messages.captured() as messages:
            return _read(path, vault_password_file, specs, messages)
    finally:
        ansible_messages.show(messages)


def _read(
    path: Path,
    vault_password_file: Path | None,
    specs: dict[str, RoleSpec],
    messages: list[Message],
) -> LoadedInventory:
    from ansible.errors import AnsibleError

    from talkdeploy.ansible_messages import from_exception
    from talkdeploy.inventory_bounds import bounded_loader
    from talkdeploy.template_policy import PolicyUnavailable, workstation_templating

    loader = bounded_loader()
    if vault_password_file is not None:
        if not vault_password_file.is_file():
            raise InventoryError(f"vault password file {vault_password_file} does not exist")
        try:
            use_vault_password(loader, vault_password_file)
        except (AnsibleError, OSError, UnicodeError) as error:
            raise InventoryError(
                f"cannot use the vault password file {vault_password_file}: "
                f"{from_exception(error).text}"
            ) from error
    _forget_found_var_files()

    root = path if path.is_dir() else path.parent
    try:
        with workstation_templating(root) as policy:
            return _read_hosts(loader, path, root, specs, messages, policy)
    except PolicyUnavailable as error:
        raise InventoryError(str(error)) from error


def _read_hosts(
    loader: Any,
    path: Path,
    root: Path,
    specs: dict[str, RoleSpec],
    messages: list[Message],
    policy: TemplatePolicy,
) -> LoadedInventory:
    """Parse, gather and template each host's variables (inside the template policy)."""
    from ansible.errors import AnsibleError
    from ansible.inventory.helpers import sort_groups
    from ansible.template import Templar
    from ansible.vars.manager import VariableManager

    from talkdeploy.ansible_messages import from_exception

    try:
        manager = _inventory_manager(loader, path)
        variable_manager = VariableManager(loader=loader, inventory=manager)
        ansible_hosts = manager.get_hosts()
    except AnsibleError as error:
        _raise_refused(loader)
        message = from_exception(error)
        raise InventoryError(_cannot_read(f"inventory {path}", message, path)) from error
    _raise_refused(loader)
    if not ansible_hosts:
        raise InventoryError(_no_hosts(path, messages))

    groups: dict[str, tuple[str, ...]] = {
        name: tuple(host.name for host in group.get_hosts())
        for name, group in manager.groups.items()
        if name not in ("all", "ungrouped")
    }
    loaded_hosts: dict[str, LoadedHost] = {}
    for ansible_host in ansible_hosts:
        host_groups = sort_groups(ansible_host.get_groups())
        group_names = [group.name for group in host_groups if group.name != "all"]
        try:
            inventory_vars = variable_manager.get_vars(host=ansible_host, include_hostvars=False)
            defaults = _role_defaults(loader, specs, group_names)
        except AnsibleError as error:
            _raise_refused(loader)
            hint = ""
            if "vault" in str(error).lower():
                hint = " (pass --vault-password-file or set ANSIBLE_VAULT_PASSWORD_FILE)"
            what = f"the variables of {ansible_host.name}"
            message = from_exception(error)
            raise InventoryError(_cannot_read(what, message, path) + hint) from error
        _raise_refused(loader)
        templar = Templar(loader=loader, variables={**defaults, **inventory_vars})
        host = LoadedHost(ansible_host.name, tuple(group_names), {}, {}, {})
        for target, source in ((host.defaults, defaults), (host.inventory, inventory_vars)):
            for name, raw in source.items():
                if not _wanted(name):
                    continue
                if target is host.inventory:
                    origin = _origin_tag(raw)
                    if origin is None:
                        origin = find_origin(
                            root,
                            [path],
                            host.name,
                            [group.name for group in host_groups],
                            name,
                            loader.load_from_file,
                        )
                    if origin is not None:
                        host.origins[name] = display_path(origin)
                value, reason = _template(templar, raw, policy, loader)
                from_inventory = target is host.inventory
                if reason is None:
                    target[name] = value
                    if from_inventory:  # the inventory's value replaces an unreadable default
                        host.unresolved.pop(name, None)
                    continue
                if from_inventory:
                    host.unresolved[name] = reason
                else:
                    host.unresolved.setdefault(name, reason)
                target.pop(name, None)
        loaded_hosts[host.name] = host
    return LoadedInventory(path, root, loaded_hosts, groups, specs)


def limit_hosts(loaded: LoadedInventory, pattern: str | None) -> list[str]:
    """The hosts `--limit PATTERN` selects, by Ansible's own pattern rules (InventoryManager.subset:
    names, groups, globs, ~regex, `!`, `&`, ranges, @file), in the inventory's order."""
    if not pattern:
        return list(loaded.hosts)
    from talkdeploy.inventory_bounds import bounded_loader

    manager = _inventory_manager(bounded_loader(), loaded.source)
    manager.subset(pattern)
    chosen = {host.get_name() for host in manager.get_hosts("all")}
    return [name for name in loaded.hosts if name in chosen]


def limit_excluding(limit: str | None, hosts: set[str]) -> str | None:
    """An Ansible --limit pattern: `limit` (or all hosts) without `hosts` (`!` excludes; Ansible
    docs, "Patterns: targeting hosts and groups").

    A limit with a comma is split on commas only (ansible-core 2.19
    lib/ansible/inventory/manager.py, split_host_pattern()), so the operator's own patterns are
    split first the way Ansible splits them: a colon list, an IPv6 name or @file keeps its meaning.
    """
    if not hosts:
        return limit
    from ansible.inventory.manager import split_host_pattern

    patterns = split_host_pattern(limit) if limit else ["all"]
    return ",".join([*patterns, *(f"!{host}" for host in sorted(hosts))])
