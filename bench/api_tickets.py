"""A page of the ticket list over HTTP (50 rows) on 100,000 tickets: latency p50/p99 and
requests/s from one `hotline serve` process, on SQLite and on PostgreSQL.

The service runs as its own process (as in production); this script is the client, with treq,
keeping `--concurrency` requests in flight. Pages are the newest, a filtered one and pages deep
in the list by cursor, in turn.

    python bench/api_tickets.py                       # both databases
    python bench/api_tickets.py --databases sqlite --requests 500
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import treq
from _header import print_header, print_load_at_end  # bench/ is on sys.path when this runs
from _load import postgres_database
from _load import process_cpu_seconds as cpu_seconds
from sqlalchemy import insert, text
from twisted.internet import defer, task
from twisted.web.http_headers import Headers

from hotline.core.api_tokens import add_token
from hotline.core.db import Database
from hotline.core.models import Ticket, Unit
from hotline.core.vocabulary import CATEGORIES, Kind

PG_ADMIN_URL = os.environ.get(
    "HOTLINE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TARGET_P99_MS = 50.0
WARM_UP = 30  # requests before each measured run
START = datetime(2026, 1, 1, tzinfo=UTC)
STATES = {Kind.REPAIR: ("new", "dispatched", "done", "closed"), Kind.COMPLAINT: ("escalated",)}


def seed(db: Database, tickets: int) -> str:
    """Units and tickets, and a supervisor token for the client."""
    rng = random.Random(13)
    with db.transaction() as conn:
        units = [{"code": f"{b}-1-{r}"} for b in range(1, 11) for r in range(1, 101)]
        conn.execute(insert(Unit), units)
        rows = []
        for n in range(tickets):
            kind = rng.choice((Kind.REPAIR, Kind.REPAIR, Kind.COMPLAINT, Kind.ENQUIRY))
            at = START + timedelta(minutes=5 * n)
            rows.append(
                {
                    "kind": kind.value,
                    "category": rng.choice(CATEGORIES[kind]),
                    "severity": "general",
                    "channel": "phone",
                    "state": rng.choice(STATES.get(kind, ("new", "resolved"))),
                    "unit_id": rng.randint(1, 1000),
                    "about_staff": False,
                    "emergency": False,
                    "incomplete": False,
                    "received_at": at,
                    "updated_at": at,
                }
            )
            if len(rows) == 10_000:
                conn.execute(insert(Ticket), rows)
                rows = []
        if rows:
            conn.execute(insert(Ticket), rows)
    # Statistics as autovacuum (PostgreSQL) or a routine ANALYZE (SQLite) would leave them.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if db.url.startswith("postgresql") else "ANALYZE"))
    with db.session() as s:
        return add_token(s, f"bench-{uuid.uuid4().hex[:6]}", START, role="supervisor")[1]


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
    else:
        with postgres_database(PG_ADMIN_URL) as url:
            yield url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(url: str, home: Path, port: int, **settings: str) -> Iterator[int]:
    """`hotline serve` with its API on ``port`` (yields its pid); ``settings``: HOTLINE_* over
    the defaults."""
    env = {
        **os.environ,
        "HOTLINE_HOME": str(home),
        "HOTLINE_DB_URL": url,
        "HOTLINE_FASTAGI_LISTEN": "127.0.0.1:0",
        "HOTLINE_METRICS_LISTEN": "",
        "HOTLINE_WEB_LISTEN": f"127.0.0.1:{port}",
        **settings,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "hotline.cli", "serve"], env=env, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("hotline serve did not start") from None
                time.sleep(0.2)
        yield proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def pages(base: str, tickets: int) -> Iterator[str]:
    rng = random.Random(7)
    while True:
        yield f"{base}/tickets?limit=50"
        yield f"{base}/tickets?limit=50&kind=repair&state=dispatched"
        yield f"{base}/tickets?limit=50&cursor={rng.randint(51, tickets)}"


async def measure(
    base: str, token: str, tickets: int, requests: int, concurrency: int
) -> dict[str, Any]:
    headers = Headers({"Authorization": [f"Bearer {token}"]})
    urls = pages(base, tickets)
    for _ in range(WARM_UP):  # warm the connection pool, caches and the service's imports
        await treq.content(await treq.get(next(urls), headers=headers))
    times: list[float] = []
    errors = 0

    async def one() -> None:
        nonlocal errors
        started = time.perf_counter()
        response = await treq.get(next(urls), headers=headers)
        body = await treq.json_content(response)
        times.append(time.perf_counter() - started)
        if response.code != 200 or len(body["items"]) != 50:
            errors += 1

    limit = defer.DeferredSemaphore(concurrency)
    began = time.perf_counter()
    await defer.gatherResults(
        [limit.run(lambda: defer.Deferred.fromCoroutine(one())) for _ in range(requests)]
    )
    wall = time.perf_counter() - began
    ms = sorted(t * 1000 for t in times)
    return {
        "requests": requests,
        "errors": errors,
        "p50_ms": statistics.median(ms),
        "p99_ms": ms[int(len(ms) * 0.99) - 1],
        "per_second": requests / wall,
    }


async def run(kind: str, args: argparse.Namespace) -> dict[int, dict[str, Any]]:
    """Seed, start `hotline serve`, measure at each concurrency (blocking steps are fine here:
    nothing else runs in this client's reactor meanwhile)."""
    with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as url:
        db = Database(url)
        db.upgrade()
        t0 = time.perf_counter()
        token = seed(db, args.tickets)
        seeded = time.perf_counter() - t0
        print(f"{kind}: seeded {args.tickets:,} tickets in {seeded:.1f} s", flush=True)
        db.dispose()
        port = free_port()
        with serve(url, Path(tmp) / "home", port) as pid:
            base = f"http://127.0.0.1:{port}/api/v1"
            found = {}
            for c in args.concurrency:
                used = cpu_seconds(pid)
                found[c] = await measure(base, token, args.tickets, args.requests, c)
                # Over the warm-up's requests too: they are served alike.
                served = found[c]["requests"] + WARM_UP
                found[c]["cpu_ms"] = (cpu_seconds(pid) - used) / served * 1000
            return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10])
    args = parser.parse_args()
    task.react(lambda _reactor: defer.Deferred.fromCoroutine(report(args)))


async def report(args: argparse.Namespace) -> None:
    print_header()
    for kind in args.databases:
        for concurrency, f in (await run(kind, args)).items():
            verdict = "ok" if f["p99_ms"] <= TARGET_P99_MS else "MISSED"
            print(
                f"{kind:10} c={concurrency:<3} {f['requests']} requests, {f['errors']} errors: "
                f"p50 {f['p50_ms']:.1f} ms, p99 {f['p99_ms']:.1f} ms "
                f"(target {TARGET_P99_MS:.0f}: {verdict}), {f['per_second']:.0f} requests/s, "
                f"service CPU {f['cpu_ms']:.2f} ms a request"
            )
    print_load_at_end()


if __name__ == "__main__":
    main()
