"""What the read-only playbook (playbooks/verify.yml) found on each host, parsed.

The playbook writes each host's report as a 0600 JSON file into a private temporary
directory made here, then removed; the TURN secret travels only that way, never through
Ansible's output. Nothing here prints a secret. plan, status and verify read the hosts
through `read_hosts`; the secret coturn really uses is `effective_secret`. How long each task
took on each host (the callback's `duration`) is kept too, in `TaskTimes`: verify's checks
show the time of the reads that gave their evidence.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from talkdeploy.federation_state import federation_state

if TYPE_CHECKING:
    from talkdeploy.model import Deployment
    from talkdeploy.run_result import Event, Masker, RunResult
    from talkdeploy.runner import RunOptions

ReportsT = TypeVar("ReportsT")

# The tasks of playbooks/verify.yml that read a check's evidence on a host (a test keeps these
# equal to the playbook's task names).
TURN_CONFIG_READ = "Coturn configuration is read"
TALK_SETTINGS_READ = "Talk's settings are read"

SOCKET = re.compile(r"^(?P<proto>udp|tcp)\s+\S+\s+\d+\s+\d+\s+(?P<local>\S+):(?P<port>\d+)\s")


@dataclass
class TurnReport:
    host: str
    config_found: bool
    secrets: list[str] = field(repr=False)  # static-auth-secret lines (several in a rotation)
    options: dict[str, str]  # turnserver.conf option -> value (last wins; flags -> "")
    version: str
    active: str
    enabled: str
    listening: list[tuple[str, int]]  # (udp|tcp, port), sorted, unique
    endpoint: dict[str, Any]
    config_text: str = field(default="", repr=False)  # holds the secret: never printed as is


@dataclass
class NextcloudReport:
    host: str
    error: str  # "" when occ answered
    turn_servers: list[dict[str, Any]] = field(default_factory=list, repr=False)  # secrets
    stun_servers: list[str] = field(default_factory=list)
    talk_version: str | None = None
    federation: dict[str, Any] | None = None  # talkdeploy.federation_state (no secret in it)


def parse_config(text: str) -> tuple[list[str], dict[str, str]]:
    secrets: list[str] = []
    options: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if name == "static-auth-secret":
            secrets.append(value)
        else:
            options[name] = value
    return secrets, options


def _may_be_coturns(socket_line: str) -> bool:
    return "users:((" not in socket_line or '"turnserver"' in socket_line


def parse_turn(data: dict[str, Any]) -> TurnReport:
    secrets, options = parse_config(str(data.get("config", "")))
    state: dict[str, str] = {}
    sockets: list[tuple[str, int, str]] = []
    for line in str(data.get("state", "")).splitlines():
        key, _, value = line.partition("=")
        if key == "socket":
            match = SOCKET.match(value)
            if match:
                sockets.append((match["proto"], int(match["port"]), value))
        else:
            state[key] = value.strip()
    # `ss -p` names the process only where root may read its /proc/<pid>/fd (CAP_SYS_PTRACE:
    # yes on a host, not in a default container), so one host can list root's sshd by name and
    # coturn's sockets without one. A socket counts unless ss names another process.
    listening = {(p, port) for p, port, line in sockets if _may_be_coturns(line)}
    return TurnReport(
        host=str(data["host"]),
        config_found=bool(data.get("config_found")),
        secrets=secrets,
        options=options,
        version=state.get("version", ""),
        active=state.get("active", "") or "unknown",
        enabled=state.get("enabled", "") or "unknown",
        listening=sorted(listening),
        endpoint=dict(data.get("endpoint") or {}),
        config_text=str(data.get("config", "")),
    )


def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def parse_nextcloud(data: dict[str, Any]) -> NextcloudReport:
    host = str(data["host"])
    if data.get("config_rc") != 0:
        reason = (str(data.get("config_error") or "") + " " + str(data.get("config") or "")).strip()
        return NextcloudReport(host, f"occ config:list failed: {reason[:300]}")
    try:
        listed = json.loads(str(data.get("config")))
    except json.JSONDecodeError:
        return NextcloudReport(host, "occ config:list printed no JSON (wrong occ user?)")
    spreed = (listed.get("apps") or {}).get("spreed") or {}
    turn = _json_value(spreed.get("turn_servers")) or []
    stun = _json_value(spreed.get("stun_servers")) or []
    version = None
    enabled_apps = None
    try:
        apps = json.loads(str(data.get("apps")))
        enabled_apps = apps.get("enabled") or {}
        version = enabled_apps.get("spreed")
    except (json.JSONDecodeError, AttributeError):
        pass
    return NextcloudReport(
        host,
        "",
        [entry for entry in turn if isinstance(entry, dict)],
        [str(s) for s in stun],
        version,
        federation_state(spreed, enabled_apps),
    )


def read_reports(directory: Path) -> dict[str, Any]:
    """{"turn": {host: TurnReport}, "nextcloud": {host: NextcloudReport}, "uclient": {...}}."""
    found: dict[str, Any] = {"turn": {}, "nextcloud": {}, "uclient": {}}
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text())
        kind = data.get("kind")
        if kind == "turn":
            found["turn"][data["host"]] = parse_turn(data)
        elif kind == "nextcloud":
            found["nextcloud"][data["host"]] = parse_nextcloud(data)
        elif kind == "uclient":
            found["uclient"][data["host"]] = data.get("runs", [])
    return found


@dataclass
class TaskTimes:
    """How long each task took on each host, from the callback's result events (`duration`:
    seconds from Ansible handing the task to the host until its result)."""

    results: list[tuple[str, str, str, float | None]] = field(default_factory=list)
    # (host, task, status, duration), in the order of the events

    def add(self, event: Event) -> None:
        if event.get("event") != "result":
            return
        duration = event.get("duration")
        seconds = float(duration) if isinstance(duration, int | float) else None
        self.results.append(
            (str(event.get("host")), str(event.get("task", "")), str(event.get("status")), seconds)
        )

    def of(self, host: str, task: str) -> float:
        """Seconds `task` took on `host` (all its results summed: a task that ran twice took
        both); 0.0 when it did not run there."""
        return sum(d or 0.0 for h, t, _, d in self.results if h == host and t == task)

    def on_host(self, host: str) -> float:
        """Seconds all of the run's tasks took on `host`; 0.0 when none ran there."""
        return sum(d or 0.0 for h, _, _, d in self.results if h == host)

    def of_failures(self, failures: list[dict[str, str]]) -> list[float | None]:
        """The duration of each of RunResult.failures (made from the same events, in the same
        order); None for a failure Ansible reported without starting a task on the host."""
        queues: dict[tuple[str, str, str], deque[float | None]] = defaultdict(deque)
        for host, task, status, duration in self.results:
            queues[(host, task, status)].append(duration)
        found = []
        for failure in failures:
            queue = queues[(failure["host"], failure["task"], failure["status"])]
            found.append(queue.popleft() if queue else None)
        return found


