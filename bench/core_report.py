"""Time `build_report` over a year of a large centre, on SQLite and on PostgreSQL.

The data is seeded: 30,000 flats; 1,000,000 tickets (55 % repairs, 15 % complaints, 30 %
enquiries) received over the year to 2026-11-22 with a daytime profile, most dispatched, escalated,
done or resolved with realistic delays (none after "now"); one follow-up per done or resolved
ticket, most made, most answered; 1,000,000 inbound calls; 20,000 arrears accounts. The service
rules (`hotline.core.rules`) give every deadline, so the figures come out as the centre's would.

SQLite: the database is cached at /tmp/hotline-bench-report-v{VERSION}-....db, so a rerun only
times. PostgreSQL: a throw-away database on 127.0.0.1 (HOTLINE_TEST_PG_URL, as the tests), loaded
by COPY, vacuumed and analysed as autovacuum would leave it, dropped at the end.

    python bench/core_report.py                        # both databases, 5 runs per period
    python bench/core_report.py --explain              # and each query's time and plan
    python bench/core_report.py --databases sqlite --regenerate
    python bench/core_report.py --tickets 100000 --calls 100000     # a quick, smaller run
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from math import log
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Table, create_engine, event, insert, text
from sqlalchemy.engine import make_url

from hotline.core.db import Database
from hotline.core.models import (
    ArrearsAccount,
    Base,
    CallRecord,
    FollowUp,
    Ticket,
    Unit,
    UTCDateTime,
)
from hotline.core.report import build_report
from hotline.core.rules import Rules
from hotline.core.vocabulary import CATEGORIES, Kind, Severity

sys.path.insert(0, str(Path(__file__).resolve().parent))
from core_import import unit_codes  # a sibling script, not a package

VERSION = 1  # bump whenever the generated data changes, so a stale cached file is not reused
TARGET_SECONDS = 2.0
CHUNK = 50_000
SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 22, tzinfo=SH)
YEAR = (NOW - timedelta(days=365), NOW)
QUARTER = (datetime(2026, 7, 1, tzinfo=SH), datetime(2026, 10, 1, tzinfo=SH))
PG_ADMIN_URL = os.environ.get(
    "HOTLINE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

# Relative weights; calls and reports follow the centre's day (local hours 0-23).
HOURS = (1, 1, 1, 1, 1, 1, 2, 3, 8, 9, 9, 8, 6, 6, 8, 9, 8, 7, 5, 5, 4, 3, 2, 1)
KINDS = {Kind.REPAIR: 55, Kind.COMPLAINT: 15, Kind.ENQUIRY: 30}
CATEGORY_WEIGHTS: dict[Kind, tuple[int, ...]] = {
    Kind.REPAIR: (20, 5, 15, 25, 15, 15, 5),
    Kind.COMPLAINT: (25, 25, 15, 10, 15, 10),
    Kind.ENQUIRY: (5, 80, 15),
}
SEVERITIES = {Severity.MINOR: 30, Severity.GENERAL: 60, Severity.MAJOR: 10}
CHANNELS = {"phone": 70, "walk_in": 10, "wechat": 15, "web": 5}
SATISFACTION = (1, 2, 3, 4, 5), (2, 3, 10, 35, 50)
TEXTS = ("", "", "卫生间漏水，楼下天花板渗水", "楼道灯不亮", "门锁坏了打不开", "楼上装修噪音太大")
PATHS = ("lang>main:1>repair:1", "lang>main:2>complaint:1", "lang>main:3", "lang>main:0")

TICKET_COLUMNS = (
    "id", "kind", "category", "severity", "channel", "state", "unit_id", "caller_number", "text",
    "about_staff", "emergency", "incomplete", "intake_key", "received_at", "dispatched_at",
    "escalated_at", "done_at", "resolved_at", "closed_at", "escalation_due_at",
    "resolution_due_at", "updated_at",
)  # fmt: skip
FOLLOWUP_COLUMNS = (
    "id", "ticket_id", "due_at", "assignee_role", "kind", "done_at", "satisfaction", "quality",
    "comment",
)  # fmt: skip
CALL_COLUMNS = (
    "id", "direction", "caller", "callee", "channel", "uniqueid", "arrived_at", "answered_at",
    "connected_at", "ended_at", "rings_before_answer", "disposition", "hangup_cause", "path",
    "agent", "queue", "ticket_id",
)  # fmt: skip
ARREARS_COLUMNS = (
    "id", "unit_id", "amount", "months", "collection_month", "stage", "last_reminder_at",
    "paid_amount", "paid_at", "cashier_check", "imported_at",
)  # fmt: skip


@dataclass(frozen=True)
class Scale:
    tickets: int
    calls: int
    arrears: int = 20_000
    floors: int = 25  # 200 buildings x 3 entrances x 25 floors x 2 flats = 30,000 flats

    @property
    def key(self) -> str:
        return f"v{VERSION}-t{self.tickets}-c{self.calls}-a{self.arrears}"


def table_of(model: type[Base]) -> Table:
    """A model's Table (declarative mapping types `__table__` as any FromClause)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


