"""Inbound calls under load: `hotline serve` (FastAGI) driven by Asterisk's side, on SQLite and
on PostgreSQL.

A fresh home (`hotline init`, residents imported through the CLI) and `hotline serve` in its own
process on ephemeral loopback ports, AMI secret unset. Every call is the standard inbound call:
known caller, 1 repair, a category, a voice description, 1 to confirm, hang-up; the caller lookup,
the ticket and the call record go to the database (SQLite in the home; PostgreSQL in a database
made for the run on the server of --pg-url, dropped after it). The load generator replays the
bytes of one call placed through the PBX simulator (see bench/_load.py), so Asterisk's replies
are exact. The same steps run on each database in turn:

1. Full call, replies instant, concurrency 50 and 500: completed calls/s, errors, server CPU per
   call; afterwards every call's ticket and call record are checked in the database.
2. Real pacing, each reply after about 1 s, 1,000 calls in flight: p99 server turnaround (our
   reply sent -> the next command received), p99 TCP connect -> ANSWER, peak RSS of the server.
3. pyst2 classic AGI (`hotline agi inbound`, a process per call), the same call.

    .venv/bin/python bench/inbound_load.py            # the full run, about 6 min on 2 cores
    .venv/bin/python bench/inbound_load.py --quick    # a short look (about 1 min)
    .venv/bin/python bench/inbound_load.py --db sqlite --json   # one database; one JSON object
    .venv/bin/python bench/inbound_load.py --quick --webhook http://127.0.0.1:9/x  # subscribed
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import resource
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from _header import header_lines, run_info  # bench/ is on sys.path when this script runs
from _load import (
    HOTLINE,
    CallOutcome,
    CallScript,
    ServerProcess,
    check_records,
    database_version,
    make_home,
    percentile,
    place_call,
    place_classic_call,
    postgres_database,
    record_script,
)

from hotline.pbxsim.fastagi import Input, Keys, Silence, Speak

# Greeting passes, caller-ID unit kept, 1 repair, 4 a category, 2 s of voice then #, 1 confirm.
STANDARD_CALL: list[Input] = [Silence(), Silence(), Keys("1"), Keys("4"), Speak(2.0), Keys("1")]
TARGET_CALLS_PER_SECOND = 500.0  # issue 16 (was 300)
TARGET_TURNAROUND_MS = 5.0
TARGET_ANSWER_MS = 20.0
TARGET_RSS_MB = 150.0
DATABASES = ("sqlite", "postgresql")
# The service as a site runs it by default: the HTTP API (with its live stream) and the metrics
# on, no webhook subscription; on ephemeral ports here. The AMI stays off: no PBX to log into.
AS_A_SITE = {"HOTLINE_WEB_LISTEN": "127.0.0.1:0"}
PG_ADMIN_URL = os.environ.get(
    "HOTLINE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@dataclass(frozen=True)
class Plan:
    residents: int
    full_calls: int
    levels: tuple[int, ...]
    in_flight: int
    pace: float  # seconds before each reply in the paced phase
    steady: float  # seconds the paced phase holds its calls in flight after the ramp
    classic_calls: int


FULL = Plan(10_000, 3_000, (50, 500), 1_000, 1.0, 60.0, 20)
QUICK = Plan(2_000, 500, (50, 500), 300, 0.5, 8.0, 4)


class Callers:
    """Known residents' numbers, round robin: every call looks a real caller up."""

    def __init__(self, phones: list[str]) -> None:
        self._next = itertools.cycle(phones)

    def __call__(self) -> str:
        return next(self._next)


async def closed_loop(
    make_call: Callable[[], Awaitable[CallOutcome]], calls: int, concurrency: int
) -> tuple[list[CallOutcome], float]:
    """``calls`` calls, ``concurrency`` at a time, each worker starting its next at once."""
    remaining = iter(range(calls))
    outcomes: list[CallOutcome] = []

    async def worker() -> None:
        for _ in remaining:
            outcomes.append(await make_call())

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return outcomes, time.perf_counter() - start


def errors_of(outcomes: list[CallOutcome]) -> list[str]:
    return [f"{o.key}: {o.error}" for o in outcomes if o.error is not None]


