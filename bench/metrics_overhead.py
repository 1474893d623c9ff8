"""What the metrics cost the calls: p99 AGI turnaround with 500 calls active, three ways.

The in-process service (as `hotline serve` runs it, SQLite) takes calls from the PBX simulator at
real pace (each prompt, key or recording answered after about a second), kept at ``--calls``
active. The turnaround is the simulated Asterisk's view: from its response to our next command.
Runs: no metrics; metrics attached (nobody scraping); metrics attached and a scraper in another
process fetching /metrics every 100 ms (Prometheus scrapes every 15 s: this is 150 times worse).
Target: serving /metrics adds at most 5 % to the p99.

    .venv/bin/python bench/metrics_overhead.py [--calls 500] [--seconds 45] [--warmup 15]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from twisted.internet.defer import Deferred
from twisted.internet.epollreactor import EPollReactor
from twisted.internet.task import deferLater

from hotline.agi.simulator import Keys, PBXOptions, Silence, SimCaller, Speak, simulate_call
from hotline.app import App
from hotline.core.residents import import_residents
from hotline.metrics import Metrics
from hotline.metrics_service import attach_metrics
from hotline.service import Service
from hotline.settings import load

RESIDENTS = "unit,name,phone,phone2,lang,do_not_call\n3-1-202,Li Na,5551234,,en,no\n"
# Keep the unit, repair, plumbing, a short description, confirm: about 20 commands, 20 s.
CALLER = [Silence(), Keys("1"), Keys("1"), Keys("4"), Speak(0.5), Keys("1")]
PACE = PBXOptions(
    time_scale=1.0, answer_seconds=1.0, prompt_seconds=1.0, say_digit_seconds=0.34, key_seconds=0.1
)
SCRAPER = """
import sys, time, urllib.request
url, end = sys.argv[1], time.monotonic() + float(sys.argv[2])
times, size = [], 0
while time.monotonic() < end:
    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=5) as r:
        size = len(r.read())
    times.append(time.monotonic() - started)
    time.sleep(max(0.0, 0.1 - (time.monotonic() - started)))