@dataclass
class Batch:
    """Rows for one table, as tuples in the order of `columns`."""

    table: Table
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)


class Weighted:
    """A seeded weighted choice with the cumulative weights worked out once."""

    def __init__(self, rng: random.Random, weights: dict[Any, int] | tuple[Any, Any]) -> None:
        values, counts = (
            (weights.keys(), weights.values()) if isinstance(weights, dict) else weights
        )
        self.values, self.cum, self.rng = list(values), list(accumulate(counts)), rng

    def __call__(self) -> Any:
        return self.rng.choices(self.values, cum_weights=self.cum)[0]


class Generator:
    """Seeded rows of a year at the centre; the same seed gives the same database everywhere."""

    def __init__(self, scale: Scale, seed: int = 2026) -> None:
        self.scale, self.rules, self.rng = scale, Rules(), random.Random(seed)
        self.now = NOW.astimezone(UTC)
        self.day0 = YEAR[0].astimezone(UTC)  # local midnight, in UTC: hours below are local
        self.units = len(unit_codes(scale.floors))
        rng = self.rng
        self.hour = Weighted(rng, dict(enumerate(HOURS)))
        self.kind = Weighted(rng, KINDS)
        self.categories = {
            k: Weighted(rng, (CATEGORIES[k], CATEGORY_WEIGHTS[k])) for k in CATEGORY_WEIGHTS
        }
        self.severity = Weighted(rng, SEVERITIES)
        self.channel = Weighted(rng, CHANNELS)
        self.satisfaction = Weighted(rng, SATISFACTION)

    def moment(self) -> datetime:
        day = self.rng.randrange((YEAR[1] - YEAR[0]).days)
        return self.day0 + timedelta(days=day, hours=self.hour(), seconds=self.rng.uniform(0, 3600))

    def later(self, start: datetime, median_minutes: float, sigma: float) -> datetime | None:
        """A lognormal delay after `start`; None when it would fall after now."""
        minutes = self.rng.lognormvariate(log(median_minutes), sigma)
        at = start + timedelta(minutes=minutes)
        return at if at <= self.now else None

    def unit_id(self) -> int:
        # Skewed: a few flats call far more often, which is what makes repeats.
        return int(self.units * self.rng.random() ** 1.6) + 1

    def mobile(self) -> str:
        return f"1{self.rng.choice('3578')}{self.rng.randrange(10**9):09d}"

    def units_batch(self) -> Iterator[Batch]:
        codes = unit_codes(self.scale.floors)
        yield Batch(table_of(Unit), ("id", "code"), list(enumerate(codes, 1)))

    def tickets_and_followups(self) -> Iterator[Batch]:
        rng, rules, fid = self.rng, self.rules, 0
        for first in range(1, self.scale.tickets + 1, CHUNK):
            tickets = Batch(table_of(Ticket), TICKET_COLUMNS)
            followups = Batch(table_of(FollowUp), FOLLOWUP_COLUMNS)
            for tid in range(first, min(first + CHUNK, self.scale.tickets + 1)):
                kind: Kind = self.kind()
                category: str = self.categories[kind]()
                severity: Severity = self.severity()
                channel: str = self.channel()
                received = self.moment()
                m = self.milestones(kind, received)
                trigger = m["done"] if kind is Kind.REPAIR else m["resolved"]
                if trigger is not None:
                    fid += 1
                    followups.rows.append(
                        self.followup(fid, tid, kind, category, severity, trigger)
                    )
                complaint = kind is Kind.COMPLAINT
                tickets.rows.append(
                    (
                        tid, kind.value, category, severity.value, channel, m["state"],
                        self.unit_id(), self.mobile() if channel == "phone" else None,
                        rng.choice(TEXTS) or None, complaint and rng.random() < 0.05,
                        rules.is_emergency(kind, category), rng.random() < 0.01,
                        f"bench-{tid}" if channel == "phone" else None, received,
                        m["dispatched"], m["escalated"], m["done"], m["resolved"], m["closed"],
                        rules.escalation_due(received) if complaint else None,
                        rules.resolution_due(severity, received) if complaint else None,
                        max(t for t in m.values() if isinstance(t, datetime)),
                    )
                )  # fmt: skip
            yield tickets
            yield followups

    def milestones(self, kind: Kind, received: datetime) -> dict[str, Any]:
        """When the ticket reached each milestone (None: not yet) and the state it is in now."""
        m: dict[str, Any] = dict.fromkeys(("dispatched", "escalated", "done", "resolved", "closed"))
        m["state"], m["received"] = "new", received
        rng = self.rng
        if kind is Kind.REPAIR:
            m["dispatched"] = self.later(received, 3, 0.5) if rng.random() < 0.97 else None
            if m["dispatched"]:
                m["state"] = "in_progress"
                m["done"] = self.later(m["dispatched"], 240, 1.0) if rng.random() < 0.95 else None
            if m["done"]:
                m["state"] = "done"
                m["closed"] = self.later(m["done"], 2880, 0.6) if rng.random() < 0.7 else None
        elif kind is Kind.COMPLAINT:
            m["escalated"] = self.later(received, 35, 0.6) if rng.random() < 0.95 else None
            if m["escalated"]:
                m["state"] = "escalated"
                m["resolved"] = (
                    self.later(m["escalated"], 2880, 0.7) if rng.random() < 0.9 else None
                )
            if m["resolved"]:
                m["state"] = "resolved"
                m["closed"] = self.later(m["resolved"], 4320, 0.5) if rng.random() < 0.6 else None
        else:
            m["resolved"] = self.later(received, 60, 1.2) if rng.random() < 0.95 else None
            if m["resolved"]:
                m["state"] = "resolved"
                m["closed"] = self.later(m["resolved"], 1440, 0.5) if rng.random() < 0.5 else None
        if m["closed"]:
            m["state"] = "closed"
        return m

    def followup(
        self, fid: int, tid: int, kind: Kind, category: str, severity: Severity, trigger: datetime
    ) -> tuple[Any, ...]:
        rules, rng = self.rules, self.rng
        delay = rules.followup_delay(kind, category)
        done = trigger + delay * rng.uniform(0.1, 1.15) if rng.random() < 0.93 else None
        done = done if done and done <= self.now else None
        answered = done is not None and rng.random() < 0.9
        return (
            fid, tid, rules.followup_due(kind, category, trigger),
            rules.followup_assignee(kind, severity).value, kind.value, done,
            self.satisfaction() if answered else None,
            (1 if rng.random() < 0.95 else 2) if answered and kind is Kind.REPAIR else None,
            "师傅很及时" if answered and rng.random() < 0.05 else None,
        )  # fmt: skip

    def calls(self) -> Iterator[Batch]:
        rng, rules = self.rng, self.rules
        for first in range(1, self.scale.calls + 1, CHUNK):
            batch = Batch(table_of(CallRecord), CALL_COLUMNS)
            for cid in range(first, min(first + CHUNK, self.scale.calls + 1)):
                arrived = self.moment()
                answered = (
                    arrived + timedelta(seconds=rng.lognormvariate(log(6), 0.6))
                    if rng.random() < 0.97
                    else None
                )
                ended = (answered or arrived) + timedelta(seconds=rng.lognormvariate(log(120), 0.8))
                batch.rows.append(
                    (
                        cid, "in", self.mobile(), "4008001234", f"PJSIP/trunk-{cid:08x}",
                        f"{arrived.timestamp():.0f}.{cid}", arrived, answered,
                        answered and answered + timedelta(seconds=rng.uniform(5, 40)), ended,
                        rules.rings_before_answer(arrived, answered) if answered else None,
                        "ANSWERED" if answered else "NO ANSWER", 16, rng.choice(PATHS),
                        f"PJSIP/agent{rng.randrange(1, 21):02d}" if answered else None,
                        "hotline", rng.randrange(1, self.scale.tickets + 1)
                        if answered and rng.random() < 0.4 else None,
                    )
                )  # fmt: skip
            yield batch

    def arrears(self) -> Iterator[Batch]:
        rng, month = self.rng, date(2026, 11, 1)
        batch = Batch(table_of(ArrearsAccount), ARREARS_COLUMNS)
        imported = datetime(2026, 11, 2, 9, tzinfo=SH).astimezone(UTC)
        for aid, unit in enumerate(rng.sample(range(1, self.units + 1), self.scale.arrears), 1):
            months = rng.randint(1, 12)
            amount = Decimal(rng.randrange(8_000, 40_000)) / 100 * months
            paid = rng.random() < 0.6
            reminded = self.rules.first_reminder_due(month).astimezone(UTC)
            batch.rows.append(
                (
                    aid, unit, amount, months, month, "first", reminded,
                    amount if paid else Decimal(0),
                    reminded + timedelta(days=rng.uniform(0, 2)) if paid else None,
                    False, imported,
                )
            )  # fmt: skip
        yield batch

    def batches(self) -> Iterator[Batch]:
        yield from self.units_batch()
        yield from self.tickets_and_followups()
        yield from self.calls()
        yield from self.arrears()


