"""Fold the callback's events into a RunResult: pure data, no process and no drawing.

Anything may import it (runner, run_view, commands, host_reports, tests); it imports neither
runner nor run_view, so a result can be built and checked without running Ansible.

A run's exit code (talkdeploy.errors.ExitCode): 2 a host failed, else 3 a host was unreachable,
1 Ansible could not run at all, 0 success.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from talkdeploy.errors import ExitCode
from talkdeploy.shared import masking

Event = dict[str, Any]


# Here, not in runner: masking is a pure transform of what the CLI shows, and status, plan and
# verify also mask report data that never passes through run_playbook.
class Masker:
    """Replaces every known secret by ******** (the second line of defence after no_log)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = {s for s in secrets if s}

    def add(self, secret: str | None) -> None:
        if secret:
            self.secrets.add(secret)

    def __call__(self, text: str) -> str:
        return masking.mask_known(text, self.secrets)

    def deep(self, value: Any) -> Any:
        if isinstance(value, str):
            return self(value)
        if isinstance(value, Mapping):
            return {key: self.deep(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.deep(item) for item in value]
        return value


@dataclass
class HostSummary:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    changes: list[dict[str, str]] = field(default_factory=list)  # {"kind", "name"}
    current_task: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "changed": self.changed,
            "failed": self.failed,
            "unreachable": self.unreachable,
            "skipped": self.skipped,
            "changes": self.changes,
        }


@dataclass
class RunResult:
    """Everything the CLI shows after a run, built only from the callback's events."""

    returncode: int | None = None
    hosts: dict[str, HostSummary] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)  # host, task, status, msg
    diffs: list[dict[str, Any]] = field(default_factory=list)  # host, task, diff items
    warnings: list[dict[str, str]] = field(default_factory=list)  # host, task, msg
    tasks: list[str] = field(default_factory=list)
    current_task: str = ""
    stats_seen: bool = False
    log_tail: str = ""  # ansible-playbook's own stdout/stderr, masked, when it went wrong

    def host(self, name: str) -> HostSummary:
        return self.hosts.setdefault(name, HostSummary())

    def apply(self, event: Event) -> None:
        """Fold one callback event into the result (pure: also used by tests and the view)."""
        kind = event.get("event")
        if kind == "play_start":
            for name in event.get("hosts", []):
                self.host(name)
        elif kind == "task_start":
            self.current_task = str(event.get("task", ""))
            self.tasks.append(self.current_task)
        elif kind == "host_task_start":
            self.host(str(event["host"])).current_task = str(event.get("task", ""))
        elif kind == "result":
            self._apply_result(event)
        elif kind == "stats":
            self.stats_seen = True
            for name, counts in event.get("hosts", {}).items():
                summary = self.host(name)
                for key in ("ok", "changed", "failed", "unreachable", "skipped"):
                    setattr(summary, key, int(counts.get(key, 0)))

    def _apply_result(self, event: Event) -> None:
        summary = self.host(str(event["host"]))
        summary.current_task = ""
        status = event.get("status")
        if status in ("failed", "unreachable"):
            self.failures.append(
                {
                    "host": str(event["host"]),
                    "task": str(event.get("task", "")),
                    "status": str(status),
                    "msg": str(event.get("msg", "")),
                }
            )
        if is_warning(event) and event.get("msg"):
            warning = {k: str(event.get(k, "")) for k in ("host", "task", "msg")}
            self.warnings.append(warning)
        resource = event.get("resource")
        if resource and resource not in summary.changes:
            summary.changes.append(resource)
        diff = event.get("diff")
        if diff and event.get("changed"):
            self.diffs.append({"host": event["host"], "task": event.get("task", ""), "diff": diff})

    @property
    def exit_code(self) -> int:
        if any(h.failed for h in self.hosts.values()):
            return ExitCode.HOST_FAILED
        if any(h.unreachable for h in self.hosts.values()):
            return ExitCode.UNREACHABLE
        if self.returncode != 0 or not self.stats_seen:
            # Ansible stopped before running anything (syntax, inventory).
            return ExitCode.USER_ERROR
        return ExitCode.SUCCESS

    @property
    def changed(self) -> int:
        return sum(h.changed for h in self.hosts.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "ansible_returncode": self.returncode,
            "hosts": {name: summary.as_dict() for name, summary in sorted(self.hosts.items())},
            "failures": self.failures,
            "diffs": self.diffs,
            "warnings": self.warnings,
            "changed": self.changed,
            "log_tail": self.log_tail,
        }


def is_warning(event: Mapping[str, Any]) -> bool:
    """A role's warning: a task named "... (warning)" whose message is for the operator (e.g.
    roles/nextcloud_talk's federation warning, roles/run_lock's lock taken over)."""
    return str(event.get("task", "")).endswith("(warning)") and event.get("status") == "ok"
