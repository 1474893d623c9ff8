"""The intake's statements are compiled once: a second call compiles none of them.

Compiling a statement costs more CPU than SQLite spends executing it, so a statement without a
cache key (SQLAlchemy 2.0 gave SQLite's INSERT ... ON CONFLICT DO NOTHING none) costs every call.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine.interfaces import CacheStats

from hotline.core.db import Database
from hotline.core.intake import CallSummary, IntakeDesk, PhoneReport
from hotline.core.rules import Rules
from hotline.core.spool import Spool

from factories import seed_residents


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


def test_a_second_call_compiles_no_statement(db: Database, tmp_path: Path) -> None:
    seed_residents(db, tmp_path)
    desk = IntakeDesk(db, Rules(), Spool(tmp_path / "spool.jsonl"))
    executed: list[tuple[CacheStats, str]] = []

    def seen(
        _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: Any
    ) -> None:
        if context.compiled is not None:
            executed.append((context.cache_hit, statement.split("(")[0]))

    event.listen(db.engine, "before_cursor_execute", seen)
    assert standard_call(desk, "in:1.1") is not None
    executed.clear()
    assert standard_call(desk, "in:1.2") is not None
    assert len(executed) >= 5  # lookup, update, insert ticket and event, update, call record
    assert [s for hit, s in executed if hit is not CacheStats.CACHE_HIT] == []
