"""The intake's statements are compiled once: a second call compiles none of them.

Compiling a statement costs more CPU than SQLite spends executing it, so a statement without a
cache key (SQLAlchemy 2.0 gave SQLite's INSERT ... ON CONFLICT DO NOTHING none) costs every call.
On SQLite the desk hands its compiled statements to the driver itself (core/db.py `Prepared`),
so what reaches SQLite is counted there, at the driver.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.sql.compiler import SQLCompiler

from hotline.core.db import Database, Prepared
from hotline.core.intake import CallSummary, IntakeDesk, PhoneReport
from hotline.core.rules import Rules
from hotline.core.spool import Spool

from factories import seed_residents

PHONE = "13800138000"


def standard_call(desk: IntakeDesk, key: str) -> int | None:
    """What the standard inbound call asks of the desk: lookup, ticket opened, call closed."""
    (caller, *_) = desk.identify("13800138000")
    now = datetime.now(UTC)
    summary = CallSummary(key=key, direction="in", arrived_at=now, caller="13800138000")
    report = PhoneReport(
        key=key,
        kind="repair",
        category="door_lock",
        received_at=now,
        unit=caller.unit,
        resident_id=caller.resident_id,
        incomplete=True,
    )
    summary.report_key = report.key
    desk.file_report(report)
    report.incomplete = False
    summary.ended_at, summary.disposition, summary.path = now, "completed", ["menu:1"]
    return desk.close_call(summary, report)


def test_a_second_call_compiles_no_statement(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_residents(db, tmp_path)
    desk = IntakeDesk(db, Rules(), Spool(tmp_path / "spool.jsonl"))
    compiled: list[str] = []
    compile_ = SQLCompiler.__init__

    def compiling(self: SQLCompiler, dialect: Any, statement: Any, *args: Any, **kw: Any) -> None:
        compiled.append(type(statement).__name__)
        compile_(self, dialect, statement, *args, **kw)

    monkeypatch.setattr(SQLCompiler, "__init__", compiling)
    assert standard_call(desk, "in:1.1") is not None
    assert compiled  # the first call compiles its statements: the count below can see them
    compiled.clear()
    assert standard_call(desk, "in:1.2") is not None
    assert compiled == []


def test_the_standard_call_sends_six_statements_to_sqlite(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'hotline.db'}")
    db.upgrade()
    seed_residents(db, tmp_path)
    db.engine.dispose()  # every connection from here on is traced
    sent: list[str] = []
    event.listen(db.engine, "connect", lambda dbapi, _record: dbapi.set_trace_callback(sent.append))
    desk = IntakeDesk(db, Rules(), Spool(tmp_path / "spool.jsonl"))
    assert standard_call(desk, "in:1.1") is not None
    sent.clear()
    assert standard_call(desk, "in:1.2") is not None
    statements = [s.split()[0] for s in sent if s.split()[0] not in ("BEGIN", "COMMIT")]
    # lookup; update (nothing yet), ticket, its event; the report's update, the call record
    assert statements == ["SELECT", "UPDATE", "INSERT", "INSERT", "UPDATE", "INSERT"]
    db.dispose()


def _stored(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    with db.engine.connect() as c:
        return {
            table: [tuple(row) for row in c.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
            for table in ("tickets", "ticket_events", "call_records")
        }


def test_sqlite_stores_through_the_driver_what_sqlalchemy_stores(tmp_path: Path) -> None:
    """The same calls, one desk handing its statements to the driver, one through SQLAlchemy:
    the same rows, to the last converted value (times, JSON, booleans)."""
    stored = []
    for direct in (True, False):
        folder = tmp_path / str(direct)
        folder.mkdir()
        db = Database(f"sqlite:///{folder / 'hotline.db'}")
        db.upgrade()
        seed_residents(db, folder)
        desk = IntakeDesk(db, Rules(), Spool(folder / "spool.jsonl"))
        prepared = [v for v in vars(desk).values() if isinstance(v, Prepared)]
        assert len(prepared) == 6
        for statement in prepared:
            statement.direct = direct
        for n in range(3):
            at = datetime(2026, 12, 2, 8, n, tzinfo=UTC)
            summary = CallSummary(key=f"in:{n}", direction="in", arrived_at=at, caller=PHONE)
            caller, *_ = desk.arrive(summary)
            report = PhoneReport(f"in:{n}", "repair", "door_lock", at, unit=caller.unit)
            report.incomplete, summary.report_key = True, report.key
            assert desk.file_report(report, first=True) is not None
            report.incomplete, report.recording = False, f"r/{n}.wav"
            assert desk.file_report(report) is not None
            summary.keypad, summary.path = {"menu": "1"}, ["lang:en", "menu:1"]
            summary.ended_at, summary.disposition = at.replace(second=30), "completed"
            desk.close_call(summary)
        stored.append(_stored(db))
        db.dispose()
    assert stored[0]["call_records"] and stored[0]["tickets"] and stored[0]["ticket_events"]
    assert stored[0] == stored[1]
