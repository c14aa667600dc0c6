"""Bounds on every file Ansible reads while talkdeploy loads an inventory.

A merge request can put a file in the inventory that keeps `talkdeploy validate` busy for
minutes or blocks it forever: a YAML alias bomb ("billion laughs": a few hundred bytes that
expand to millions of values, which Ansible's templating then walks one by one), a huge file,
or a symlink to a FIFO or /dev/zero. Each file is checked before Ansible parses it:

    loader = bounded_loader()        # an ansible DataLoader that checks each file it reads
    ...                              # Ansible reads hosts.yml, group_vars/, host_vars/, lookups
    loader.refused                   # FileRefused naming the file, the limit and the fix, or None

Hooking the DataLoader (ansible-core 2.19 ansible/parsing/dataloader.py
`DataLoader._get_file_contents`, which `load_from_file`, the yaml/ini/toml inventory plugins,
host_group_vars and the file/unvault lookups all read through) bounds exactly the files
Ansible reads, found the way Ansible finds them, including those a host named `../x` reaches.
The YAML is checked after vault decryption, so a file vault-encrypted as a whole is checked in
plain text and its ciphertext is never parsed.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 1024 * 1024  # 1 MiB: a hand-written vars file is a few KiB
# Nodes of a document once every alias is expanded. A hand-written vars file has hundreds;
# Ansible templates about 20,000 a second, so this keeps the worst file to a few seconds.
MAX_YAML_NODES = 50_000


class FileRefused(Exception):
    """A file talkdeploy will not let Ansible read: too big, not a regular file, or a bomb."""


def check_before_reading(path: str) -> None:
    """Refuse a file that is not a regular file or is bigger than MAX_FILE_BYTES."""
    try:
        info = Path(path).stat()
    except OSError:
        return  # missing or unreadable: Ansible reports it as it does
    if stat.S_ISDIR(info.st_mode):
        return  # Ansible reports a directory where a file is expected
    if not stat.S_ISREG(info.st_mode):
        raise FileRefused(
            f"{path} is not a regular file (a device, FIFO or socket, maybe through a symlink): "
            "reading it could block forever; make it a regular file"
        )
    if info.st_size > MAX_FILE_BYTES:
        raise FileRefused(
            f"{path} has {info.st_size} bytes, more than the {MAX_FILE_BYTES} "
            "(MAX_FILE_BYTES, 1 MiB) talkdeploy lets Ansible read from one inventory file; "
            "split it into smaller files (group_vars/<group>/*.yml) or keep bulk data "
            "out of the inventory"
        )


def expanded_nodes(data: bytes) -> int | None:
    """How many YAML nodes `data` holds once every alias is expanded (None: not YAML).

    Counted on `yaml.compose` nodes, which share one node per anchor, with the size of each
    node memoised: linear in the file, however far the aliases would expand. Tags such as
    Ansible's `!vault` and `!unsafe` need no constructor to compose.
    """
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml limits nesting depth
    try:
        documents = list(yaml.compose_all(data, Loader=loader))
    except (yaml.YAMLError, RecursionError, ValueError):
        return None  # not YAML (an INI file) or broken: Ansible reports what is wrong
    sizes: dict[int, int] = {}
    total = 0
    for document in documents:
        if document is not None:
            total += _size(document, sizes)
            if total > MAX_YAML_NODES:
                break
    return total


def _size(root: Any, sizes: dict[int, int]) -> int:
    """Expanded size of `root`, without recursion (deep documents) and stopping at the limit."""
    import yaml

    pending: list[tuple[Any, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while pending:
        node, children_done = pending.pop()
        if id(node) in sizes:
            continue
        if isinstance(node, yaml.ScalarNode):
            sizes[id(node)] = 1
            continue
        children = (
            [child for pair in node.value for child in pair]
            if isinstance(node, yaml.MappingNode)
            else list(node.value)
        )
        if children_done:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
            if sizes[id(node)] > MAX_YAML_NODES:
                return sizes[id(node)]
            continue
        if id(node) in open_nodes:
            return MAX_YAML_NODES + 1  # an alias inside its own anchor: expands forever
        open_nodes.add(id(node))
        pending.append((node, True))
        for child in children:
            if id(child) in open_nodes:
                return MAX_YAML_NODES + 1
            if id(child) not in sizes:
                pending.append((child, False))
    return sizes[id(root)]


def check_after_reading(path: str, data: bytes) -> None:
    """Refuse YAML whose aliases expand to more than MAX_YAML_NODES nodes."""
    if b"&" not in data and len(data) < MAX_YAML_NODES:
        return  # no anchor and too short to hold the limit: the common case costs nothing
    nodes = expanded_nodes(data)
    if nodes is not None and nodes > MAX_YAML_NODES:
        raise FileRefused(
            f"{path} holds more than {MAX_YAML_NODES} YAML values once its aliases "
            "(&anchor / *alias) are expanded (MAX_YAML_NODES): Ansible would take minutes "
            "to read it (a YAML alias bomb?); write the values out or use fewer nested aliases"
        )


def bounded_loader() -> Any:
    """An ansible-core DataLoader that runs both checks on each file it reads.

    The first refusal is kept in `loader.refused`: Ansible's inventory plugins turn
    exceptions into warnings, so the caller re-raises it after each Ansible step.
    """
    from ansible.parsing.dataloader import DataLoader

    class BoundedDataLoader(DataLoader):  # type: ignore[misc]
        refused: FileRefused | None = None

        def _get_file_contents(self, file_name: str) -> tuple[bytes, bool]:
            path = self.path_dwim(file_name) if isinstance(file_name, str) and file_name else ""
            try:
                if path:
                    check_before_reading(path)
                data, show_content = super()._get_file_contents(file_name)
                if path:
                    check_after_reading(path, bytes(data))
            except FileRefused as refusal:
                self.refused = self.refused or refusal
                raise
            return data, show_content

    return BoundedDataLoader()
