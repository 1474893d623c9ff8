"""Time the `hotline` command as an operator starts it: `--version`, `--help`, read commands.

Each figure is the wall time of the installed console script in a fresh process, the way a shell
runs it (the median and the slowest of --runs). Targets: `--version` and `--help` within 0.15 s;
a read command on a database of 100,000 tickets within 0.5 s.

The database is bench/core_report.py's seeded estate at --tickets tickets (and as many inbound
calls), cached at /tmp/hotline-bench-cli-<scale>-<schema>.db so a rerun only times.

    python bench/cli_startup.py                  # 100,000 tickets, 15 runs per command
    python bench/cli_startup.py --runs 5 --tickets 20000
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from hotline.core.db import head_revision

sys.path.insert(0, str(Path(__file__).resolve().parent))
from core_report import Scale, cached_sqlite  # a sibling script, not a package

START_TARGET, READ_TARGET = 0.15, 0.5
HOTLINE = Path(sys.executable).parent / "hotline"
COMMANDS: list[tuple[str, list[str], float]] = [
    ("python -c pass (the floor)", [sys.executable, "-c", "pass"], 0.0),
    ("hotline --version", [str(HOTLINE), "--version"], START_TARGET),
    ("hotline --help", [str(HOTLINE), "--help"], START_TARGET),
    ("hotline tickets list --state bogus", [str(HOTLINE), "tickets", "list", "--state", "x"], 0.15),
    ("hotline tickets list", [str(HOTLINE), "tickets", "list"], READ_TARGET),
    ("hotline tickets show 1", [str(HOTLINE), "tickets", "show", "1"], READ_TARGET),
    (
        "hotline residents list --unit 1-1-101",
        [str(HOTLINE), "residents", "list", "--unit", "1-1-101"],
        READ_TARGET,
    ),
    ("hotline report (this quarter)", [str(HOTLINE), "report"], READ_TARGET),
]


def timed(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    subprocess.run(argv, env=env, capture_output=True, check=False)  # warm the page cache
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return times


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    scale = Scale(args.tickets, args.tickets)
    path = cached_sqlite(Path(f"/tmp/hotline-bench-cli-{scale.key}-{head_revision()}.db"), scale)
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, HOTLINE_HOME=home, HOTLINE_DB_URL=f"sqlite:///{path}")
        # As an installed hotline runs: its modules' bytecode cached (the warm-up run writes it).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        print(f"{args.tickets:,} tickets in {path}; {args.runs} runs each; load {os.getloadavg()}")
        print(f"{'command':42} {'median':>8} {'slowest':>8}  target")
        for name, command, target in COMMANDS:
            times = timed(command, env, args.runs)
            verdict = "" if not target else ("ok" if statistics.median(times) <= target else "OVER")
            print(
                f"{name:42} {statistics.median(times):7.3f}s {max(times):7.3f}s"
                + (f"  ≤ {target:.2f} s {verdict}" if target else "")
            )


if __name__ == "__main__":
    main()
