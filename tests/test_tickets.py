from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline.core.db import Database
from hotline.core.followups import Answers, record_answers
from hotline.core.models import FollowUp, WorkOrder
from hotline.core.rules import Rules
from hotline.core.tickets import Intake, get_ticket, list_tickets, move_ticket, open_ticket
from hotline.core.vocabulary import DomainError

from factories import seed_residents

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SH)


@pytest.fixture
def seeded(db: Database, tmp_path: Path) -> Database:
    seed_residents(db, tmp_path)
    return db


def test_complaint_starts_its_one_hour_clock(seeded: Database, rules: Rules) -> None:
    with seeded.session() as s:
        t = open_ticket(
            s, rules, Intake("complaint", "noise", T0, unit="3-1-201", severity="major")
        )
        tid = t.id
    with seeded.session() as s:
        t = get_ticket(s, tid)
        assert t.escalation_due_at == T0 + timedelta(hours=1)
        assert t.resolution_due_at == T0 + timedelta(days=10)
        assert [(e.from_state, e.to_state, e.at) for e in t.events] == [(None, "new", T0)]


def test_emergency_repairs_are_flagged(seeded: Database, rules: Rules) -> None:
    with seeded.session() as s:
        leak = open_ticket(s, rules, Intake("repair", "leak", T0, unit="3-1-201"))
        lock = open_ticket(s, rules, Intake("repair", "door_lock", T0, unit="3-1-201"))
        assert leak.emergency and not lock.emergency


def test_repair_lifecycle_timestamps_every_move_and_owes_a_followup(
    seeded: Database, rules: Rules
) -> None:
    with seeded.session() as s:
        tid = open_ticket(s, rules, Intake("repair", "leak", T0, unit="3-1-201")).id
    steps = [("dispatched", 3, "王师傅"), ("in_progress", 30, None), ("done", 90, None)]
    for state, minutes, by in steps:
        with seeded.session() as s:
            move_ticket(s, rules, tid, state, T0 + timedelta(minutes=minutes), by=by)
    with seeded.session() as s:
        t = get_ticket(s, tid)
        assert [e.to_state for e in t.events] == ["new", "dispatched", "in_progress", "done"]
        assert t.dispatched_at == T0 + timedelta(minutes=3)
        assert t.done_at == T0 + timedelta(minutes=90)
        followup = s.scalars(select(FollowUp)).one()
        # A leak is followed up 3 days after the leak test (the moment it was done).
        assert followup.due_at == T0 + timedelta(minutes=90, days=3)
        assert s.scalars(select(WorkOrder)).one().technician == "王师傅"
    with seeded.session() as s, pytest.raises(DomainError, match="signed"):
        move_ticket(s, rules, tid, "accepted", T0 + timedelta(hours=2))
    with seeded.session() as s:
        move_ticket(s, rules, tid, "accepted", T0 + timedelta(hours=2), by="张伟")
        assert s.scalars(select(WorkOrder)).one().accepted_by == "张伟"


@pytest.mark.parametrize(
    ("intake", "message"),
    [
        (Intake("repair", "noise", T0, unit="3-1-201"), "unknown repair category 'noise'"),
        (Intake("praise", "other", T0, unit="3-1-201"), "unknown kind 'praise'"),
        (Intake("repair", "leak", T0, unit="9-9-999"), "unknown unit 9-9-999"),
        (Intake("repair", "leak", T0, unit="3-1-201", severity="huge"), "unknown severity"),
    ],
)
def test_bad_intake_changes_nothing(
    seeded: Database, rules: Rules, intake: Intake, message: str
) -> None:
    with seeded.session() as s, pytest.raises(DomainError, match=message):
        open_ticket(s, rules, intake)
    with seeded.session() as s:
        assert list_tickets(s) == []


def test_bad_moves_change_nothing(seeded: Database, rules: Rules) -> None:
    with seeded.session() as s:
        tid = open_ticket(s, rules, Intake("complaint", "service", T0, unit="3-1-201")).id
    with seeded.session() as s, pytest.raises(DomainError, match="cannot go from 'new'"):
        move_ticket(s, rules, tid, "resolved", T0 + timedelta(minutes=1))
    with seeded.session() as s, pytest.raises(DomainError, match="before its last change"):
        move_ticket(s, rules, tid, "escalated", T0 - timedelta(minutes=1))
    with seeded.session() as s, pytest.raises(DomainError, match="no ticket 999"):
        move_ticket(s, rules, 999, "escalated", T0)
    with seeded.session() as s:
        t = get_ticket(s, tid)
        assert t.state == "new" and len(t.events) == 1


def test_intake_key_makes_a_replayed_intake_idempotent(seeded: Database, rules: Rules) -> None:
    intake = Intake("repair", "plumbing", T0, unit="3-1-201", intake_key="call-1.1")
    with seeded.session() as s:
        first = open_ticket(s, rules, intake).id
    with seeded.session() as s:
        assert open_ticket(s, rules, intake).id == first
        assert len(list_tickets(s)) == 1


def test_unsatisfied_followup_of_a_repair_opens_a_complaint(seeded: Database, rules: Rules) -> None:
    with seeded.session() as s:
        tid = open_ticket(s, rules, Intake("repair", "electrical", T0, unit="3-1-201")).id
        for i, state in enumerate(["dispatched", "in_progress", "done"], 1):
            move_ticket(s, rules, tid, state, T0 + timedelta(minutes=i))
        fid = s.scalars(select(FollowUp.id)).one()
    with seeded.session() as s:
        complaint = record_answers(s, rules, fid, Answers(2, quality=2, comment="还在跳闸"), T0)
        assert complaint is not None
        assert (complaint.kind, complaint.parent_id, complaint.state) == ("complaint", tid, "new")
        assert complaint.escalation_due_at == T0 + timedelta(hours=1)
    with seeded.session() as s, pytest.raises(DomainError, match="already recorded"):
        record_answers(s, rules, fid, Answers(5), T0)


def test_unsatisfied_followup_of_a_complaint_reopens_it(seeded: Database, rules: Rules) -> None:
    with seeded.session() as s:
        tid = open_ticket(s, rules, Intake("complaint", "noise", T0, unit="3-1-201")).id
        move_ticket(s, rules, tid, "escalated", T0 + timedelta(minutes=20))
        move_ticket(s, rules, tid, "resolved", T0 + timedelta(days=1))
        followup = s.scalars(select(FollowUp)).one()
        assert followup.due_at == T0 + timedelta(days=4)  # resolved + 3 d
        assert followup.assignee_role == "supervisor"
    with seeded.session() as s:
        reopened = record_answers(s, rules, followup.id, Answers(1), T0 + timedelta(days=2))
        assert reopened is not None and (reopened.id, reopened.state) == (tid, "reopened")


def test_satisfied_followup_changes_no_ticket(seeded: Database, rules: Rules) -> None:
    with seeded.session() as s:
        tid = open_ticket(s, rules, Intake("enquiry", "emergency_help", T0, unit="3-1-201")).id
        move_ticket(s, rules, tid, "resolved", T0)
        followup = s.scalars(select(FollowUp)).one()
        assert followup.due_at == T0 + timedelta(days=7)
        assert record_answers(s, rules, followup.id, Answers(3), T0) is None
        assert get_ticket(s, tid).state == "resolved"
