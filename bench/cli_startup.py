"""Time the `hotline` command as an operator starts it: `--version`, `--help`, read commands.

Each command runs as the installed console script in a fresh process, the way a shell runs it;
the figures are the median and the slowest of --runs: wall time, and CPU time (user + sys, from
the kernel's accounting of the finished child), which a loaded machine inflates far less. Targets:
`--version` and `--help` within 0.15 s; a read command on a database of 100,000 tickets within
0.5 s (the verdict is on the median wall time; on a loaded machine read the CPU column).

The database is bench/core_report.py's seeded estate at --tickets tickets (and as many inbound
calls), cached at /tmp/hotline-bench-cli-<scale>-<schema>.db so a rerun only times.

    python bench/cli_startup.py                  # 100,000 tickets, 15 runs per command
    python bench/cli_startup.py --runs 5 --tickets 20000
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from hotline.core.db import head_revision

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _header import print_header, print_load_at_end  # sibling scripts, not a package
from core_report import Scale, cached_sqlite

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
    ("hotline arrears due (oldest 500)", [str(HOTLINE), "arrears", "due"], READ_TARGET),
    ("hotline arrears due --all", [str(HOTLINE), "arrears", "due", "--all"], READ_TARGET),
    ("hotline overdue (oldest 500)", [str(HOTLINE), "overdue"], READ_TARGET),
    ("hotline overdue --all", [str(HOTLINE), "overdue", "--all"], READ_TARGET),
    ("hotline overdue --json (every one)", [str(HOTLINE), "overdue", "--json"], READ_TARGET),
]


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed(argv: list[str], env: dict[str, str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each run."""
    subprocess.run(argv, env=env, capture_output=True, check=False)  # warm the page cache
    walls, cpus = [], []
    for _ in range(runs):
        cpu, started = _children_cpu(), time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=False)
        walls.append(time.perf_counter() - started)
        cpus.append(_children_cpu() - cpu)
    return walls, cpus


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
        print_header()
        print(f"{args.tickets:,} tickets in {path}; {args.runs} runs each")
        print(f"{'command':42} {'wall':>8} {'slowest':>8} {'CPU':>7} {'slowest':>8}  target")
        for name, command, target in COMMANDS:
            walls, cpus = timed(command, env, args.runs)
            wall = statistics.median(walls)
            verdict = "" if not target else ("ok" if wall <= target else "OVER")
            print(
                f"{name:42} {wall:7.3f}s {max(walls):7.3f}s {statistics.median(cpus):6.3f}s "
                f"{max(cpus):7.3f}s" + (f"  ≤ {target:.2f} s {verdict}" if target else "")
            )
        print_load_at_end()


if __name__ == "__main__":
    main()
