"""Findings: what a settings check reports, as values (never raised, never printed here).

A finding names the variable (`key`), says what is wrong (`message`, starting with the key) and
how to fix it. The role's check (plugins/action/check_settings.py) fails on errors and warns on
warnings; the talkdeploy CLI adds the file that set the key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.talkdeploy.talk.plugins.module_utils.argspec import is_secret, type_errors
from ansible_collections.talkdeploy.talk.plugins.module_utils.values import Invalid

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Finding:
    key: str
    message: str
    fix: str
    severity: str = ERROR


@dataclass
class Report:
    """The findings of one check, and the values it accepted in their normal form."""

    role: str
    values: Mapping[str, Any]
    findings: list[Finding] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, message: str, fix: str, severity: str = ERROR) -> None:
        self.findings.append(Finding(key, message, fix, severity))

    def warn(self, key: str, message: str, fix: str) -> None:
        self.add(key, message, fix, WARNING)

    def value(self, key: str, check: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Check one variable: Ansible's argument spec first, then what the value is.

        The accepted value is stored in normal form in `settings`; a missing or refused one is
        not, so rules that need it skip.
        """
        if key not in self.values:
            return None
        raw = self.values[key]
        errors = type_errors(self.role, key, raw)
        if errors and is_secret(self.role, key):  # Ansible's message may quote the value
            errors = ["is not of the type its argument spec declares (value not shown: secret)"]
        if errors:
            self.add(key, f"{key}: {'; '.join(errors)}", "see the role's meta/argument_specs.yml")
            return None
        try:
            normal = check(raw, *args, **kwargs)
        except Invalid as invalid:
            self.add(key, f"{key} {invalid.problem}", invalid.fix.replace("<name>", key))
            return None
        self.settings[key] = normal
        return normal

    def items(self, key: str, check: Callable[..., Any], *args: Any) -> list[Any] | None:
        """A list variable whose every item is checked; None when the list itself is refused."""
        from ansible_collections.talkdeploy.talk.plugins.module_utils.values import string_list

        items = self.value(key, string_list)
        if items is None:
            return None
        normal: list[Any] = []
        for item in items:
            try:
                normal.append(check(item, *args))
            except Invalid as invalid:
                self.add(key, f"{key} {invalid.problem}", invalid.fix)
        if len(normal) != len(items):
            del self.settings[key]
            return None
        self.settings[key] = normal
        return normal

    def table(
        self,
        scalars: Mapping[str, Callable[[Any], Any]],
        booleans: tuple[str, ...] = (),
        lists: Mapping[str, Callable[[Any], Any]] | None = None,
    ) -> None:
        """Check a role's variable table: one check per scalar, booleans, and list items."""
        from ansible_collections.talkdeploy.talk.plugins.module_utils.values import boolean

        for key, scalar in scalars.items():
            self.value(key, scalar)
        for key in booleans:
            self.value(key, boolean)
        for key, item in (lists or {}).items():
            self.items(key, item)

    def has(self, *keys: str) -> bool:
        return all(key in self.settings for key in keys)

    @property
    def errors(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity == WARNING]
