"""Run talkdeploy's playbooks with ansible-playbook and turn their events into a summary.

Why ansible-playbook plus our own callback plugin, and not ansible-runner:
ansible-runner is built for AWX-style job isolation (a private data dir with
env/, project/, artifacts/, its own event files and process management); we
need none of that and would still post-process its event files. Our callback
(talkdeploy/ansible_plugins/callback/talkdeploy_events.py) is ~200 lines of
plain Ansible API, streams events over a pipe as they happen, masks secrets
before anything leaves the Ansible process, and the playbooks stay plain
`ansible-playbook` runs that an operator (or AWX) can repeat by hand with the
command `talkdeploy apply` prints. One dependency fewer, nothing hidden.

Exit codes (what a pipeline acts on): 0 success, 2 a host failed, 3 a host was
unreachable (and none failed), 1 invalid input or Ansible could not run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from talkdeploy.shared import masking

if TYPE_CHECKING:
    from rich.console import Console

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_FAILED = 2
EXIT_UNREACHABLE = 3

PLUGIN_DIR = Path(__file__).resolve().parent / "ansible_plugins" / "callback"
# What ansible-playbook searches besides talkdeploy's own collection (its documented default).
DEFAULT_COLLECTIONS = os.pathsep.join(("~/.ansible/collections", "/usr/share/ansible/collections"))

Event = dict[str, Any]

# The checkout's ansible.cfg as environment variables, so that every run gets it whatever the
# working directory: ansible-playbook reads only ANSIBLE_CONFIG, ./ansible.cfg, ~/.ansible.cfg or
# /etc/ansible/ansible.cfg (ansible-core lib/ansible/config/manager.py, find_ini_config_file), and
# an operator runs talkdeploy from their own directory. tests/test_runner.py checks that ansible.cfg
# and this table agree, in Ansible's own terms (which ini key each variable stands for).
ANSIBLE_SETTINGS: Mapping[str, str] = MappingProxyType(
    {
        # The general setting (ansible-core lib/ansible/config/base.yml, ANSIBLE_PIPELINING), where
        # ansible.cfg's [ssh_connection] pipelining reaches ssh alone: ssh, local and
        # community.docker.docker (the lab) pipeline with it. paramiko cannot pipeline at all
        # (ansible-core lib/ansible/plugins/connection/paramiko_ssh.py: has_pipelining stays False).
        "ANSIBLE_PIPELINING": "True",
        # Ansible's default, stated so that an ANSIBLE_CONFIG pointing elsewhere without the key
        # does not change it.
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "yaml",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
    }
)
# The ini key of each setting above: an ansible.cfg of the operator's that sets it is obeyed.
INI_KEYS: Mapping[str, str] = MappingProxyType(
    {
        "ANSIBLE_PIPELINING": "pipelining",
        "ANSIBLE_HOST_KEY_CHECKING": "host_key_checking",
        "ANSIBLE_PYTHON_INTERPRETER": "interpreter_python",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "callback_result_format",
        "ANSIBLE_RETRY_FILES_ENABLED": "retry_files_enabled",
    }
)
CHECKOUT_CONFIG = Path(__file__).resolve().parent.parent / "ansible.cfg"


def keys_of_operator_config(found: str | None) -> set[str]:
    """The ini keys the ansible.cfg ansible-playbook will read sets, unless it is the checkout's
    own (its values are the table above). The environment outranks every ansible.cfg, so a
    setting in the operator's own file would otherwise be overridden without a word."""
    import configparser

    if not found or Path(found).resolve() == CHECKOUT_CONFIG:
        return set()
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(found)
    except configparser.Error:
        return set()  # ansible-playbook will say what is wrong with it
    return {key for section in parser.sections() for key in parser[section]}


def _config_file_ansible_will_read() -> str | None:
    """The same search as ansible-playbook's, from the same working directory and environment."""
    from ansible.config.manager import find_ini_config_file

    found: str | None = find_ini_config_file()
    return found


@dataclass(frozen=True)
class RunOptions:
    inventory: Path
    limit: str | None = None
    tags: str | None = None
    check: bool = False
    diff: bool = False
    extra_vars: tuple[str, ...] = ()
    vault_password_file: Path | None = None
    connection: str | None = None  # ssh | paramiko | None (the inventory's choice)


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

    command: list[str] = field(default_factory=list)
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
            return EXIT_FAILED
        if any(h.unreachable for h in self.hosts.values()):
            return EXIT_UNREACHABLE
        if self.returncode != 0 or not self.stats_seen:
            return EXIT_INVALID  # Ansible stopped before running anything (syntax, inventory)
        return EXIT_OK

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