def full_call(
    server: ServerProcess, script: CallScript, callers: Callers, db: str, plan: Plan
) -> list[dict[str, Any]]:
    def call() -> Awaitable[CallOutcome]:
        return place_call(server.port, script, callers())

    asyncio.run(closed_loop(call, 100, 50))  # warm-up: imports, pools, SQLite caches
    results = []
    for concurrency in plan.levels:
        before = server.cpu_seconds()
        outcomes, elapsed = asyncio.run(closed_loop(call, plan.full_calls, concurrency))
        cpu = server.cpu_seconds() - before
        problems = errors_of(outcomes) + check_records(db, script, [o.key for o in outcomes])
        completed = sum(o.error is None for o in outcomes)
        results.append(
            {
                "concurrency": concurrency,
                "calls": len(outcomes),
                "seconds": round(elapsed, 2),
                "calls_per_s": round(completed / elapsed, 1),
                "server_cpu_ms_per_call": round(cpu * 1000 / len(outcomes), 3),
                "errors": len(problems),
                "first_errors": problems[:3],
            }
        )
    return results


async def paced(
    server: ServerProcess, script: CallScript, callers: Callers, plan: Plan
) -> dict[str, Any]:
    """``in_flight`` callers, started evenly over one call's length, each calling again when
    its call ends, until ``steady`` seconds after the ramp; samples from after the ramp."""
    ramp = len(script.commands) * plan.pace
    start = time.perf_counter()
    measure_from, stop_at = start + ramp, start + ramp + plan.steady
    turnarounds: list[float] = []
    by_step: dict[int, list[float]] = {}
    answers: list[float] = []
    outcomes: list[CallOutcome] = []
    in_flight: list[int] = []
    peak_rss_kb = 0
    live = 0

    def pace() -> float:
        return plan.pace * random.uniform(0.8, 1.2)

    async def caller(k: int) -> None:
        nonlocal live
        await asyncio.sleep(ramp * k / plan.in_flight)
        while (began := time.perf_counter()) < stop_at:
            live += 1
            outcome = await place_call(server.port, script, callers(), pace)
            live -= 1
            outcomes.append(outcome)
            for at, seconds, step in outcome.turnarounds:
                if measure_from <= at < stop_at:
                    turnarounds.append(seconds)
                    by_step.setdefault(step, []).append(seconds)
            if measure_from <= began and outcome.connect_to_answer is not None:
                answers.append(outcome.connect_to_answer)

    async def sample() -> None:
        nonlocal peak_rss_kb
        while True:
            peak_rss_kb = max(peak_rss_kb, server.memory_kb())
            if measure_from <= time.perf_counter() < stop_at:
                in_flight.append(live)
            await asyncio.sleep(0.2)

    sampler = asyncio.create_task(sample())
    await asyncio.gather(*(caller(k) for k in range(plan.in_flight)))
    sampler.cancel()
    problems = errors_of(outcomes)
    return {
        "in_flight_target": plan.in_flight,
        "in_flight_min": min(in_flight, default=0),
        "in_flight_max": max(in_flight, default=0),
        "pace_s": plan.pace,
        "measured_s": plan.steady,
        "calls": len(outcomes),
        "commands_measured": len(turnarounds),
        "turnaround_ms": {
            f"p{p}": round(percentile(turnarounds, p) * 1000, 2) for p in (50, 99, 99.9)
        }
        | {"max": round(max(turnarounds, default=float("nan")) * 1000, 2)},
        "slowest_commands_p99_ms": {
            script.commands[step].decode(): round(percentile(values, 99) * 1000, 2)
            for step, values in sorted(by_step.items(), key=lambda kv: -percentile(kv[1], 99))[:3]
        },
        "connect_to_answer_ms": {f"p{p}": round(percentile(answers, p) * 1000, 2) for p in (50, 99)}
        | {"max": round(max(answers, default=float("nan")) * 1000, 2)},
        "peak_rss_mb_sampled": round(peak_rss_kb / 1024, 1),
        "peak_rss_mb_vmhwm": round(server.memory_kb("VmHWM") / 1024, 1),
        "errors": len(problems),
        "first_errors": problems[:3],
        "keys": [o.key for o in outcomes],
    }


