"""The rules' clocks on open matters, for the console: a complaint's hour to reach a supervisor
and its time to be resolved, a repair's minutes to be dispatched, follow-ups due and overdue.
`overdue.py` lists what is already late; these are the running clocks, late or not yet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .figures import end_of_site_day
from .models import FOLLOWUP_OWED, FollowUp, Ticket
from .overdue import NOT_ESCALATED, NOT_RESOLVED
from .rules import Rules
from .vocabulary import Kind

# A clock this close to its deadline shows as "near" on the wallboard.
NEAR = timedelta(minutes=15)
BOARD_ROWS = 50  # rows of each clock list on the wallboard, most urgent first


@dataclass(frozen=True)
class Clock:
    what: str  # escalate, resolve, dispatch, follow_up
    due_at: datetime
    state: str  # running, near, overdue

    @classmethod
    def at(cls, what: str, due_at: datetime, now: datetime) -> Clock:
        state = "overdue" if due_at <= now else "near" if due_at - now <= NEAR else "running"
        return cls(what, due_at, state)


def dispatch_deadline(rules: Rules, ticket: Ticket) -> datetime:
    return ticket.received_at + timedelta(minutes=rules.policy.answer.dispatch_minutes)


def ticket_clocks(rules: Rules, ticket: Ticket, now: datetime) -> tuple[Clock, ...]:
    """The clocks running on one ticket now (none once its milestones are reached)."""
    clocks = []
    if ticket.kind == Kind.COMPLAINT.value:
        if ticket.state in NOT_ESCALATED and ticket.escalation_due_at is not None:
            clocks.append(Clock.at("escalate", ticket.escalation_due_at, now))
        if ticket.state in NOT_RESOLVED and ticket.resolution_due_at is not None:
            clocks.append(Clock.at("resolve", ticket.resolution_due_at, now))
    elif (
        ticket.kind == Kind.REPAIR.value
        and ticket.dispatched_at is None
        and ticket.state != "closed"
    ):
        clocks.append(Clock.at("dispatch", dispatch_deadline(rules, ticket), now))
    return tuple(clocks)


@dataclass(frozen=True)
class BoardClock:
    clock: Clock
    ticket: Ticket
    followup_id: int | None = None


@dataclass(frozen=True)
class Board:
    complaints: list[BoardClock]  # not yet with a supervisor: the 1 h clock
    repairs: list[BoardClock]  # not dispatched: the 5 min clock
    followups: list[BoardClock]  # due before the end of today, or overdue


def _open(query: Sequence[Ticket], rules: Rules, now: datetime, what: str) -> list[BoardClock]:
    return [BoardClock(c, t) for t in query for c in ticket_clocks(rules, t, now) if c.what == what]


def wallboard_clocks(session: Session, rules: Rules, now: datetime) -> Board:
    """Each list by deadline, the most urgent first, at most BOARD_ROWS long."""
    unit = selectinload(Ticket.unit)
    complaints = session.scalars(
        select(Ticket)
        .options(unit)
        .where(
            Ticket.kind == Kind.COMPLAINT.value,
            Ticket.state.in_(NOT_ESCALATED),
            Ticket.escalation_due_at < now + NEAR,
        )
        .order_by(Ticket.escalation_due_at)
        .limit(BOARD_ROWS)
    ).all()
    dispatch = timedelta(minutes=rules.policy.answer.dispatch_minutes)
    repairs = session.scalars(
        select(Ticket)
        .options(unit)
        .where(
            Ticket.kind == Kind.REPAIR.value,
            Ticket.dispatched_at.is_(None),
            Ticket.state != "closed",
            Ticket.received_at < now + NEAR - dispatch,
        )
        .order_by(Ticket.received_at)
        .limit(BOARD_ROWS)
    ).all()
    followups = session.scalars(
        select(FollowUp)
        .options(selectinload(FollowUp.ticket).selectinload(Ticket.unit))
        .where(FOLLOWUP_OWED, FollowUp.due_at < end_of_site_day(rules, now))
        .order_by(FollowUp.due_at)
        .limit(BOARD_ROWS)
    ).all()
    return Board(
        _open(complaints, rules, now, "escalate"),
        _open(repairs, rules, now, "dispatch"),
        [BoardClock(Clock.at("follow_up", f.due_at, now), f.ticket, f.id) for f in followups],
    )
