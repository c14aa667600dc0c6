"""Files named after an inventory host: the name must stay one file name inside its directory.

Ansible accepts almost any host name (`../../x`, names with `/`, control characters, a
leading `.`); `render --output-dir` and `secret set --host` turn it into a path. Such names
are refused, not encoded: a reviewer looks for DIR/<host>/, and an encoded name would hide
that the inventory holds a strange host.

    path = host_path(output_dir, host, "turnserver.conf")   # DIR/<host>/turnserver.conf
"""

from __future__ import annotations

from pathlib import Path

MAX_NAME_BYTES = 255  # NAME_MAX of Linux file systems


class UnsafeHostName(ValueError):
    """A host name that cannot be a directory name, or a path that leaves its directory."""


def name_problem(name: str) -> str | None:
    """Why `name` cannot be one file name, or None when it can."""
    if not name:
        return "is empty"
    if name.startswith("."):
        return "starts with '.' (a hidden file, or `..`, the parent directory)"
    if "/" in name or "\\" in name:
        return "contains a slash"
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        return "contains a control character (NUL, newline, escape, ...)"
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        return f"is longer than {MAX_NAME_BYTES} bytes"
    return None


def host_path(directory: Path, host: str, *parts: str) -> Path:
    """directory/host/parts..., checked to resolve inside `directory` (symlinks followed)."""
    problem = name_problem(host)
    if problem:
        raise UnsafeHostName(
            f"host {host!r} cannot name a directory under {directory}: the name {problem}; "
            "rename the host in the inventory (set ansible_host for the address)"
        )
    target = directory.joinpath(host, *parts)
    inside = directory.resolve()
    resolved = target.resolve()
    if inside not in resolved.parents:
        raise UnsafeHostName(
            f"{target} resolves to {resolved}, outside {directory} (a symlink?); remove the link"
        )
    return target
