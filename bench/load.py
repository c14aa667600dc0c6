"""Capacity of the deployed coturn: N concurrent TURN allocations held, refreshed, released.

    .venv/bin/python bench/load.py                      the running lab (`talkdeploy lab up`,
                                                        then `talkdeploy apply -i inventories/lab`)
    .venv/bin/python bench/load.py --count 2000 --tuning on

Against the lab's TURN container only (its address comes from Docker, for a container the lab
started): UDP allocations with TURN REST credentials derived from the deployed secret, as Talk
hands them out. Each run opens up to --count allocations (at most 5,000, --concurrency at a
time), holds them, sends each one explicit Refresh, then releases them (Refresh LIFETIME=0),
all within 60 s. It prints allocations/s, how many were held with no failure, coturn's resident
memory and open files at the peak, its open-files limit, and the first failure with coturn's own
error (RFC 8656 codes: 486 Allocation Quota Reached, 508 Insufficient Capacity; a timeout; ...).

`--tuning all` runs it three times: with the role's service drop-in (coturn_limit_nofile), with
the drop-in moved aside (systemd's default limits), and with LimitNOFILE=1024 (the soft limit
most hosts give a process) to show what fails first when descriptors run out. The role's drop-in
is restored afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MAX_COUNT = 5000  # the bound the issue sets: never more allocations than this
MAX_SECONDS = 60.0  # one run, allocation to release, never longer than this
DROPIN = "/etc/systemd/system/coturn.service.d/talkdeploy-service.conf"  # roles/coturn/vars
LOW_LIMIT = "/etc/systemd/system/coturn.service.d/zz-talkdeploy-bench.conf"


@dataclass
class Outcome:
    label: str
    limit: str = ""
    wanted: int = 0
    held: int = 0
    allocate_seconds: float = 0.0
    refreshed: int = 0
    released: int = 0
    rss_before_kib: int = 0
    rss_peak_kib: int = 0
    fds_before: int = 0
    fds_peak: int = 0
    first_failure: str = ""
    failed_at: int | None = None  # how many were held when the first allocation failed
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.held / self.allocate_seconds if self.allocate_seconds else 0.0


def docker_exec(container: str, script: str) -> str:
    run = subprocess.run(
        ["docker", "exec", container, "sh", "-c", script], capture_output=True, text=True
    )
    if run.returncode:
        raise SystemExit(f"{container}: `{script}` failed: {run.stderr.strip()}")
    return run.stdout.strip()


def coturn_process(container: str) -> tuple[int, int, str]:
    """(resident KiB, open file descriptors, 'soft/hard' open-files limit) of turnserver."""
    pid = docker_exec(container, "systemctl show -p MainPID --value coturn")
    if pid in ("", "0"):
        raise SystemExit(f"{container}: coturn is not running")
    rss = docker_exec(container, f"awk '/^VmRSS:/ {{print $2}}' /proc/{pid}/status")
    fds = docker_exec(container, f"ls /proc/{pid}/fd | wc -l")
    limits = docker_exec(
        container, f"awk '/^Max open files/ {{print $4\"/\"$5}}' /proc/{pid}/limits"
    )
    return int(rss or 0), int(fds), limits


def lab_target(lab: str) -> tuple[str, str, int]:
    """(TURN container, its lab address, listening port) of a lab this machine started."""
    from talkdeploy import lab as labs

    turn = [m for m in labs.status(lab) if m.role == "turn" and m.state == "running"]
    if not turn or not turn[0].address:
        raise SystemExit(f"no running lab {lab!r}: run `talkdeploy lab up` and `talkdeploy apply`")
    member = turn[0]
    port = docker_exec(member.name, "sed -n 's/^listening-port=//p' /etc/turnserver.conf")
    return member.name, str(member.address), int(port or 3478)


def deployed_secret(inventory: Path, host: str) -> str:
    """The secret coturn uses, read the way verify reads it (playbooks/verify.yml, no output)."""
    from talkdeploy.host_reports import effective_secret, read_hosts
    from talkdeploy.inventory import load
    from talkdeploy.model import build
    from talkdeploy.run_result import Masker
    from talkdeploy.runner import RunOptions

    deployment, _ = build(load(inventory))
    reports = read_hosts(RunOptions(inventory=inventory, limit=host), Masker())
    secret = effective_secret(deployment, reports, host)
    if not secret:
        raise SystemExit(f"{host}: no secret found in the inventory or on the host")
    return secret


def _error_name(error: BaseException) -> str:
    from aioice import stun

    if isinstance(error, stun.TransactionFailed):
        code, reason = error.response.attributes.get("ERROR-CODE", (0, "no ERROR-CODE"))
        return f"{code} {reason}"
    if isinstance(error, stun.TransactionTimeout):
        return "timeout (no answer)"
    return f"{type(error).__name__}: {error}"


async def run_load(
    address: str, port: int, secret: str, count: int, concurrency: int, hold: float, label: str
) -> tuple[Outcome, list[object]]:
    from aioice import stun
    from aioice.turn import TurnClientUdpProtocol

    from talkdeploy.probe.stun_turn import rest_credentials

    outcome = Outcome(label, wanted=count)
    username, password = rest_credentials(secret, ttl=3600, user="talkdeploy-bench")
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(concurrency)
    clients: list[TurnClientUdpProtocol] = []

    async def one(index: int) -> None:
        async with gate:
            if outcome.failed_at is not None and index > outcome.failed_at + concurrency:
                return  # past the first failure: coturn's limit is found, stop asking
            _, client = await loop.create_datagram_endpoint(
                lambda: TurnClientUdpProtocol(
                    (address, port), username, password, lifetime=120, channel_refresh_time=500
                ),
                remote_addr=(address, port),
            )
            try:
                await client.connect()
            except Exception as error:  # every failure is counted by kind, the first one named
                client.transport.close()
                name = _error_name(error)
                outcome.failures[name] = outcome.failures.get(name, 0) + 1
                if outcome.failed_at is None:
                    outcome.failed_at, outcome.first_failure = len(clients), name
                return
            clients.append(client)

    started = time.perf_counter()
    await asyncio.gather(*(one(index) for index in range(count)))
    outcome.allocate_seconds = time.perf_counter() - started
    outcome.held = len(clients)
    await asyncio.sleep(hold)

    async def refresh(client: TurnClientUdpProtocol) -> bool:
        request = stun.Message(message_method=stun.Method.REFRESH, message_class=stun.Class.REQUEST)
        request.attributes["LIFETIME"] = 120
        async with gate:
            try:
                await client.request_with_retry(request)
            except Exception:
                return False
            return True

    outcome.refreshed = sum(await asyncio.gather(*(refresh(c) for c in clients)))
    return outcome, list(clients)


async def release(clients: list[object], concurrency: int) -> int:
    gate = asyncio.Semaphore(concurrency)

    async def one(client: object) -> bool:
        async with gate:
            await client.delete()  # type: ignore[attr-defined]
            return True

    return sum(await asyncio.gather(*(one(c) for c in clients)))


def measure(container: str, address: str, port: int, secret: str, args: argparse.Namespace,
            label: str) -> Outcome:  # fmt: skip
    rss, fds, limit = coturn_process(container)

    async def whole() -> Outcome:
        outcome, clients = await run_load(
            address, port, secret, args.count, args.concurrency, args.hold, label
        )
        outcome.rss_peak_kib, outcome.fds_peak, _ = coturn_process(container)
        outcome.released = await release(clients, args.concurrency)
        return outcome

    try:
        outcome = asyncio.run(asyncio.wait_for(whole(), MAX_SECONDS))
    except TimeoutError:
        raise SystemExit(f"{label}: did not finish within {MAX_SECONDS:.0f} s") from None
    outcome.rss_before_kib, outcome.fds_before, outcome.limit = rss, fds, limit
    return outcome


def restart(container: str) -> None:
    docker_exec(container, "systemctl daemon-reload && systemctl restart coturn && sleep 1")


def raise_own_fd_limit(count: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, count + 256))  # one UDP socket per allocation, plus margin
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    if wanted < count + 64:
        raise SystemExit(f"this shell allows {hard} open files: lower --count to {hard - 256}")


def print_table(outcomes: list[Outcome]) -> None:
    rows = [
        ("coturn open-files limit (soft/hard)", lambda o: o.limit),
        ("allocations asked", lambda o: str(o.wanted)),
        ("held with 0 failures", lambda o: str(o.failed_at if o.failed_at is not None else o.held)),
        ("held in all", lambda o: str(o.held)),
        ("allocations/s", lambda o: f"{o.rate:.0f}"),
        ("refreshed", lambda o: str(o.refreshed)),
        ("released", lambda o: str(o.released)),
        ("coturn RSS before -> peak (MiB)",
         lambda o: f"{o.rss_before_kib / 1024:.1f} -> {o.rss_peak_kib / 1024:.1f}"),
        ("coturn open files before -> peak", lambda o: f"{o.fds_before} -> {o.fds_peak}"),
        ("first failure", lambda o: o.first_failure or "none"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    print(f"{'':<{width}}  " + "  ".join(f"{o.label:>24}" for o in outcomes))
    for name, cell in rows:
        print(f"{name:<{width}}  " + "  ".join(f"{cell(o):>24}" for o in outcomes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="talkdeploy-lab", help="the lab's name")
    parser.add_argument("-i", "--inventory", type=Path, default=ROOT / "inventories" / "lab")
    parser.add_argument("--count", type=int, default=3000, help=f"at most {MAX_COUNT}")
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--hold", type=float, default=2.0, help="seconds to hold before refresh")
    parser.add_argument("--tuning", choices=("on", "off", "low", "all"), default="all")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    if not 1 <= args.count <= MAX_COUNT:
        raise SystemExit(f"--count must be 1..{MAX_COUNT}")
    raise_own_fd_limit(args.count)
    container, address, port = lab_target(args.lab)
    host = docker_exec(container, "hostname")
    secret = deployed_secret(args.inventory, host)
    outcomes: list[Outcome] = []
    if args.tuning in ("on", "all"):
        restart(container)  # a fresh process: earlier runs' state does not count
        outcomes.append(measure(container, address, port, secret, args, "role's tuning"))
    if args.tuning in ("off", "all"):
        docker_exec(container, f"mv {DROPIN} /root/talkdeploy-service.conf.bench")
        try:
            restart(container)
            outcomes.append(measure(container, address, port, secret, args, "systemd default"))
        finally:
            docker_exec(container, f"mv /root/talkdeploy-service.conf.bench {DROPIN}")
            restart(container)
    if args.tuning in ("low", "all"):
        docker_exec(container, f"printf '[Service]\\nLimitNOFILE=1024\\n' > {LOW_LIMIT}")
        try:
            restart(container)
            outcomes.append(measure(container, address, port, secret, args, "LimitNOFILE=1024"))
        finally:
            docker_exec(container, f"rm -f {LOW_LIMIT}")
            restart(container)
    print(
        f"coturn {address}:{port} (lab {args.lab}), UDP allocations, {args.concurrency} at a time"
    )
    print_table(outcomes)
    if args.json:
        print(json.dumps([o.__dict__ for o in outcomes], indent=2))


if __name__ == "__main__":
    main()