def classic(
    script: CallScript, callers: Callers, home: Path, settings: dict[str, str], calls: int
) -> dict:
    concurrency = 2  # one per core, as the load generator's machine has
    db = settings.get("HOTLINE_DB_URL") or f"sqlite:///{home / 'hotline.db'}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    outcomes, elapsed = asyncio.run(
        closed_loop(
            lambda: place_classic_call(script, callers(), home, settings), calls, concurrency
        )
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    problems = errors_of(outcomes) + check_records(db, script, [o.key for o in outcomes])
    return {
        "concurrency": concurrency,
        "calls": calls,
        "calls_per_s": round(sum(o.error is None for o in outcomes) / elapsed, 2),
        "cpu_ms_per_call": round(cpu * 1000 / calls, 1),
        "errors": len(problems),
        "first_errors": problems[:3],
    }


@contextmanager
def database_settings(database: str, pg_admin_url: str) -> Iterator[dict[str, str]]:
    """The settings that put a home on ``database``: none for SQLite (the home's file)."""
    if database == "sqlite":
        yield {}
    else:
        with postgres_database(pg_admin_url) as url:
            yield {"HOTLINE_DB_URL": url}


def reference_call(server: ServerProcess, script: CallScript, number: str) -> CallScript:
    """The script with its reference call placed on this server's database: the PBX simulator
    runs on Twisted's reactor, which runs once a process, so after the first database the
    reference is a replayed call (each of its commands checked against the recording)."""
    outcome = asyncio.run(place_call(server.port, script, number))
    if outcome.error is not None:
        raise RuntimeError(f"the reference call failed: {outcome.error}")
    return replace(script, reference_key=outcome.key)


# What a --webhook subscription asks for: the two events every standard call writes.
WEBHOOK_EVENTS = "ticket.created,call.ended"


def subscribe(home: Path, settings: dict[str, str], url: str) -> None:
    env = {**os.environ, **settings, "HOTLINE_HOME": str(home)}
    command = [str(HOTLINE), "webhooks", "add", url, "--events", WEBHOOK_EVENTS]
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)


def run(
    plan: Plan,
    root: Path,
    settings: dict[str, str],
    recorded: CallScript | None,
    webhook: str | None = None,
) -> dict[str, Any]:
    home, phones = make_home(root, plan.residents, settings)
    if webhook:
        subscribe(home, settings, webhook)
    db = settings.get("HOTLINE_DB_URL") or f"sqlite:///{home / 'hotline.db'}"
    callers = Callers(phones[1:])
    report: dict[str, Any] = {"database": database_version(db), "residents": plan.residents}
    server = ServerProcess(home, root / "serve-full.log", {**AS_A_SITE, **settings})
    server.start()
    try:
        if recorded is None:
            script = record_script(server.port, phones[0], STANDARD_CALL)
        else:
            script = reference_call(server, recorded, phones[0])
        report["script"] = script
        report["commands_per_call"] = len(script.commands)
        report["full_call"] = full_call(server, script, callers, db, plan)
        report["full_call_server_log_errors"] = server.errors_logged()[:5]
    finally:
        server.stop()
    # A fresh server for the paced phase: its peak RSS is this phase's alone.
    server = ServerProcess(home, root / "serve-paced.log", {**AS_A_SITE, **settings})
    server.start()
    try:
        result = asyncio.run(paced(server, script, callers, plan))
        problems = check_records(db, script, result.pop("keys")) + server.errors_logged()
        result["errors"] += len(problems)
        result["first_errors"] += problems[:3]
        report["paced"] = result
    finally:
        server.stop()
    report["classic"] = classic(script, callers, home, settings, plan.classic_calls)
    return report


