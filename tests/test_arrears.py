from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline.core.arrears import (
    collection_month,
    due_reminder_page,
    due_reminders,
    import_arrears,
    record_payment,
    record_reminder,
)
from hotline.core.campaigns import campaign_action, create_campaign
from hotline.core.db import Database
from hotline.core.flow_answers import arrears_answer
from hotline.core.leads import LeadClaim, generate_leads
from hotline.core.models import ArrearsAccount, Lead
from hotline.core.outcomes import record_attempt, record_call_by_hand
from hotline.core.report import build_report
from hotline.core.retry import RetryPolicy
from hotline.core.rules import Rules
from hotline.core.vocabulary import DomainError

from campaign_factories import MORNING, claim, outcome, seed
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
        assert [(d.account.unit, d.reminder.stage.value) for d in due] == [("3-1-201", "first")]
        assert due[0].account.amount == Decimal("1280.50")
        record_reminder(s, rules, due[0].account.id, NOW)
        account_id = due[0].account.id
    with db.session() as s:
        later = due_reminders(s, rules, datetime(2026, 11, 20, 0, 0, tzinfo=SH))
        # 3-1-201's second reminder fell on 15 Nov (+10 d), before 3-1-202's first on the 20th.
        assert [(d.account.unit, d.reminder.stage.value) for d in later] == [
            ("3-1-201", "second"),
            ("3-1-202", "first"),
        ]
        assert due_reminders(s, rules, NOW + timedelta(days=10) - timedelta(seconds=1)) == []
        record_payment(s, account_id, Decimal("1280.50"), NOW + timedelta(days=3))
    with db.session() as s:
        assert due_reminders(s, rules, NOW + timedelta(days=10)) == []


def test_a_page_of_reminders_is_the_oldest_across_the_rungs_with_the_count_of_all(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed_residents(db, tmp_path)
    text = "unit,amount,months\n3-1-201,100,2\n3-1-202,100,0\n5-2-1101,100,1\n7-1-101,100,3\n"
    with db.session() as s:
        import_arrears(s, rules, write(tmp_path, text), NOW)
        (first, *_) = due_reminders(s, rules, NOW)
        assert first.account.unit == "7-1-101"
        record_payment(s, first.account.id, Decimal(100), NOW)
        unit_ids = {d.account.unit: d.account.id for d in due_reminders(s, rules, NOW)}
        record_reminder(s, rules, unit_ids["3-1-201"], NOW)  # its second falls on 15 Nov
    day_20 = datetime(2026, 11, 20, 0, 0, tzinfo=SH)
    with db.session() as s:
        every = due_reminders(s, rules, day_20)
        # The first rung's 20 Oct, the second's 15 Nov, then the first rung's 20 Nov again.
        assert [(d.account.unit, d.reminder.stage.value) for d in every] == [
            ("5-2-1101", "first"),
            ("3-1-201", "second"),
            ("3-1-202", "first"),
        ]
        for limit in (1, 2, 3, 4):
            page = due_reminder_page(s, rules, day_20, limit)
            assert (page.items, page.total, page.more) == (
                every[:limit],
                3,
                max(3 - limit, 0),
            )
        # Overdue means strictly past: 3-1-202's reminder falls due at this very moment.
        passed = due_reminder_page(s, rules, day_20, 1, passed=True)
        assert (passed.items, passed.total) == (every[:1], 2)


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


def _arrears_call(db: Database, tmp_path: Path, rules: Rules, mode: str) -> LeadClaim | int:
    """A started arrears campaign's one lead: claimed by the dialer, or (preview) its id."""
    seed(db, tmp_path)
    path = write(tmp_path, "unit,amount,months\n3-1-202,300,2\n")
    with db.session() as s:
        import_arrears(s, rules, path, MORNING)
    with db.session() as s:
        campaign = create_campaign(s, "arrears", mode, at=MORNING)
        campaign_action(s, campaign.id, "start", MORNING)
        generate_leads(s, rules, campaign, MORNING)
    if mode == "preview":
        with db.session() as s:
            return s.scalars(select(Lead.id)).one()
    (c,) = claim(db, campaign.id)
    return c


@pytest.mark.parametrize("how", ["agent", "flow_then_dialer", "preview_by_hand"])
def test_every_reminder_that_reached_the_resident_climbs_the_ladder_once(
    db: Database, tmp_path: Path, rules: Rules, how: str
) -> None:
    mode = {"agent": "predictive", "flow_then_dialer": "agentless"}.get(how, "preview")
    c = _arrears_call(db, tmp_path, rules, mode)
    ended = MORNING + timedelta(minutes=2)
    with db.session() as s:
        if isinstance(c, int):
            record_call_by_hand(s, rules, RetryPolicy(), c, "answered", ended, "经理")
        else:
            if how == "flow_then_dialer":  # the resident keyed 1, "will pay", in the call flow
                arrears_answer(s, rules, c.lead_id, 1, MORNING + timedelta(minutes=1))
            record_attempt(s, rules, RetryPolicy(), c.lead_id, outcome(c, "answered", ended), ended)
    with db.session() as s:
        account = s.scalars(select(ArrearsAccount)).one()
        assert account.stage == "first"  # once, though the flow and the dialer both saw it
        assert account.last_reminder_at is not None
        assert due_reminders(s, rules, ended) == []
        (later,) = due_reminders(s, rules, ended + timedelta(days=11))
        assert later.reminder.stage == "second"
        assert later.reminder.due_at == account.last_reminder_at + timedelta(days=10)


def test_a_call_nobody_answered_gives_no_reminder(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    c = _arrears_call(db, tmp_path, rules, "predictive")
    assert isinstance(c, LeadClaim)
    ended = MORNING + timedelta(minutes=2)
    with db.session() as s:
        record_attempt(s, rules, RetryPolicy(), c.lead_id, outcome(c, "no_answer", ended), ended)
        assert s.scalars(select(ArrearsAccount.stage)).one() == "none"


def test_a_payment_above_what_is_owed_is_refused(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed_residents(db, tmp_path)
    with db.session() as s:
        import_arrears(s, rules, write(tmp_path, "unit,amount,months\n3-1-201,1280.50,2\n"), NOW)
    with db.session() as s, pytest.raises(DomainError, match=r"owes 1280\.50"):
        record_payment(s, 1, Decimal("99999"), NOW)
    with db.session() as s:
        record_payment(s, 1, Decimal("1000"), NOW)
    with db.session() as s, pytest.raises(DomainError, match=r"owes 280.50 \(of 1280.50\)"):
        record_payment(s, 1, Decimal("280.51"), NOW)
    with db.session() as s:
        assert record_payment(s, 1, Decimal("280.50"), NOW).paid_at == NOW
        assert build_report(s, rules, NOW - timedelta(days=1), NOW).collection.rate == 1.0