@dataclass
class Reports:
    run: RunResult
    turn: dict[str, TurnReport] = field(default_factory=dict)
    nextcloud: dict[str, NextcloudReport] = field(default_factory=dict)
    uclient: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    times: TaskTimes = field(default_factory=TaskTimes)
    seconds: float = 0.0  # the whole read: ansible-playbook's run and parsing its reports


def run_verify_playbook(
    options: RunOptions,
    masker: Masker,
    variables: dict[str, Any],
    read: Callable[[Path], ReportsT],
    *,
    tags: str | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> tuple[RunResult, ReportsT]:
    """Run playbooks/verify.yml with `variables`, its reports going to a private directory
    (0700, removed afterwards) that `read` turns into what the caller needs."""
    from talkdeploy.resources import locate
    from talkdeploy.runner import run_playbook

    found = locate()
    with tempfile.TemporaryDirectory(prefix="talkdeploy-reports-") as private:
        directory = Path(private)
        directory.chmod(0o700)
        extra = (
            *options.extra_vars,
            json.dumps({"talkdeploy_report_dir": str(directory), **variables}),
        )
        # Reading never changes anything: never in check mode (reads would be skipped).
        run_options = replace(options, extra_vars=extra, check=False, diff=False, tags=tags)
        run = run_playbook(
            found.playbook("verify.yml"),
            run_options,
            collections=found.collections_path,
            on_event=on_event,
            masker=masker,
        )
        return run, read(directory)


def read_hosts(
    options: RunOptions,
    masker: Masker,
    *,
    on_event: Callable[[Event], None] | None = None,
    uclient_from: str | None = None,
    uclient_targets: list[dict[str, Any]] | None = None,
) -> Reports:
    """Run the read-only playbook and collect every host's report."""
    variables = {
        "talkdeploy_uclient_from": uclient_from or "",
        "talkdeploy_uclient_targets": uclient_targets or [],
    }
    times = TaskTimes()

    def seen(event: Event) -> None:
        times.add(event)
        if on_event is not None:
            on_event(event)

    started = time.monotonic()
    run, reports = run_verify_playbook(options, masker, variables, read_reports, on_event=seen)
    seconds = time.monotonic() - started
    for report in reports["turn"].values():
        for secret in report.secrets:
            masker.add(secret)
    return Reports(
        run, reports["turn"], reports["nextcloud"], reports["uclient"], times, round(seconds, 3)
    )


def effective_secret(deployment: Deployment, reports: Reports, host: str) -> str | None:
    """The secret coturn uses: the host's first static-auth-secret, else the inventory's."""
    report = reports.turn.get(host)
    if report and report.secrets:
        return report.secrets[0]
    for server in deployment.turn_servers:
        if server.name == host:
            return server.secret
    return None
