"""Draw runs for the operator: rich progress on a terminal, plain lines otherwise, and the
summary and diffs afterwards. Only commands import it (commands/playbook_steps, and tests); it
reads RunResult from run_result and never imports runner, so drawing never starts a process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from talkdeploy.errors import ExitCode
from talkdeploy.run_result import Event, RunResult, is_warning

if TYPE_CHECKING:
    from rich.console import Console


class ProgressView:
    """Hosts x tasks while the playbook runs; a final table per host afterwards."""

    def __init__(self, console: Console, live: bool) -> None:
        self.console = console
        self.live = live
        self.state = RunResult()
        self._live: Any = None
        self._plain = PlainLog()

    def __enter__(self) -> ProgressView:
        if self.live:
            from rich.live import Live

            self._live = Live(self._render(), console=self.console, refresh_per_second=8)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(None, None, None)

    def __call__(self, event: Event) -> None:
        self.state.apply(event)
        if self._live is not None:
            self._live.update(self._render())
            return
        for line in self._plain.lines(event):
            self.console.print(line, markup=False, highlight=False)

    def _render(self) -> Any:
        from rich.table import Table

        table = Table(title=f"task {len(self.state.tasks)}: {self.state.current_task}")
        for column in ("host", "ok", "changed", "failed", "unreachable", "current task"):
            table.add_column(column)
        for name, host in sorted(self.state.hosts.items()):
            live = _live_counts(self.state, name)
            table.add_row(
                name,
                str(live["ok"]),
                str(live["changed"]),
                str(live["failed"]),
                str(live["unreachable"]),
                host.current_task,
            )
        return table


def _live_counts(state: RunResult, host: str) -> dict[str, int]:
    summary = state.hosts[host]
    if state.stats_seen:
        return summary.as_dict()
    # before the final stats arrive, count from the failures and changes seen so far
    failed = sum(1 for f in state.failures if f["host"] == host and f["status"] == "failed")
    unreachable = sum(1 for f in state.failures if f["host"] == host and f["status"] != "failed")
    return {
        "ok": summary.ok,
        "changed": len(summary.changes),
        "failed": failed,
        "unreachable": unreachable,
    }


class PlainLog:
    """The lines for logs and CI (no terminal), where a task every host skipped is left out.

    A task's header waits for its first result that is not a skip (on a terminal the live view
    shows only the task running now, so a skipped task does not stay on screen either). A result
    names a role's task without the role (task_start has "role : name", ansible-core
    lib/ansible/playbook/task.py, Task.get_name), so it belongs to the last task started: the
    playbooks keep Ansible's default linear strategy, which finishes a task on every host first.
    """

    def __init__(self) -> None:
        self._waiting_header: str | None = None

    def lines(self, event: Event) -> list[str]:
        kind = event.get("event")
        if kind in ("play_start", "task_start"):
            self._waiting_header = None
        line = plain_line(event)
        if line is None:
            return []
        if kind == "task_start":
            self._waiting_header = line
            return []
        if kind == "result" and self._waiting_header is not None:
            header, self._waiting_header = self._waiting_header, None
            return [header, line]
        return [line]


def plain_line(event: Event) -> str | None:
    """One line per event that matters (PlainLog decides whether a task's header is shown)."""
    kind = event.get("event")
    if kind == "play_start":
        return f"PLAY {event.get('name', '')}"
    if kind == "task_start":
        prefix = "HANDLER" if event.get("handler") else "TASK"
        return f"{prefix} {event.get('task', '')}"
    if kind == "result":
        status = event.get("status")
        if status == "skipped":
            return None
        line = f"  {status}: {event.get('host')}"
        resource = event.get("resource")
        if resource:
            line += f" ({resource['kind']}: {resource['name']})"
        told = status in ("failed", "unreachable") or is_warning(event)
        if told and event.get("msg"):
            line += f" - {event['msg']}"
        return line
    if kind == "warning":
        return f"WARNING {event.get('msg', '')}"
    return None


def draw_summary(console: Console, result: RunResult, title: str = "summary") -> None:
    from rich.table import Table

    table = Table(title=title)
    for column in ("host", "ok", "changed", "failed", "unreachable", "what changed"):
        table.add_column(column)
    for name, host in sorted(result.hosts.items()):
        changes = "\n".join(f"{c['kind']}: {c['name']}" for c in host.changes) or "-"
        table.add_row(
            name, str(host.ok), str(host.changed), str(host.failed), str(host.unreachable), changes
        )
    console.print(table)
    from rich.text import Text

    for warning in result.warnings:
        line = Text("warning", style="yellow")
        line.append(f" {warning['host']}: {warning['msg']}")
        console.print(line, highlight=False)
    for failure in result.failures:
        line = Text(failure["status"], style="red")
        line.append(f" {failure['host']}: {failure['task']}: {failure['msg']}")
        console.print(line, highlight=False)
    if result.log_tail and (result.exit_code == ExitCode.USER_ERROR):
        console.print("ansible-playbook said:", style="bold")
        console.print(result.log_tail, markup=False, highlight=False)


def draw_diffs(console: Console, diffs: Sequence[Mapping[str, Any]]) -> None:
    """Unified diffs of what a run changed (or would change in --check)."""
    import difflib

    for entry in diffs:
        for item in entry["diff"]:
            if "prepared" in item:
                text = str(item["prepared"]).rstrip("\n") + "\n"
            else:
                text = "".join(
                    difflib.unified_diff(
                        str(item.get("before", "")).splitlines(keepends=True),
                        str(item.get("after", "")).splitlines(keepends=True),
                        fromfile=str(item.get("before_header", "before")),
                        tofile=str(item.get("after_header", "after")),
                    )
                )
            if not text.strip():
                continue
            console.print(f"=== {entry['host']}: {entry['task']}", style="bold", markup=False)
            console.print(text, markup=False, highlight=False, end="")