class Loader(Protocol):
    def load(self, conn: Connection, batch: Batch) -> None: ...


class CoreLoader:
    """SQLAlchemy Core executemany: every value through the models' own types."""

    def load(self, conn: Connection, batch: Batch) -> None:
        rows = [dict(zip(batch.columns, r, strict=True)) for r in batch.rows]
        conn.execute(insert(batch.table), rows)


class CopyLoader:
    """psycopg COPY through the raw connection; times stored as naive UTC, as the models do."""

    def load(self, conn: Connection, batch: Batch) -> None:
        times = [
            i
            for i, name in enumerate(batch.columns)
            if isinstance(batch.table.c[name].type, UTCDateTime)
        ]
        # a live connection always has its driver's (None only once closed)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {batch.table.name} ({', '.join(batch.columns)}) FROM STDIN") as cp:
            for row in batch.rows:
                values = list(row)
                for i in times:
                    if values[i] is not None:
                        values[i] = values[i].replace(tzinfo=None)
                cp.write_row(values)


def fill(engine: Engine, loader: Loader, scale: Scale) -> None:
    started, counts = time.perf_counter(), dict[str, int]()
    with engine.begin() as conn:
        for batch in Generator(scale).batches():
            loader.load(conn, batch)
            counts[batch.table.name] = counts.get(batch.table.name, 0) + len(batch.rows)
    summary = ", ".join(f"{n:,} {t}" for t, n in counts.items())
    print(f"  generated {summary} in {time.perf_counter() - started:.0f} s")


