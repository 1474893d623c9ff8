"""The webhook outbox's cost on the inbound intake path, measured in-process.

One standard call's database work through the intake desk (`IntakeDesk`: the arrival with the
caller lookup, the report's first filing, its second filing, the close with the call record),
looped, on SQLite (a temp file) and PostgreSQL (a database made for the run), in three cases run
in turn, round after round:

- `none`: no webhook subscription;
- `other types`: a subscription to `followup.recorded` only (the cached check says no);
- `subscribed`: a subscription to `ticket.created,call.ended` (two outbox rows a call, the call's
  record read back with RETURNING).

CPU a call (`process_time`: this process's, so the database server's is not counted on
PostgreSQL) and wall time a call; the median of the rounds. Without a service running, nothing is
delivered: this is the writers' side alone.

    .venv/bin/python bench/webhook_outbox.py                   # 2,000 calls a case, 3 rounds
    .venv/bin/python bench/webhook_outbox.py --calls 500 --rounds 2 --db sqlite
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _header import print_header, print_load_at_end  # a sibling script, not a package
from _load import database_version, postgres_database
from inbound_load import DATABASES, PG_ADMIN_URL

from hotline.core.db import Database
from hotline.core.intake import CallSummary, IntakeDesk, PhoneReport
from hotline.core.models import WebhookSubscription
from hotline.core.residents import import_residents
from hotline.core.rules import Rules
from hotline.core.spool import Spool
from hotline.core.webhooks import add_subscription

CASES = {
    "none": None,
    "other types": "followup.recorded",
    "subscribed": "ticket.created,call.ended",
}
PHONE, UNIT = "13800138000", "3-1-201"
AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@contextmanager
def database(name: str, folder: Path, pg_url: str) -> Iterator[Database]:
    if name == "sqlite":
        db = Database(f"sqlite:///{folder / 'hotline.db'}")
        db.upgrade()
        yield db
        db.dispose()
        return
    with postgres_database(pg_url) as url:
        db = Database(url)
        db.upgrade()
        yield db
        db.dispose()


def seed(db: Database, folder: Path) -> None:
    csv = folder / "residents.csv"
    csv.write_text(f"unit,name,phone,phone2,lang,do_not_call\n{UNIT},张伟,{PHONE},,zh,no\n")
    with db.session() as s:
        import_residents(s, csv)


def subscribe(db: Database, events: str | None) -> None:
    with db.session() as s:
        s.execute(delete(WebhookSubscription))
        if events:
            add_subscription(s, "http://127.0.0.1:9/x", events, datetime.now(UTC), "s" * 32)


def one_call(desk: IntakeDesk, key: str) -> None:
    arrival = CallSummary(key=key, direction="in", arrived_at=AT, caller=PHONE)
    desk.arrive(arrival)
    report = PhoneReport(key, "repair", "plumbing", AT, unit=UNIT, caller_number=PHONE)
    desk.file_report(report, first=True)
    report.recording = f"description/{key}.wav"
    desk.file_report(report)
    arrival.answered_at, arrival.ended_at, arrival.disposition = AT, AT, "answered"
    arrival.report_key = key
    desk.close_call(arrival, report)


def measure(desk: IntakeDesk, calls: int, tag: str) -> tuple[float, float]:
    """(CPU ms, wall ms) a call."""
    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(calls):
        one_call(desk, f"in:{tag}.{n}")
    return (
        (time.process_time() - cpu) * 1000 / calls,
        (time.perf_counter() - wall) * 1000 / calls,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000, help="calls a case and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", choices=DATABASES, action="append", help="only this database")
    parser.add_argument("--pg-url", default=PG_ADMIN_URL)
    args = parser.parse_args()
    print_header()
    print(f"{args.calls} calls a case, {args.rounds} rounds, cases in turn; median of the rounds")
    print(f"{'database':18} {'case':12} {'CPU ms/call':>12} {'wall ms/call':>13}  rounds (CPU)")
    for name in args.db or DATABASES:
        with tempfile.TemporaryDirectory() as tmp, database(name, Path(tmp), args.pg_url) as db:
            seed(db, Path(tmp))
            desk = IntakeDesk(db, Rules(), Spool(Path(tmp) / "spool.jsonl"))
            one_call(desk, "in:warm-up")
            figures: dict[str, list[tuple[float, float]]] = {case: [] for case in CASES}
            for r in range(args.rounds):
                for case, events in CASES.items():
                    subscribe(db, events)
                    figures[case].append(measure(desk, args.calls, f"{r}.{case}"))
            version = database_version(db.url).split(" (")[0]  # without the distribution's
            for case, runs in figures.items():
                cpu = statistics.median(c for c, _ in runs)
                wall = statistics.median(w for _, w in runs)
                spread = " ".join(f"{c:.3f}" for c, _ in runs)
                print(f"{version:18} {case:12} {cpu:12.3f} {wall:13.3f}  {spread}")
    print_load_at_end()


if __name__ == "__main__":
    main()