def run_all(
    plan: Plan, root: Path, databases: list[str], pg_admin_url: str, webhook: str | None = None
) -> dict[str, Any]:
    report: dict[str, Any] = {"run": run_info(), "databases": {}, "webhook": webhook}
    script = None
    work = root / "run"  # the same paths for every database: the script holds the home's path
    for database in databases:
        with database_settings(database, pg_admin_url) as settings:
            work.mkdir()
            result = run(plan, work, settings, script, webhook)
            work.rename(root / database)
        script = result.pop("script")
        report["databases"][database] = result
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return report


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def print_table(report: dict[str, Any]) -> None:
    print("\n".join(header_lines(report["run"])))
    runs = report["databases"]
    first = next(iter(runs.values()))
    print(
        f"standard inbound call: {first['commands_per_call']} AGI commands, caller lookup, ticket "
        f"and call record; {first['residents']:,} residents on file; "
        + ", ".join(r["database"] for r in runs.values())
    )
    if report.get("webhook"):
        print(f"webhook subscription to {WEBHOOK_EVENTS} at {report['webhook']}")
    print()
    print("full call, replies instant                calls  calls/s  server CPU/call  errors")
    for database, run in runs.items():
        for r in run["full_call"]:
            ok = r["calls_per_s"] >= TARGET_CALLS_PER_SECOND and r["errors"] == 0
            print(
                f"  {'FastAGI ' + database:24}  c={r['concurrency']:<4}  {r['calls']:6}  "
                f"{r['calls_per_s']:7.1f}  {r['server_cpu_ms_per_call']:11.3f} ms  {r['errors']:6}"
                f"   target >= {TARGET_CALLS_PER_SECOND:g}/s, 0 errors: {verdict(ok)}"
            )
    for database, run in runs.items():
        c = run["classic"]
        print(
            f"  {'pyst2 classic ' + database:24}  c={c['concurrency']:<4}  {c['calls']:6}  "
            f"{c['calls_per_s']:7.2f}  {c['cpu_ms_per_call']:11.1f} ms  {c['errors']:6}"
            "   (a process per call)"
        )
    for database, run in runs.items():
        print_paced(database, run["paced"])
    for run in runs.values():
        for section in (*run["full_call"], run["paced"], run["classic"]):
            for line in section["first_errors"]:
                print("  error:", line)
    print(f"# load average at the end: {' '.join(map(str, report['load_average_at_end']))}")


def print_paced(database: str, p: dict[str, Any]) -> None:
    print()
    print(
        f"{database}, real pacing: replies after {p['pace_s']:g} s ±20 %, "
        f"{p['in_flight_target']} calls in flight (sampled {p['in_flight_min']}–"
        f"{p['in_flight_max']}), {p['measured_s']:g} s measured, {p['calls']} calls, "
        f"{p['commands_measured']} commands, {p['errors']} errors"
    )
    t, a = p["turnaround_ms"], p["connect_to_answer_ms"]
    rows = [
        ("command turnaround", t, TARGET_TURNAROUND_MS, "ms"),
        ("connect -> ANSWER", a, TARGET_ANSWER_MS, "ms"),
    ]
    for name, figures, target, unit in rows:
        spread = "  ".join(f"{k} {v:.2f}" for k, v in figures.items())
        ok = figures["p99"] <= target
        print(f"  {name:20} {spread} {unit}   target p99 <= {target:g}: {verdict(ok)}")
        if figures is t:
            for command, p99 in p["slowest_commands_p99_ms"].items():
                print(f"    p99 {p99:6.2f} ms before {command[:60]}")
    rss = max(p["peak_rss_mb_sampled"], p["peak_rss_mb_vmhwm"])
    print(
        f"  {'server peak RSS':20} {p['peak_rss_mb_sampled']:.1f} MB sampled, "
        f"{p['peak_rss_mb_vmhwm']:.1f} MB VmHWM   target <= {TARGET_RSS_MB:g}: "
        f"{verdict(rss <= TARGET_RSS_MB)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer calls, a short paced phase")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--keep", help="work in this folder and keep it (default: a temp dir)")
    parser.add_argument(
        "--db", choices=DATABASES, action="append", help="only this database (default: both)"
    )
    parser.add_argument(
        "--pg-url",
        default=PG_ADMIN_URL,
        help="a PostgreSQL server to make the run's database on (HOTLINE_BENCH_PG_URL)",
    )
    parser.add_argument(
        "--webhook",
        metavar="URL",
        help=f"subscribe URL to {WEBHOOK_EVENTS}: every call writes two outbox events",
    )
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    databases = args.db or list(DATABASES)
    if args.keep:
        root = Path(args.keep)
        root.mkdir(parents=True, exist_ok=False)
        report = run_all(plan, root, databases, args.pg_url, args.webhook)
    else:
        with tempfile.TemporaryDirectory(prefix="hotline-inbound-") as tmp:
            report = run_all(plan, Path(tmp), databases, args.pg_url, args.webhook)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_table(report)


if __name__ == "__main__":
    main()