@dataclass
class Statement:
    sql: str
    params: Any
    seconds: float = 0.0


@contextmanager
def recorded(engine: Engine) -> Iterator[list[Statement]]:
    """Every statement the engine runs inside the block, with its parameters and time."""
    seen: list[Statement] = []

    def before(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        seen.append(Statement(sql, params, -time.perf_counter()))

    def after(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        seen[-1].seconds += time.perf_counter()

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def explain(db: Database, statements: list[Statement]) -> None:
    sqlite = db.engine.dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
    with db.engine.connect() as conn:
        for st in statements:
            first = " ".join(st.sql.split())[:90]
            print(f"    {st.seconds * 1000:7.1f} ms  {first}...")
            for row in conn.exec_driver_sql(prefix + st.sql, st.params):
                print(f"               {row[3] if sqlite else row[0]}")


def time_report(db: Database, period: tuple[datetime, datetime], runs: int) -> list[float]:
    rules, times = Rules(), []
    for _ in range(runs):
        started = time.perf_counter()
        with db.session() as s:
            build_report(s, rules, *period)
        times.append(time.perf_counter() - started)
    return times


def bench(db: Database, runs: int, show_plans: bool) -> None:
    for label, period in (("quarter", QUARTER), ("year", YEAR)):
        times = time_report(db, period, runs)
        best, median = min(times), statistics.median(times)
        verdict = "ok" if median < TARGET_SECONDS else f"MISSED target {TARGET_SECONDS:.0f} s"
        span = f"{period[0]:%Y-%m-%d}..{period[1]:%Y-%m-%d}"
        print(f"  {label:8} {span}  min {best:6.3f} s  median {median:6.3f} s  [{verdict}]")
        if show_plans:
            with recorded(db.engine) as statements, db.session() as s:
                build_report(s, Rules(), *period)
            explain(db, [st for st in statements if st.sql.lstrip().upper().startswith("SELECT")])


def cached_sqlite(path: Path, scale: Scale, regenerate: bool = False) -> Path:
    """The seeded estate in the SQLite file `path`, generated unless a complete one is there."""
    if regenerate or not path.exists():
        partial = path.with_suffix(".partial")
        for stale in (partial, *path.parent.glob(f"{partial.name}-*")):
            stale.unlink(missing_ok=True)
        db = Database(f"sqlite:///{partial}")
        db.upgrade()
        fill(db.engine, CoreLoader(), scale)
        db.dispose()
        partial.replace(path)  # only a complete database is cached
    return path


def run_sqlite(scale: Scale, args: argparse.Namespace) -> None:
    path = Path(f"/tmp/hotline-bench-report-{scale.key}.db")
    print(f"sqlite ({path})")
    cached_sqlite(path, scale, args.regenerate)
    db = Database(f"sqlite:///{path}")
    try:
        bench(db, args.runs, args.explain)
    finally:
        db.dispose()


def run_postgresql(scale: Scale, args: argparse.Namespace) -> None:
    name = f"hotline_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    url = make_url(PG_ADMIN_URL).set(database=name)
    print(f"postgresql ({url.render_as_string(hide_password=True)}, dropped after)")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(url.render_as_string(hide_password=False))
    try:
        db.upgrade()
        fill(db.engine, CopyLoader(), scale)
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        bench(db, args.runs, args.explain)
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5, help="timed reports per period")
    parser.add_argument(
        "--databases", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"]
    )
    parser.add_argument("--regenerate", action="store_true", help="rebuild the cached SQLite file")
    parser.add_argument("--explain", action="store_true", help="print each query's time and plan")
    args = parser.parse_args(argv)
    scale = Scale(args.tickets, args.calls)
    runners = {"sqlite": run_sqlite, "postgresql": run_postgresql}
    for name in args.databases:
        runners[name](scale, args)


if __name__ == "__main__":
    main()
