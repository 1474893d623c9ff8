from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hotline.core.arrears import import_arrears, record_payment
from hotline.core.db import Database
from hotline.core.followups import Answers, record_answers
from hotline.core.models import CallRecord, FollowUp
from hotline.core.report import build_report
from hotline.core.rules import Rules
from hotline.core.tickets import Intake, move_ticket, open_ticket

from factories import seed_residents

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 10, 5, 10, 0, tzinfo=SH)
START, END = datetime(2026, 10, 1, tzinfo=SH), datetime(2027, 1, 1, tzinfo=SH)


def call(arrived: datetime, answer_after: float | None) -> CallRecord:
    answered = arrived + timedelta(seconds=answer_after) if answer_after is not None else None
    rings = Rules().rings_before_answer(arrived, answered) if answered else None
    return CallRecord(
        direction="in", arrived_at=arrived, answered_at=answered, rings_before_answer=rings
    )


def test_report_figures(db: Database, tmp_path: Path, rules: Rules) -> None:
    seed_residents(db, tmp_path)
    with db.session() as s:
        # Calls: answered at 2 s and 14 s are within three rings; 16 s and unanswered are not.
        s.add_all([call(T0, 2), call(T0, 14), call(T0, 16), call(T0, None)])
        s.add(call(START - timedelta(days=1), 1))  # outside the period
        # Repairs: one dispatched in 4 min, one in 6 min, one never. Same unit, same category:
        # three leaks at 3-1-201 are a quarterly repeat.
        ids = [
            open_ticket(s, rules, Intake("repair", "leak", T0, unit="3-1-201")).id for _ in range(3)
        ]
        move_ticket(s, rules, ids[0], "dispatched", T0 + timedelta(minutes=4))
        move_ticket(s, rules, ids[1], "dispatched", T0 + timedelta(minutes=6))
        # Complaints: escalated in 50 min and in 2 h; two about noise at 3-1-202 repeat.
        c1 = open_ticket(s, rules, Intake("complaint", "noise", T0, unit="3-1-202")).id
        c2 = open_ticket(s, rules, Intake("complaint", "noise", T0, unit="3-1-202")).id
        move_ticket(s, rules, c1, "escalated", T0 + timedelta(minutes=50))
        move_ticket(s, rules, c2, "escalated", T0 + timedelta(hours=2))
        # Follow-ups: repair 0 done on time and satisfied; repair 1 done late, unsatisfied;
        # complaint c1's follow-up not made.
        for tid in ids[:2]:
            move_ticket(s, rules, tid, "in_progress", T0 + timedelta(minutes=10))
            move_ticket(s, rules, tid, "done", T0 + timedelta(hours=1))
        move_ticket(s, rules, c1, "resolved", T0 + timedelta(hours=5))
        followups = {f.ticket_id: f.id for f in s.scalars(select(FollowUp))}
        record_answers(s, rules, followups[ids[0]], Answers(5), T0 + timedelta(days=1))
        record_answers(s, rules, followups[ids[1]], Answers(2), T0 + timedelta(days=4))
        path = tmp_path / "arrears.csv"
        path.write_text("unit,amount,months\n3-1-201,100,1\n3-1-202,300,1\n", encoding="utf-8")
        import_arrears(s, rules, path, T0)
        record_payment(s, 1, Decimal("100"), T0)
        record_payment(s, 2, Decimal("200"), T0)

    with db.session() as s:
        report = build_report(s, rules, START, END)
    assert (report.answered_within_rings.part, report.answered_within_rings.whole) == (2, 4)
    assert report.answered_within_rings.rate == 0.5
    assert (report.repair_dispatch_in_time.part, report.repair_dispatch_in_time.whole) == (1, 3)
    # The unsatisfied follow-up opened a third complaint, not escalated yet.
    assert (report.complaint_escalated_in_time.part, report.complaint_escalated_in_time.whole) == (
        1,
        3,
    )
    assert report.followup_rate["repair"].rate == 1.0
    assert report.followup_on_time_rate["repair"].rate == 0.5
    assert report.followup_rate["complaint"].rate == 0.0
    assert (report.satisfaction.part, report.satisfaction.whole, report.satisfaction.target) == (
        1,
        2,
        0.9,
    )
    assert report.collection.rate == 0.75 and report.collection.target == 0.95
    assert {(r.kind, r.unit, r.category, r.count) for r in report.repeats} == {
        ("repair", "3-1-201", "leak", 3),
        ("complaint", "3-1-202", "noise", 2),
    }


def test_empty_period_has_no_rates(db: Database, rules: Rules) -> None:
    with db.session() as s:
        report = build_report(s, rules, START, END)
    assert report.answered_within_rings.rate is None
    assert report.collection.rate is None
    assert report.repeats == []


def test_a_matter_inside_its_deadline_is_pending_not_missed(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed_residents(db, tmp_path)
    now = T0 + timedelta(minutes=2)
    with db.session() as s:
        # Two repairs and two complaints received 2 minutes ago, one of each already handled;
        # an older repair dispatched late and an older complaint never escalated.
        for kind, category, milestone in (
            ("repair", "leak", "dispatched"),
            ("complaint", "noise", "escalated"),
        ):
            fresh = [
                open_ticket(s, rules, Intake(kind, category, T0, unit="3-1-201")).id
                for _ in range(2)
            ]
            move_ticket(s, rules, fresh[0], milestone, now)
            old = open_ticket(
                s, rules, Intake(kind, category, T0 - timedelta(days=1), unit="3-1-202")
            ).id
            if kind == "repair":
                move_ticket(s, rules, old, milestone, T0 - timedelta(hours=20))
        # A follow-up not due for a day yet, and one made today though due in three days.
        repair = open_ticket(s, rules, Intake("repair", "plumbing", T0, unit="3-1-202")).id
        complaint = open_ticket(s, rules, Intake("complaint", "fees", T0, unit="3-1-202")).id
        for state in ("dispatched", "in_progress", "done"):
            move_ticket(s, rules, repair, state, now)
        move_ticket(s, rules, complaint, "escalated", now)
        move_ticket(s, rules, complaint, "resolved", now)
        due = {f.ticket_id: f.id for f in s.scalars(select(FollowUp))}
        record_answers(s, rules, due[complaint], Answers(5), now)
    with db.session() as s:
        # The period ends in two days; the figures are as known now.
        report = build_report(s, rules, START, now + timedelta(days=2), now)
    for rate in (report.repair_dispatch_in_time, report.complaint_escalated_in_time):
        # met: the fresh one handled and the follow-up's matter; missed: the old one;
        # pending: the other fresh one, neither met nor missed.
        assert (rate.part, rate.whole, rate.pending, rate.rate) == (2, 3, 1, 0.6667)
    assert report.followup_rate["repair"].pending == 1
    assert report.followup_rate["repair"].whole == 0
    assert (report.followup_rate["complaint"].part, report.followup_rate["complaint"].whole) == (
        1,
        1,
    )
    assert (report.satisfaction.part, report.satisfaction.whole) == (1, 1)
