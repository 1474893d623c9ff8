"""The ticket list page (50 rows of 100,000 tickets) from one `hotline serve` process while it
carries ``--in-flight`` simulated calls, and those calls' AGI turnaround with and without the
API load (issue 13: >= 500 requests/s; the turnaround's p99 within 20 % of its figure alone).

The calls are bench/inbound_load.py's paced callers (the standard call replayed over raw
sockets, each reply after ~``--pace`` s); the API load is a second process of this script
(``--api-client``) keeping ``--api-concurrency`` page requests in flight with treq, so neither
client's work lands in the other's figures.

    python bench/api_under_calls.py                      # SQLite and PostgreSQL
    python bench/api_under_calls.py --databases sqlite --tickets 20000 --steady 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import treq
from _header import print_header, print_load_at_end  # bench/ is on sys.path when this runs
from _load import CallScript, ServerProcess, make_home, percentile, record_script
from api_tickets import free_port, pages, seed
from inbound_load import PG_ADMIN_URL, STANDARD_CALL, Callers, Plan, database_settings, paced
from inbound_load import reference_call as replayed_reference
from twisted.internet import defer, task
from twisted.web.http_headers import Headers

from hotline.core.db import Database

TARGET_PER_SECOND = 500.0
TARGET_SLOWDOWN = 1.2


async def api_load(base: str, token: str, tickets: int, seconds: float, concurrency: int) -> None:
    """The --api-client process: pages for ``seconds``; prints its figures as JSON."""
    headers = Headers({"Authorization": [f"Bearer {token}"]})
    urls = pages(base, tickets)
    times: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            response = await treq.get(next(urls), headers=headers)
            body = await treq.json_content(response)
            times.append(time.perf_counter() - started)
            if response.code != 200 or len(body["items"]) != 50:
                errors += 1

    began, cpu = time.perf_counter(), time.process_time()
    await defer.gatherResults([defer.Deferred.fromCoroutine(worker()) for _ in range(concurrency)])
    wall = time.perf_counter() - began
    print(
        json.dumps(
            {
                "requests": len(times),
                "errors": errors,
                "per_second": len(times) / wall,
                "p50_ms": percentile(times, 50) * 1000,
                "p99_ms": percentile(times, 99) * 1000,
                "client_ms": (time.process_time() - cpu) * 1000 / max(1, len(times)),
            }
        )
    )


def run(
    database: str, args: argparse.Namespace, top: Path, recorded: CallScript | None
) -> tuple[dict[str, Any], CallScript]:
    plan = Plan(args.residents, 0, (), args.in_flight, args.pace, args.steady, 0)
    # The same paths for every database: the recorded script holds the home's path.
    root = top / "run"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    with database_settings(database, PG_ADMIN_URL) as env:
        home, phones = make_home(root, args.residents, env)
        url = env.get("HOTLINE_DB_URL") or f"sqlite:///{home / 'hotline.db'}"
        token = seed(Database(url), args.tickets)
        port = free_port()
        server = ServerProcess(
            home, root / "serve.log", {**env, "HOTLINE_WEB_LISTEN": f"127.0.0.1:{port}"}
        )
        server.start()
        try:
            if recorded is None:
                script = record_script(server.port, phones[0], STANDARD_CALL)
            else:
                script = replayed_reference(server, recorded, phones[0])
            callers = Callers(phones[1:])
            cpu = [server.cpu_seconds()]
            alone = asyncio.run(paced(server, script, callers, plan))
            cpu.append(server.cpu_seconds())
            readers = server.children_cpu_seconds()
            seconds = len(script.commands) * plan.pace + plan.steady
            began = time.perf_counter()
            client = subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--api-client",
                    f"http://127.0.0.1:{port}/api/v1",
                    token,
                    str(args.tickets),
                    str(seconds),
                    str(args.api_concurrency),
                ],
                stdout=subprocess.PIPE,
            )
            loaded = asyncio.run(paced(server, script, callers, plan))
            cpu.append(server.cpu_seconds())
            readers = server.children_cpu_seconds() - readers
            out, _ = client.communicate(timeout=seconds + 60)
            api = json.loads(out.decode().strip().splitlines()[-1])
            # The service's CPU the pages added (the loaded run's less the run alone), and its
            # reader processes'; both runs last as long.
            api["service_ms"] = ((cpu[2] - cpu[1]) - (cpu[1] - cpu[0])) * 1000 / api["requests"]
            api["readers_ms"] = readers * 1000 / api["requests"]
            api["service_share"] = (cpu[2] - cpu[1]) / (time.perf_counter() - began)
        finally:
            server.stop()
    return {"alone": alone, "loaded": loaded, "api": api}, script


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--api-client":
        base, token, tickets, seconds, concurrency = sys.argv[2:7]
        task.react(
            lambda _r: defer.Deferred.fromCoroutine(
                api_load(base, token, int(tickets), float(seconds), int(concurrency))
            )
        )
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--residents", type=int, default=2_000)
    parser.add_argument("--in-flight", type=int, default=200)
    parser.add_argument("--pace", type=float, default=1.0)
    parser.add_argument("--steady", type=float, default=30.0)
    parser.add_argument("--api-concurrency", type=int, default=10)
    args = parser.parse_args()
    print_header()
    print(
        f"load: {args.tickets:,} tickets, {args.in_flight} calls in flight (replies after "
        f"~{args.pace:g} s), {args.steady:g} s measured; API pages {args.api_concurrency} at a time"
    )
    script = None
    with tempfile.TemporaryDirectory() as top:
        for database in args.databases:
            result, script = run(database, args, Path(top), script)
            report(database, result)
    print_load_at_end()


def report(database: str, result: dict[str, Any]) -> None:
    alone, loaded, api = (result[k] for k in ("alone", "loaded", "api"))
    p99_alone = alone["turnaround_ms"]["p99"]
    p99_loaded = loaded["turnaround_ms"]["p99"]
    slowdown = p99_loaded / p99_alone if p99_alone else float("nan")
    print(
        f"{database:10} API: {api['requests']} pages, {api['errors']} errors, "
        f"{api['per_second']:.0f}/s (target {TARGET_PER_SECOND:g}: "
        f"{'ok' if api['per_second'] >= TARGET_PER_SECOND else 'MISSED'}), "
        f"p50 {api['p50_ms']:.1f} ms, p99 {api['p99_ms']:.1f} ms"
    )
    print(
        f"{database:10} CPU a page: service {api['service_ms']:.2f} ms (beyond its calls'), "
        f"reader processes {api['readers_ms']:.2f} ms, this bench's client "
        f"{api['client_ms']:.2f} ms; the service used "
        f"{api['service_share']:.0%} of a core under API load"
    )
    print(
        f"{database:10} AGI turnaround p99: {p99_alone:.2f} ms alone, {p99_loaded:.2f} ms "
        f"under API load (x{slowdown:.2f}, target x{TARGET_SLOWDOWN}: "
        f"{'ok' if slowdown <= TARGET_SLOWDOWN else 'MISSED'}); calls in flight "
        f"{loaded['in_flight_min']}-{loaded['in_flight_max']}, "
        f"errors {alone['errors']} / {loaded['errors']}"
    )


if __name__ == "__main__":
    main()
