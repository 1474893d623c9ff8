"""What one inbound call costs the server, counted rather than timed: `hotline serve` under
valgrind's callgrind, which counts the instructions it executes whatever else the machine runs
(CPU-time figures on a shared machine move more between runs than the effects being sought).

The same call as bench/inbound_load.py (a fresh SQLite home, the standard call replayed), 50 at a
time as its first level: after a warm-up the counters are zeroed, ``--calls`` calls run, and the
instructions executed in every thread of the server are divided by the calls. The figure depends
on the concurrency (more calls at a time share more of each batch of writes and each turn of the
reactor), so compare figures of one concurrency.

With ``--profile OUT``, the server runs under cProfile (every thread) instead, and OUT gets the
pstats of the whole process (print it with ``python -m pstats``); the SQL statements and commits
a call sends to SQLite are counted from it.

    .venv/bin/python bench/inbound_cost.py                  # instructions per call, 2-4 min
    .venv/bin/python bench/inbound_cost.py --profile /tmp/serve.pstats --calls 2000
"""

from __future__ import annotations

import argparse
import asyncio
import pstats
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _header import header_lines, run_info  # bench/ is on sys.path when this script runs
from _load import ServerProcess, check_records, make_home, place_call, record_script
from inbound_load import AS_A_SITE, STANDARD_CALL, Callers, closed_loop, errors_of

BENCH = Path(__file__).resolve().parent
SERVE_MODULE = (sys.executable, "-m", "hotline.cli")
VALGRIND_START = 600.0  # seconds: Python starts ~50 times slower under callgrind
# sqlite3's own methods, as cProfile names them: what reached the database.
DRIVER_CALLS = {
    "statements": "<method 'execute' of 'sqlite3.Cursor' objects>",
    "commits": "<method 'commit' of 'sqlite3.Connection' objects>",
}


def driver_calls(profile: Path) -> dict[str, int]:
    """How many times the profiled process called each of DRIVER_CALLS."""
    stats = pstats.Stats(str(profile)).stats  # type: ignore[attr-defined]
    counts = {name: 0 for name in DRIVER_CALLS}
    for (_file, _line, function), (_cc, ncalls, *_rest) in stats.items():
        for name, label in DRIVER_CALLS.items():
            if function == label:
                counts[name] += ncalls
    return counts


def callgrind_total(out: Path) -> int:
    """The instructions (Ir) of a callgrind dump: its ``totals:`` line (``summary:`` in some)."""
    for line in out.read_text().splitlines():
        if line.startswith(("totals:", "summary:")):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {out}")


def control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, stdout=subprocess.DEVNULL)


def measure(
    root: Path, calls: int, concurrency: int, profile: Path | None, metrics: bool = True
) -> dict[str, float]:
    home, phones = make_home(root, 2_000)
    callers = Callers(phones[1:])
    dump = root / "callgrind.out"
    if profile is not None:
        command: tuple[str, ...] = (
            sys.executable,
            str(BENCH / "_profile_threads.py"),
            str(profile),
            *SERVE_MODULE[1:],
        )
        start_timeout = 60.0
    else:
        valgrind = ("valgrind", "--tool=callgrind", f"--callgrind-out-file={dump}")
        command, start_timeout = (*valgrind, *SERVE_MODULE), VALGRIND_START
    settings = AS_A_SITE if metrics else {**AS_A_SITE, "HOTLINE_METRICS_LISTEN": ""}
    server = ServerProcess(home, root / "serve.log", settings, command, start_timeout)
    server.start()
    try:
        script = record_script(server.port, phones[0], STANDARD_CALL)

        def call() -> asyncio.Future:
            return place_call(server.port, script, callers())  # type: ignore[return-value]

        asyncio.run(closed_loop(call, 20, concurrency))  # warm-up: imports, caches
        if profile is None:
            control(server.pid, "--zero")
        outcomes, _elapsed = asyncio.run(closed_loop(call, calls, concurrency))
        if profile is None:
            control(server.pid, "--dump")
    finally:
        server.stop(timeout=120.0)
    db = f"sqlite:///{home / 'hotline.db'}"
    problems = errors_of(outcomes) + check_records(db, script, [o.key for o in outcomes])
    if problems:
        raise RuntimeError("; ".join(problems[:3]))
    if profile is not None:
        # The whole process: the reference call and the warm-up too.
        every = calls + 21
        return {f"{name}_per_call": n / every for name, n in driver_calls(profile).items()}
    dumps = sorted(root.glob("callgrind.out.*"))  # the --dump's, then the exit's
    return {"instructions_per_call": callgrind_total(dumps[0]) / calls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300, help="measured calls (default 300)")
    parser.add_argument("--concurrency", type=int, default=50, help="calls at a time (50)")
    parser.add_argument("--profile", type=Path, help="cProfile the server into this pstats file")
    parser.add_argument("--no-metrics", action="store_true", help="the server's metrics off")
    parser.add_argument("--keep", type=Path, help="work in this new folder and keep it (the dumps)")
    args = parser.parse_args()
    if args.profile is None and shutil.which("valgrind") is None:
        print("inbound cost: valgrind is not installed (apt-get install valgrind); skipped")
        return
    if args.keep:
        args.keep.mkdir(parents=True)
        result = measure(args.keep, args.calls, args.concurrency, args.profile, not args.no_metrics)
    else:
        with tempfile.TemporaryDirectory(prefix="hotline-cost-") as tmp:
            result = measure(
                Path(tmp), args.calls, args.concurrency, args.profile, not args.no_metrics
            )
    print("\n".join(header_lines(run_info())))
    print(
        f"standard inbound call on SQLite, {args.calls} calls at c={args.concurrency}, "
        f"metrics {'off' if args.no_metrics else 'on'}"
    )
    if "instructions_per_call" in result:
        print(f"  server instructions a call (callgrind): {result['instructions_per_call']:,.0f}")
    else:
        print(
            f"  SQL statements a call {result['statements_per_call']:.2f}, commits a call "
            f"{result['commits_per_call']:.2f}; cProfile of the server in {args.profile}"
        )


if __name__ == "__main__":
    main()
