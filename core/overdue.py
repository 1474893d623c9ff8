"""What is overdue now: every deadline of the service rules that passed with its work undone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload

from .arrears import due_reminders
from .models import FollowUp, Ticket
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
    """Oldest deadline first."""
    dispatch = timedelta(minutes=rules.policy.answer.dispatch_minutes)
    found = [
        _item("escalate", t.escalation_due_at, t, "not with a supervisor yet (1 h)")
        for t in _complaints(session, NOT_ESCALATED, Ticket.escalation_due_at < now)
        if t.escalation_due_at is not None
    ]
    found += [
        _item("resolve", t.resolution_due_at, t, f"{t.severity}, not resolved")
        for t in _complaints(session, NOT_RESOLVED, Ticket.resolution_due_at < now)
        if t.resolution_due_at is not None
    ]
    found += [
        _item("dispatch", t.received_at + dispatch, t, f"{t.category}, no technician")
        for t in _missed(
            session, "repair", Ticket.dispatched_at, Ticket.received_at < now - dispatch
        )
    ]
    for f in session.scalars(
        select(FollowUp)
        .options(selectinload(FollowUp.ticket).selectinload(Ticket.unit))
        .where(FollowUp.done_at.is_(None), FollowUp.due_at < now)
    ):
        found.append(
            _item("follow_up", f.due_at, f.ticket, f"回访 by {f.assignee_role}, follow-up {f.id}")
        )
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


def _missed(
    session: Session, kind: str, done: InstrumentedAttribute[Any], late: ColumnElement[bool]
) -> list[Ticket]:
    """Open tickets of `kind` whose milestone `done` was never reached though `late` holds."""
    query = (
        select(Ticket)
        .options(selectinload(Ticket.unit))
        .where(Ticket.state.not_in(CLOSED), Ticket.kind == kind, done.is_(None), late)
    )
    return list(session.scalars(query))


def _complaints(
    session: Session, states: tuple[str, ...], late: ColumnElement[bool]
) -> list[Ticket]:
    query = (
        select(Ticket)
        .options(selectinload(Ticket.unit))
        .where(Ticket.kind == "complaint", Ticket.state.in_(states), late)
    )
    return list(session.scalars(query))


def _item(what: str, deadline: datetime, ticket: Ticket, detail: str) -> Overdue:
    unit = ticket.unit.code if ticket.unit else None
    return Overdue(what, deadline, ticket.id, unit, f"{ticket.kind} {ticket.id}: {detail}")
