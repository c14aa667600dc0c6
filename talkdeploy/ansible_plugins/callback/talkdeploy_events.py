"""Stream ansible-playbook's events as JSON lines to talkdeploy, secrets masked.

talkdeploy runs `ansible-playbook` with this plugin as its stdout callback
(talkdeploy/runner.py explains why this and not ansible-runner). Each event is
one JSON object per line, written to the file descriptor named by
TALKDEPLOY_EVENTS_FD (a pipe the CLI reads), never to stdout, so nothing else
Ansible prints can interleave with the stream. Each result event carries
`duration`: seconds from Ansible handing the task to that host until its result
(what `talkdeploy verify` shows as the time of the checks a read task serves).

Secrets: tasks that see secrets are `no_log: true` in the roles, and
ansible-core (2.19) already hands callbacks a censored result for them. As a
second line of defence every string this plugin emits is masked: any value
listed in the 0600 JSON file named by TALKDEPLOY_MASK_FILE (the secrets the
CLI knows), any fact whose name ends in `secret`, and the shapes a TURN secret
takes in turnserver.conf, occ arguments and Talk's JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from ansible.plugins.callback import CallbackBase
from ansible_collections.talkdeploy.talk.plugins.module_utils.masking import (
    mask_known,
    mask_shapes,
)

DOCUMENTATION = """
name: talkdeploy_events
type: stdout
short_description: JSON-lines event stream for the talkdeploy CLI
description:
  - Writes one JSON object per event to the file descriptor in TALKDEPLOY_EVENTS_FD.
  - Masks known secrets (TALKDEPLOY_MASK_FILE) and secret-shaped values.
