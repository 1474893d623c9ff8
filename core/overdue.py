"""What is overdue now: every deadline of the service rules that passed with its work undone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from .arrears import due_reminders
from .models import FollowUp, Ticket, Unit
from .rules import Rules

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
    """Oldest deadline first. The tickets are read as plain rows of the columns an item needs:
    at 100,000 tickets there are tens of thousands, and ORM objects cost ten times as much."""
    dispatch = timedelta(minutes=rules.policy.answer.dispatch_minutes)
    complaint = Ticket.kind == "complaint"
    found = [
        _item("escalate", t.escalation_due_at, t, "not with a supervisor yet (1 h)")
        for t in _tickets(
            session, complaint, Ticket.state.in_(NOT_ESCALATED), Ticket.escalation_due_at < now
        )
    ]
    found += [
        _item("resolve", t.resolution_due_at, t, f"{t.severity}, not resolved")
        for t in _tickets(
            session, complaint, Ticket.state.in_(NOT_RESOLVED), Ticket.resolution_due_at < now
        )
    ]
    found += [
        _item("dispatch", t.received_at + dispatch, t, f"{t.category}, no technician")
        for t in _tickets(
            session,
            Ticket.kind == "repair",
            Ticket.state.not_in(CLOSED),
            Ticket.dispatched_at.is_(None),
            Ticket.received_at < now - dispatch,
        )
    ]
    followups = (
        _ticket_rows(FollowUp.id.label("followup_id"), FollowUp.due_at, FollowUp.assignee_role)
        .join(FollowUp, FollowUp.ticket_id == Ticket.id)
        .where(FollowUp.done_at.is_(None), FollowUp.due_at < now)
    )
    found += [
        _item("follow_up", f.due_at, f, f"回访 by {f.assignee_role}, follow-up {f.followup_id}")
        for f in session.execute(followups)
    ]
    for due in due_reminders(session, rules, now):
        if due.reminder.due_at < now:
            a = due.account
            found.append(
                Overdue(
                    "remind",
                    due.reminder.due_at,
                    None,
                    a.unit.code,
                    f"{due.reminder.stage} reminder, {a.amount} yuan, {a.months} month(s)",
                )
            )
    return sorted(found, key=lambda o: o.deadline)


def _ticket_rows(*more: ColumnElement[Any] | InstrumentedAttribute[Any]) -> Select[Any]:
    """A ticket's columns that the items name, its unit's code, and `more`."""
    return select(
        Ticket.id,
        Ticket.kind,
        Ticket.category,
        Ticket.severity,
        Ticket.received_at,
        Ticket.escalation_due_at,
        Ticket.resolution_due_at,
        Unit.code.label("unit"),
        *more,
    ).outerjoin(Unit, Ticket.unit_id == Unit.id)


def _tickets(session: Session, *where: ColumnElement[bool]) -> Sequence[Row[Any]]:
    return session.execute(_ticket_rows().where(*where)).all()


def _item(what: str, deadline: datetime, ticket: Row[Any], detail: str) -> Overdue:
    return Overdue(what, deadline, ticket.id, ticket.unit, f"{ticket.kind} {ticket.id}: {detail}")