times.sort()
print(len(times), sum(times) / len(times), times[int(len(times) * 0.99)], size)
"""


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


class Load:
    """Keep ``calls`` simulated calls going; record every turnaround once ``measuring``."""

    def __init__(self, reactor: Any, port: int, calls: int, clock: Any) -> None:
        self.reactor, self.port, self.calls = reactor, port, calls
        self.options = PBXOptions(**{**PACE.__dict__, "wall_clock": lambda: clock().timestamp()})
        self.turnarounds: list[float] = []
        self.measuring = False
        self.running = True
        self.completed = 0

    def observer(self) -> Any:
        replied = [0.0]

        def seen(direction: str, line: str, t: float) -> None:
            now = time.monotonic()
            if direction == ">>":
                replied[0] = now
            elif self.measuring and replied[0]:
                self.turnarounds.append(now - replied[0])

        return seen

    async def one_line(self) -> None:
        while self.running:
            await simulate_call(
                self.reactor,
                "127.0.0.1",
                self.port,
                SimCaller("5551234", "Li Na", list(CALLER)),
                options=self.options,
                observer=self.observer(),
            )
            self.completed += 1

    async def run(self, warmup: float, seconds: float) -> None:
        lines = []
        for _ in range(self.calls):  # ramp up over a few seconds, as a busy morning would
            lines.append(Deferred.fromCoroutine(self.one_line()))
            await deferLater(self.reactor, 5.0 / self.calls, lambda: None)
        await deferLater(self.reactor, warmup, lambda: None)
        self.measuring = True
        await deferLater(self.reactor, seconds, lambda: None)
        self.measuring = False
        self.running = False
        for line in lines:
            await line


def run_once(mode: str, home: Path, db_url: str, args: argparse.Namespace) -> dict[str, Any]:
    app = App(load(home, env={"HOTLINE_DB_URL": db_url}))
    site = ZoneInfo(app.settings.site.timezone)
    start, t0 = datetime(2026, 11, 23, 10, 0, tzinfo=site), time.monotonic()

    def clock() -> datetime:
        return start + timedelta(seconds=time.monotonic() - t0)

    reactor = EPollReactor()
    figures: dict[str, Any] = {"mode": mode}

    async def main() -> None:
        service = Service(app, reactor, clock=clock, db_threads=8)
        await service.start("127.0.0.1:0")
        attached = None
        if mode != "none":
            attached = await attach_metrics(service, Metrics(clock=clock), "127.0.0.1:0")
        scraper = None
        if mode == "scraped" and attached is not None:
            address = attached.port.getHost()
            url = f"http://{address.host}:{address.port}/metrics"
            span = str(5.0 + args.warmup + args.seconds)
            scraper = subprocess.Popen(
                [sys.executable, "-c", SCRAPER, url, span], stdout=subprocess.PIPE, text=True
            )
        load_ = Load(reactor, service.ports[0].getHost().port, args.calls, clock)
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        await load_.run(args.warmup, args.seconds)
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        if scraper is not None:
            out, _ = scraper.communicate()
            n, mean, p99, size = out.split()
            figures["scrapes"] = int(n)
            figures["scrape_ms"] = (float(mean) * 1000, float(p99) * 1000)
            figures["scrape_bytes"] = int(size)
        if attached is not None:
            attached.stop()
        await service.stop()
        values = sorted(load_.turnarounds)
        figures["turnarounds"] = len(values)
        figures["completed"] = load_.completed
        figures["p50_ms"] = statistics.median(values) * 1000
        figures["p99_ms"] = percentile(values, 0.99) * 1000
        figures["p999_ms"] = percentile(values, 0.999) * 1000
        cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
        figures["cpu_share"] = cpu / (args.warmup + args.seconds + 5.0)

    def go() -> None:
        d = Deferred.fromCoroutine(main())
        d.addErrback(lambda f: figures.setdefault("error", f.getTraceback()))
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(go)
    reactor.run(installSignalHandlers=False)
    if "error" in figures:
        raise SystemExit(figures["error"])
    return figures


@contextmanager
def database(home: Path, pg_admin_url: str | None) -> Iterator[str]:
    """SQLite in ``home``, or a throw-away PostgreSQL database, seeded with one resident."""
    if pg_admin_url is None:
        url = f"sqlite:///{home / 'hotline.db'}"
        seed(home, url)
        yield url
        return
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    name = f"hotline_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        seed(home, url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(home: Path, db_url: str) -> None:
    app = App(load(home, env={"HOTLINE_DB_URL": db_url}))
    app.init()
    csv = home / "residents.csv"
    csv.write_text(RESIDENTS, encoding="utf-8")
    with app.db.session() as s:
        import_residents(s, csv)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=45.0, help="measured, per run")
    parser.add_argument("--warmup", type=float, default=15.0, help="after the ramp-up")
    parser.add_argument(
        "--pg",
        metavar="ADMIN_URL",
        help="PostgreSQL (a throw-away database per run) instead of SQLite, e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    )
    args = parser.parse_args()
    print(
        f"{args.calls} calls active, {args.seconds:g} s measured per run (after warm-up), "
        f"{'PostgreSQL' if args.pg else 'SQLite'}"
    )
    results = []
    for mode in ("none", "attached", "scraped"):
        with tempfile.TemporaryDirectory() as tmp, database(Path(tmp), args.pg) as db_url:
            results.append(run_once(mode, Path(tmp), db_url, args))
        r = results[-1]
        line = (
            f"{mode:>9}: {r['turnarounds']:6d} turnarounds, {r['completed']:5d} calls done, "
            f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, p99.9 {r['p999_ms']:.2f} ms, "
            f"CPU {r['cpu_share']:.0%}"
        )
        if "scrapes" in r:
            mean, p99 = r["scrape_ms"]
            line += (
                f"; {r['scrapes']} scrapes of {r['scrape_bytes']} bytes, "
                f"{mean:.1f} ms mean, {p99:.1f} ms p99"
            )
        print(line, flush=True)
    base = results[0]["p99_ms"]
    for r in results[1:]:
        added = (r["p99_ms"] - base) / base
        print(f"p99 added by {r['mode']}: {added:+.1%} (target <= +5 %)")


if __name__ == "__main__":
    main()
