"""What is overdue now: every deadline of the service rules that passed with its work undone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, func, select
from sqlalchemy.orm import Session

from .arrears import due_reminder_page
from .models import FOLLOWUP_OWED, FollowUp, Ticket, Unit
from .pages import Page
from .rules import Rules

Column = ColumnElement[Any]
# The tables, not the models: statements of plain columns are compiled without the ORM, so a
# fresh `hotline overdue` configures no mapper (~25 ms); the session still autoflushes first.
TICKETS, FOLLOWUPS, UNITS = Ticket.__table__, FollowUp.__table__, Unit.__table__
Query = Select[*tuple[Any, ...]]  # of any number of columns

CLOSED = ("closed",)  # a closed matter owes nothing more
# A complaint's clocks run from its receipt or its reopening (which restarts them), so what it
# still owes is read from its state, not from the first time it was ever escalated or resolved.
NOT_ESCALATED = ("new", "reopened")
NOT_RESOLVED = ("new", "escalated", "reopened")


@dataclass(frozen=True)
class Overdue:
    what: str  # escalate, resolve, dispatch, follow_up, remind
    deadline: datetime
    ticket_id: int | None
    unit: str | None
    detail: str


def overdue_now(session: Session, rules: Rules, now: datetime) -> list[Overdue]:
    """Oldest deadline first."""
    return overdue_page(session, rules, now, None).items


def overdue_page(session: Session, rules: Rules, now: datetime, limit: int | None) -> Page[Overdue]:
    """The `limit` oldest deadlines missed (every one when None) and how many there are in all.
    Each kind of item is read in its deadline's order and cut to `limit` in SQL, so a page costs
    a page; tickets are read as plain rows of the columns an item needs (at 100,000 tickets there
    are tens of thousands, and ORM objects cost ten times as much)."""
    total = 0

    def read(query: Query, *order: Column) -> Sequence[Row[Any]]:
        """`query`'s page, and how many rows it has in all, counted by the same pass."""
        nonlocal total
        counted = query.add_columns(func.count().over().label("total"))
        rows = session.execute(counted.order_by(*order).limit(limit)).all()
        total += rows[0].total if rows else 0
        return rows

    dispatch = timedelta(minutes=rules.policy.answer.dispatch_minutes)
    complaint = TICKETS.c.kind == "complaint"
    escalate = _tickets(
        complaint, TICKETS.c.state.in_(NOT_ESCALATED), TICKETS.c.escalation_due_at < now
    )
    found = [
        _item("escalate", t.escalation_due_at, t, "not with a supervisor yet (1 h)")
        for t in read(escalate, TICKETS.c.escalation_due_at, TICKETS.c.id)
    ]
    resolve = _tickets(
        complaint, TICKETS.c.state.in_(NOT_RESOLVED), TICKETS.c.resolution_due_at < now
    )
    found += [
        _item("resolve", t.resolution_due_at, t, f"{t.severity}, not resolved")
        for t in read(resolve, TICKETS.c.resolution_due_at, TICKETS.c.id)
    ]
    undispatched = _tickets(
        TICKETS.c.kind == "repair",
        TICKETS.c.state.not_in(CLOSED),
        TICKETS.c.dispatched_at.is_(None),
        TICKETS.c.received_at < now - dispatch,
    )
    found += [
        _item("dispatch", t.received_at + dispatch, t, f"{t.category}, no technician")
        for t in read(undispatched, TICKETS.c.received_at, TICKETS.c.id)
    ]
    # Follow-ups are read in their index's order: counting them there and joining only the page
    # to their tickets costs a fifth of counting every one joined.
    owed = (FOLLOWUP_OWED, FOLLOWUPS.c.due_at < now)
    total += session.execute(select(func.count()).select_from(FOLLOWUPS).where(*owed)).scalar_one()
    followups = (
        _ticket_rows(
            FOLLOWUPS.c.id.label("followup_id"), FOLLOWUPS.c.due_at, FOLLOWUPS.c.assignee_role
        )
        .join(FOLLOWUPS, FOLLOWUPS.c.ticket_id == TICKETS.c.id)
        .where(*owed)
        .order_by(FOLLOWUPS.c.due_at, FOLLOWUPS.c.id)
        .limit(limit)
    )
    found += [
        _item("follow_up", f.due_at, f, f"回访 by {f.assignee_role}, follow-up {f.followup_id}")
        for f in session.execute(followups)
    ]
    reminders = due_reminder_page(session, rules, now, limit, passed=True)
    total += reminders.total
    found += [
        Overdue(
            "remind",
            d.reminder.due_at,
            None,
            d.account.unit,
            f"{d.reminder.stage} reminder, {d.account.amount} yuan, {d.account.months} month(s)",
        )
        for d in reminders.items
    ]
    found.sort(key=lambda o: o.deadline)
    return Page(found[:limit], total)


def _ticket_rows(*more: Column) -> Query:
    """A ticket's columns that the items name, its unit's code, and `more`."""
    return select(
        TICKETS.c.id,
        TICKETS.c.kind,
        TICKETS.c.category,
        TICKETS.c.severity,
        TICKETS.c.received_at,
        TICKETS.c.escalation_due_at,
        TICKETS.c.resolution_due_at,
        UNITS.c.code.label("unit"),
        *more,
    ).outerjoin(UNITS, TICKETS.c.unit_id == UNITS.c.id)


def _tickets(*where: ColumnElement[bool]) -> Query:
    return _ticket_rows().where(*where)


def _item(what: str, deadline: datetime, ticket: Row[Any], detail: str) -> Overdue:
    return Overdue(what, deadline, ticket.id, ticket.unit, f"{ticket.kind} {ticket.id}: {detail}")
