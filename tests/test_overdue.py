"""What is overdue now, one deadline of the rules at a time."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline.core.arrears import import_arrears
from hotline.core.db import Database
from hotline.core.followups import Answers, pending_followups, record_answers
from hotline.core.models import FollowUp
from hotline.core.overdue import overdue_now, overdue_page
from hotline.core.report import build_report
from hotline.core.rules import Rules
from hotline.core.tickets import Intake, move_ticket, open_ticket
from hotline.core.vocabulary import DomainError

from cli_support import Run, jrun
from factories import RESIDENTS_CSV, seed_residents

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SH)


def test_each_missed_deadline_is_listed_once_done_work_is_not(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed_residents(db, tmp_path)
    with db.session() as s:
        late = open_ticket(
            s, rules, Intake("complaint", "noise", T0, unit="3-1-201", severity="major")
        )
        on_time = open_ticket(s, rules, Intake("complaint", "noise", T0, unit="3-1-202"))
        move_ticket(s, rules, on_time.id, "escalated", T0 + timedelta(minutes=30))
        leak = open_ticket(s, rules, Intake("repair", "leak", T0, unit="3-1-201"))
        done = open_ticket(
            s, rules, Intake("repair", "plumbing", T0 - timedelta(days=2), unit="3-1-202")
        )
        for state in ("dispatched", "in_progress", "done"):
            move_ticket(s, rules, done.id, state, T0 - timedelta(days=2))
        ids = {"late": late.id, "on_time": on_time.id, "leak": leak.id, "done": done.id}
    path = tmp_path / "arrears.csv"
    path.write_text("unit,amount,months\n3-1-202,300,2\n", encoding="utf-8")
    with db.session() as s:
        import_arrears(s, rules, path, T0)

    with db.session() as s:
        items = overdue_now(s, rules, T0 + timedelta(hours=2))
    got = {(o.what, o.ticket_id) for o in items}
    assert ("escalate", ids["late"]) in got  # 1 h passed, no supervisor
    assert ("escalate", ids["on_time"]) not in got  # escalated after 30 min
    assert ("dispatch", ids["leak"]) in got  # 5 min passed, no technician
    assert ("follow_up", ids["done"]) in got  # done two days ago: 24 h passed
    assert ("remind", None) in got  # two months behind: the first reminder is overdue
    assert [o.deadline for o in items] == sorted(o.deadline for o in items)

    with db.session() as s:
        later = {(o.what, o.ticket_id) for o in overdue_now(s, rules, T0 + timedelta(days=4))}
    assert ("resolve", ids["on_time"]) in later  # general: 3 days
    assert ("resolve", ids["late"]) not in later  # major: 10 days


def test_a_page_is_the_oldest_of_every_kind_with_the_count_of_all(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed_residents(db, tmp_path)
    with db.session() as s:
        for minutes, unit in ((0, "3-1-201"), (20, "3-1-202"), (40, "5-2-1101")):
            at = T0 + timedelta(minutes=minutes)
            open_ticket(s, rules, Intake("complaint", "noise", at, unit=unit))
            open_ticket(s, rules, Intake("repair", "leak", at, unit=unit))
    path = tmp_path / "arrears.csv"
    path.write_text("unit,amount,months\n3-1-202,300,2\n3-1-201,200,1\n", encoding="utf-8")
    with db.session() as s:
        import_arrears(s, rules, path, T0)
    at = T0 + timedelta(days=4)
    with db.session() as s:
        every = overdue_now(s, rules, at)
        assert [o.what for o in every] == ["remind"] * 2 + ["dispatch"] * 3 + ["escalate"] * 3 + [
            "resolve"
        ] * 3
        for limit in range(1, len(every) + 2):
            page = overdue_page(s, rules, at, limit)
            assert (page.items, page.total) == (every[:limit], len(every))


def test_overdue_command_prints_a_page_and_how_many_more(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text(RESIDENTS_CSV, encoding="utf-8")
    jrun(cli, "residents", "import", str(tmp_path / "r.csv"))
    for unit, at in (("3-1-201", "10:00"), ("3-1-202", "10:10"), ("5-2-1101", "10:20")):
        jrun(cli, "tickets", "new", "--kind", "complaint", "--category", "noise", "--unit",
             unit, "--at", f"2026-11-23T{at}:00+08:00")  # fmt: skip
    now = ("--at", "2026-11-23T11:30:00+08:00")
    code, out, _ = cli("overdue", *now, "--limit", "2")
    lines = out.splitlines()
    assert code == 0 and [line.split()[3] for line in lines[2:4]] == ["3-1-201", "3-1-202"]
    assert lines[4:] == ["1 more - --all lists every one"]
    code, out, _ = cli("overdue", *now, "--all")
    assert code == 0 and len(out.splitlines()) == 5 and "more" not in out
    assert len(jrun(cli, "overdue", *now, "--limit", "1")) == 3  # a program gets every one


def test_overdue_command(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text(RESIDENTS_CSV, encoding="utf-8")
    jrun(cli, "residents", "import", str(tmp_path / "r.csv"))
    jrun(cli, "tickets", "new", "--kind", "complaint", "--category", "noise", "--unit",
         "3-1-201", "--at", "2026-11-23T10:00:00+08:00")  # fmt: skip
    items = jrun(cli, "overdue", "--at", "2026-11-23T11:30:00+08:00")
    assert [(i["what"], i["deadline"], i["unit"]) for i in items] == [
        ("escalate", "2026-11-23T11:00:00+08:00", "3-1-201")
    ]
    assert jrun(cli, "overdue", "--at", "2026-11-23T10:30:00+08:00") == []


def test_a_reopened_complaint_runs_its_clocks_again_from_the_reopening(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed_residents(db, tmp_path)
    reopened_at = T0 + timedelta(days=4)
    with db.session() as s:
        ticket = open_ticket(s, rules, Intake("complaint", "noise", T0, unit="3-1-201"))
        move_ticket(s, rules, ticket.id, "escalated", T0 + timedelta(minutes=20))
        move_ticket(s, rules, ticket.id, "resolved", T0 + timedelta(days=1))
        move_ticket(s, rules, ticket.id, "reopened", reopened_at)
        assert ticket.escalation_due_at == reopened_at + timedelta(hours=1)
        assert ticket.resolution_due_at == reopened_at + timedelta(days=3)
        tid = ticket.id

    def owed(at: datetime) -> set[str]:
        with db.session() as s:
            found = overdue_now(s, rules, at)
            return {o.what for o in found if o.ticket_id == tid and o.what != "follow_up"}

    assert owed(reopened_at + timedelta(minutes=30)) == set()
    assert owed(reopened_at + timedelta(hours=2)) == {"escalate"}
    with db.session() as s:
        move_ticket(s, rules, tid, "escalated", reopened_at + timedelta(hours=3))
    assert owed(reopened_at + timedelta(days=2)) == set()
    assert owed(reopened_at + timedelta(days=3, hours=1)) == {"resolve"}


def test_a_reopened_matter_no_longer_owes_its_earlier_follow_up(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    """§4: the follow-up of the first resolution, not made when the complaint is reopened, is
    neither overdue nor missed; the new resolution owes a new one."""
    seed_residents(db, tmp_path)
    reopened_at = T0 + timedelta(days=1)
    with db.session() as s:
        ticket = open_ticket(s, rules, Intake("complaint", "noise", T0, unit="3-1-201"))
        move_ticket(s, rules, ticket.id, "escalated", T0 + timedelta(minutes=20))
        move_ticket(s, rules, ticket.id, "resolved", T0 + timedelta(hours=5))  # owes a follow-up
        move_ticket(s, rules, ticket.id, "reopened", reopened_at)
        tid = ticket.id
    (first,) = _followups(db, tid)

    def follow_ups(at: datetime) -> list[int]:
        with db.session() as s:
            found = overdue_now(s, rules, at)
        return [int(o.detail.rsplit(" ", 1)[1]) for o in found if o.what == "follow_up"]

    later = reopened_at + timedelta(days=5)  # the first follow-up's 3 days long past
    assert follow_ups(later) == []
    with db.session() as s:
        assert pending_followups(s) == []
        figures = build_report(s, rules, T0, later + timedelta(days=30), later)
        assert figures.followup_rate == {}  # neither missed nor pending
        with pytest.raises(DomainError, match="no longer owed"):
            record_answers(s, rules, first, Answers(5), later)
        move_ticket(s, rules, tid, "escalated", later)
        move_ticket(s, rules, tid, "resolved", later + timedelta(hours=1))
    (_, second) = _followups(db, tid)
    assert follow_ups(later + timedelta(days=4)) == [second]


def _followups(db: Database, ticket_id: int) -> list[int]:
    with db.session() as s:
        query = select(FollowUp.id).where(FollowUp.ticket_id == ticket_id).order_by(FollowUp.id)
        return list(s.scalars(query))


def test_overdue_sees_what_its_session_has_not_flushed_yet(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    """Its statements are of plain columns, not ORM ones: the session still flushes before them."""
    seed_residents(db, tmp_path)
    with db.session() as s:
        ticket = open_ticket(s, rules, Intake("complaint", "noise", T0, unit="3-1-201"))
        assert [o.what for o in overdue_now(s, rules, T0 + timedelta(hours=2))] == ["escalate"]
        ticket.state = "escalated"  # in the session only
        assert overdue_now(s, rules, T0 + timedelta(hours=2)) == []