def build_command(playbook: Path, options: RunOptions) -> list[str]:
    """The ansible-playbook command line (the same a person would type)."""
    command = [sys.executable, "-m", "ansible", "playbook", "-i", str(options.inventory)]
    if options.limit:
        command += ["--limit", options.limit]
    if options.tags:
        command += ["--tags", options.tags]
    if options.check:
        command.append("--check")
    if options.diff:
        command.append("--diff")
    for extra in options.extra_vars:
        command += ["-e", extra]
    if options.vault_password_file:
        command += ["--vault-password-file", str(options.vault_password_file)]
    if options.connection:
        command += ["--connection", options.connection]
    command.append(str(playbook))
    return command


def ansible_environment(
    collections: Path, events_fd: int | None = None, mask_file: Path | None = None
) -> dict[str, str]:
    env = dict(os.environ)
    operator_keys = keys_of_operator_config(_config_file_ansible_will_read())
    for name, value in ANSIBLE_SETTINGS.items():
        if INI_KEYS[name] in operator_keys:
            continue
        # setdefault: an operator's own variable (ANSIBLE_PIPELINING=False for hosts whose sudo
        # wants a tty) still wins, as does their ansible.cfg's key (skipped above), and inventory
        # variables such as ansible_pipelining win over all (Ansible's precedence: variables,
        # then environment, then ansible.cfg).
        env.setdefault(name, value)
    env["ANSIBLE_STDOUT_CALLBACK"] = "talkdeploy_events"
    env["ANSIBLE_CALLBACK_PLUGINS"] = os.pathsep.join(
        p for p in (str(PLUGIN_DIR), env.get("ANSIBLE_CALLBACK_PLUGINS", "")) if p
    )
    # The playbooks use the roles as talkdeploy.talk.* (the collection talkdeploy ships).
    env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(
        p for p in (str(collections), env.get("ANSIBLE_COLLECTIONS_PATH", DEFAULT_COLLECTIONS)) if p
    )
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_NOCOLOR"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    if events_fd is not None:
        env["TALKDEPLOY_EVENTS_FD"] = str(events_fd)
    if mask_file is not None:
        env["TALKDEPLOY_MASK_FILE"] = str(mask_file)
    return env


def run_playbook(
    playbook: Path,
    options: RunOptions,
    *,
    collections: Path,
    on_event: Callable[[Event], None] | None = None,
    masker: Masker | None = None,
) -> RunResult:
    """Run one playbook; every event goes through `on_event` as it happens."""
    masker = masker or Masker()
    result = RunResult(command=build_command(playbook, options))
    with tempfile.TemporaryDirectory(prefix="talkdeploy-run-") as private:
        Path(private).chmod(0o700)
        mask_file = Path(private) / "mask.json"
        fd = os.open(mask_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(sorted(masker.secrets), handle)
        log_path = Path(private) / "ansible.log"
        read_end, write_end = os.pipe()
        with log_path.open("wb") as log:
            try:
                process = subprocess.Popen(
                    result.command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=(write_end,),
                    env=ansible_environment(collections, write_end, mask_file),
                )
            finally:
                os.close(write_end)
            with os.fdopen(read_end, encoding="utf-8", errors="replace") as events:
                for line in events:
                    try:
                        event = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    event = masker.deep(event)
                    result.apply(event)
                    if on_event is not None:
                        on_event(event)
            result.returncode = process.wait()
        if result.exit_code == EXIT_INVALID or result.failures:
            text = log_path.read_text(errors="replace")
            result.log_tail = masker("\n".join(text.strip().splitlines()[-30:]))
    return result


# -- the view: rich progress on a terminal, plain lines otherwise --------------------------------


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


def is_warning(event: Mapping[str, Any]) -> bool:
    """A role's warning: a task named "... (warning)" whose message is for the operator (e.g.
    roles/nextcloud_talk's federation warning, roles/run_lock's lock taken over)."""
    return str(event.get("task", "")).endswith("(warning)") and event.get("status") == "ok"


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
    if result.log_tail and (result.exit_code == EXIT_INVALID):
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
