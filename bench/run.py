"""Benchmarks that print figures (speed is measured here, never asserted in timed tests).

    .venv/bin/python bench/run.py                  CLI start-up only
    .venv/bin/python bench/run.py -i inventories/lab   also a no-op re-apply against a bare
                                                        `ansible -m ping` of the same hosts

Targets (README): `talkdeploy --help` under 0.3 s; a no-op re-apply within 3x the ping.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def timed(argv: list[str], runs: int) -> list[float]:
    """Wall time of each run of argv; any failing run aborts the benchmark."""
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "NO_COLOR": "1"}
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        run = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env)
        if run.returncode:
            raise SystemExit(f"{' '.join(argv)} failed (exit {run.returncode}):\n"
                             f"{(run.stdout + run.stderr)[-2000:]}")  # fmt: skip
        seconds.append(time.perf_counter() - start)
    return seconds


def report(name: str, seconds: list[float], target: str = "") -> float:
    median = statistics.median(seconds)
    spread = f"min {min(seconds):.3f} s, max {max(seconds):.3f} s, {len(seconds)} runs"
    print(f"{name:<34} median {median:7.3f} s   ({spread}){'   ' + target if target else ''}")
    return median


def bench_startup(runs: int) -> None:
    median = report(
        "talkdeploy --help",
        timed([str(BIN / "talkdeploy"), "--help"], runs),
        "target < 0.300 s",
    )
    print(f"{'':<34} {'meets target' if median < 0.3 else 'MISSES target'}")


def bench_noop_apply(inventory: Path, runs: int) -> None:
    ping = report(
        "ansible -m ping (all hosts)",
        timed([str(BIN / "ansible"), "all", "-i", str(inventory), "-m", "ping"], runs),
    )
    # The first apply converges; the timed ones are no-op re-applies.
    apply = [str(BIN / "talkdeploy"), "--output", "json", "apply", "-i", str(inventory), "--yes"]
    timed(apply, 1)
    noop = report("talkdeploy apply (no-op re-run)", timed(apply, runs), "target < 3x ping")
    ratio = noop / ping
    verdict = "meets" if ratio <= 3 else "MISSES"
    print(f"{'no-op apply / ping':<34} {ratio:7.2f}x   {verdict} target")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--inventory", type=Path, help="a deployed inventory (e.g. the lab)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    bench_startup(max(args.runs, 10))
    if args.inventory:
        bench_noop_apply(args.inventory, args.runs)
    else:
        print("(no -i INVENTORY: skipped the no-op apply benchmark; try -i inventories/lab)")


if __name__ == "__main__":
    main()