"""

FILE_MODULES = {"template", "copy", "file", "lineinfile", "blockinfile", "replace", "ini_file"}
SERVICE_MODULES = {"service", "systemd", "systemd_service", "sysvinit"}
PACKAGE_MODULES = {"apt", "dnf", "yum", "package"}
FIREWALL_MODULES = {"ufw", "firewalld", "nftables", "iptables"}


class CallbackModule(CallbackBase):  # type: ignore[misc]
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "talkdeploy_events"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fd = os.environ.get("TALKDEPLOY_EVENTS_FD")
        self._out = os.fdopen(int(fd), "w", buffering=1) if fd else None
        self._secrets: set[str] = set()
        self._manager: Any = None
        # When each host was handed each task: (host, task uuid) -> time.monotonic().
        self._started: dict[tuple[str, str], float] = {}
        mask_file = os.environ.get("TALKDEPLOY_MASK_FILE")
        if mask_file and Path(mask_file).is_file():
            known = json.loads(Path(mask_file).read_text(encoding="utf-8"))
            self._secrets.update(s for s in known if isinstance(s, str) and s)

    # -- output ------------------------------------------------------------------------------

    def _mask(self, value: Any) -> Any:
        if isinstance(value, str):
            return mask_shapes(mask_known(value, self._secrets))
        if isinstance(value, dict):
            return {key: self._mask(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._mask(item) for item in value]
        return value

    def _emit(self, event: str, **data: Any) -> None:
        if self._out is None:
            return
        line = json.dumps({"event": event, **self._mask(data)}, default=str)
        self._out.write(line + "\n")

    # -- helpers -----------------------------------------------------------------------------

    def _learn_secrets(self, result: dict[str, Any], host: str) -> None:
        facts = dict(result.get("ansible_facts") or {})
        # A no_log set_fact reaches callbacks censored; its value is in the play's fact
        # cache (the secret the coturn role kept or generated on the host).
        with contextlib.suppress(Exception):  # an internal API; the other defences remain
            facts.update(self._manager._nonpersistent_fact_cache.get(host, {}))
        for name, value in facts.items():
            if name.endswith("secret") and isinstance(value, str) and value:
                self._secrets.add(value)

    def _learn_inventory_secrets(self, manager: Any, play: Any, host: Any) -> None:
        """Inventory values named *secret (group_vars, host_vars, vault) are masked too."""
        variables = manager.get_vars(play=play, host=host, include_hostvars=False)
        for name, value in variables.items():
            if not name.endswith("secret"):
                continue
            text = str(value)  # a vault value decrypts here, with the run's vault password
            if text and "{{" not in text:
                self._secrets.add(text)

    @staticmethod
    def _module(task: Any) -> str:
        return str(task.action).rsplit(".", 1)[-1]

    @staticmethod
    def _paths(result: dict[str, Any], args: dict[str, Any]) -> list[str]:
        """Files a file-module task wrote: from its result, each loop item, or its arguments."""
        loop = result.get("results")
        items: list[Any] = loop if isinstance(loop, list) else [result]
        paths = []
        for item in items:
            if isinstance(item, dict) and item.get("changed", True):
                path = item.get("dest") or item.get("path")
                if isinstance(path, str) and path:
                    paths.append(path)
        if not paths:  # no_log censors the result; the (templated) arguments still name the file
            path = args.get("dest") or args.get("path")
            if isinstance(path, str) and path and "{{" not in path:
                paths.append(path)
        return paths

    def _resource(self, task: Any, result: dict[str, Any], args: dict[str, Any]) -> dict[str, str]:
        """What a changed task changed: a file, a service, a package, a Talk setting, ..."""
        module = self._module(task)
        role = task._role.get_name(include_role_fqcn=False) if getattr(task, "_role", None) else ""
        name = task.name or task.get_name(include_role_fqcn=False)
        if module in FILE_MODULES:
            return {"kind": "file", "name": ", ".join(self._paths(result, args)) or name}
        if module in SERVICE_MODULES:
            unit = result.get("name") or args.get("name")
            state = result.get("state") or args.get("state") or ""
            if unit and isinstance(unit, str) and "{{" not in unit:
                return {"kind": "service", "name": f"{unit} {state}".strip()}
            return {"kind": "service", "name": name}
        if module in ("command", "shell") and re.search(r"\b(re)?start|reload", name, re.I):
            return {"kind": "service", "name": name}
        if module in PACKAGE_MODULES:
            return {"kind": "package", "name": name}
        if module in FIREWALL_MODULES or role == "firewall":
            return {"kind": "firewall", "name": name}
        if role == "nextcloud_talk":
            return {"kind": "talk", "name": name}
        return {"kind": "other", "name": name}

    @staticmethod
    def _text(value: Any) -> str:
        """A diff side as text; the file module gives dicts such as {"state": "absent"}."""
        if isinstance(value, str):
            return value
        if isinstance(value, dict):
            return "".join(f"{key}: {value[key]}\n" for key in sorted(value))
        return ""

    def _diffs(self, result: dict[str, Any]) -> list[dict[str, str]]:
        raw = result.get("diff")
        items = raw if isinstance(raw, list) else [raw] if isinstance(raw, dict) else []
        diffs = []
        for item in items:
            if not isinstance(item, dict):
                continue
            if "prepared" in item:
                diffs.append({"prepared": str(item["prepared"])})
            elif "before" in item or "after" in item:
                diffs.append(
                    {
                        "before_header": str(item.get("before_header", "before")),
                        "after_header": str(item.get("after_header", "after")),
                        "before": self._text(item.get("before")),
                        "after": self._text(item.get("after")),
                    }
                )
        return diffs

    def _duration(self, host: str, task: Any) -> float | None:
        """Seconds from handing `task` to `host` until its result; None when Ansible reported a
        result it never started (a meta task it skipped, an include that failed to load)."""
        started = self._started.pop((host, str(task._uuid)), None)
        return None if started is None else round(time.monotonic() - started, 6)

    def _result(self, status: str, result: Any, **extra: Any) -> None:
        data = dict(result.result)
        self._learn_secrets(data, result.host.get_name())
        task = result.task
        censored = "censored" in data
        message = data.get("msg") or data.get("stderr") or data.get("reason") or ""
        if censored and not message and status != "ok":
            message = "its output is hidden (no_log: the task handles a secret)"
        event: dict[str, Any] = {
            "host": result.host.get_name(),
            "task": task.name or result.task_name,
            "role": task._role.get_name() if getattr(task, "_role", None) else None,
            "action": self._module(task),
            "status": status,
            "changed": bool(data.get("changed")),
            "censored": censored,
            "msg": "" if censored and status == "ok" else str(message)[:2000],
            "duration": self._duration(result.host.get_name(), task),
            **extra,
        }
        if data.get("changed") and status in ("ok", "changed"):
            args = result.task_fields.get("args") or {}
            event["resource"] = self._resource(task, data, args if isinstance(args, dict) else {})
        if not censored:
            event["diff"] = self._diffs(data)
        self._emit("result", **event)

    # -- ansible events ----------------------------------------------------------------------

    def v2_playbook_on_start(self, playbook: Any) -> None:
        self._emit("playbook_start", playbook=Path(playbook._file_name).name)

    def v2_playbook_on_play_start(self, play: Any) -> None:
        hosts: list[str] = []
        try:  # the hosts of the play, for the progress view's rows
            manager = play.get_variable_manager()
            self._manager = manager
            for host in manager._inventory.get_hosts(play.hosts):
                hosts.append(host.get_name())
                self._learn_inventory_secrets(manager, play, host)
        except Exception as error:  # an internal API: the view copes without the list
            self._emit("warning", msg=f"hosts of the play unknown: {error}")
        self._emit("play_start", name=play.get_name(), hosts=hosts)

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        self._emit("task_start", task=task.get_name(include_role_fqcn=False), handler=False)

    def v2_playbook_on_handler_task_start(self, task: Any) -> None:
        self._emit("task_start", task=task.get_name(include_role_fqcn=False), handler=True)

    def v2_runner_on_start(self, host: Any, task: Any) -> None:
        # Timed per host, so that verify can say what each host's read took. ansible.posix's
        # profile_tasks (2.1.0, plugins/callback/profile_tasks.py, _record_task) times a task
        # once for all its hosts, from v2_playbook_on_task_start; ansible-core 2.19 calls this
        # when it hands the task to one host's worker (lib/ansible/plugins/strategy/__init__.py,
        # StrategyBase._queue_task), and the result carries a copy of the task with the same
        # _uuid (_convert_wire_task_result_to_raw). A loop is one start and one result.
        self._started[(host.get_name(), str(task._uuid))] = time.monotonic()
        self._emit(
            "host_task_start", host=host.get_name(), task=task.get_name(include_role_fqcn=False)
        )

    def v2_runner_on_ok(self, result: Any) -> None:
        self._result("changed" if result.is_changed() else "ok", result)

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._result("ignored" if ignore_errors else "failed", result)

    def v2_runner_on_unreachable(self, result: Any) -> None:
        # ignore_unreachable: the play goes on and the host counts as ok (ansible-core 2.19
        # lib/ansible/plugins/strategy/__init__.py, _process_pending_results), like ignore_errors.
        ignored = bool(getattr(result.task, "ignore_unreachable", False))
        self._result("ignored" if ignored else "unreachable", result)

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._result("skipped", result)

    def v2_playbook_on_no_hosts_matched(self) -> None:
        self._emit("warning", msg="no hosts matched")

    def v2_playbook_on_stats(self, stats: Any) -> None:
        hosts = {}
        for host in sorted(stats.processed):
            summary = stats.summarize(host)
            hosts[host] = {
                "ok": summary["ok"],
                "changed": summary["changed"],
                "failed": summary["failures"],
                "unreachable": summary["unreachable"],
                "skipped": summary["skipped"],
                "rescued": summary["rescued"],
                "ignored": summary["ignored"],
            }
        self._emit("stats", hosts=hosts)
