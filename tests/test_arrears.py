from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hotline.core.arrears import (
    collection_month,
    due_reminders,
    import_arrears,
    record_payment,
    record_reminder,
)
from hotline.core.db import Database
from hotline.core.rules import Rules
from hotline.core.vocabulary import DomainError

from factories import seed_residents

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 5, 10, 0, tzinfo=SH)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "arrears.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_collection_month_counts_back_the_months_overdue() -> None:
    assert collection_month(date(2026, 11, 5), 0) == date(2026, 11, 1)
    assert collection_month(date(2026, 11, 5), 2) == date(2026, 9, 1)
    assert collection_month(date(2026, 1, 5), 3) == date(2025, 10, 1)


def test_the_reminder_ladder_through_the_database(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed_residents(db, tmp_path)
    path = write(tmp_path, "unit,amount,months\n3-1-201,1280.50,2\n3-1-202,300,0\n")
    with db.session() as s:
        assert import_arrears(s, rules, path, NOW).imported == 2
    with db.session() as s:
        due = due_reminders(s, rules, NOW)
        # Two months overdue: its day-20 reminder is long past, so the first is due now;
        # the current month's fee is reminded on the 20th.
        assert [(d.account.unit.code, d.reminder.stage.value) for d in due] == [
            ("3-1-201", "first")
        ]
        assert due[0].account.amount == Decimal("1280.50")
        record_reminder(s, rules, due[0].account.id, NOW)
        account_id = due[0].account.id
    with db.session() as s:
        later = due_reminders(s, rules, datetime(2026, 11, 20, 0, 0, tzinfo=SH))
        # 3-1-201's second reminder fell on 15 Nov (+10 d), before 3-1-202's first on the 20th.
        assert [(d.account.unit.code, d.reminder.stage.value) for d in later] == [
            ("3-1-201", "second"),
            ("3-1-202", "first"),
        ]
        assert due_reminders(s, rules, NOW + timedelta(days=10) - timedelta(seconds=1)) == []
        record_payment(s, account_id, Decimal("1280.50"), NOW + timedelta(days=3))
    with db.session() as s:
        assert due_reminders(s, rules, NOW + timedelta(days=10)) == []


def test_bad_arrears_rows_import_nothing(db: Database, tmp_path: Path, rules: Rules) -> None:
    seed_residents(db, tmp_path)
    text = (
        "unit,amount,months\n3-1-201,100,1\n9-9-9,100,1\n3-1-202,-5,1\n3-1-202,1.005,1\n"
        "3-1-202,abc,1\n3-1-202,10,x\n3-1-201,5,1\n"
    )
    with db.session() as s:
        result = import_arrears(s, rules, write(tmp_path, text), NOW)
    assert result.imported == 0
    assert [b.line for b in result.bad] == [3, 4, 5, 6, 7, 8]
    with db.session() as s:
        assert due_reminders(s, rules, NOW + timedelta(days=60)) == []
    with db.session() as s, pytest.raises(DomainError, match="no arrears account 42"):
        record_reminder(s, rules, 42, NOW)
