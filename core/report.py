"""The centre's figures for a period, aggregated in SQL (never rows counted in Python)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, case, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import FunctionElement

from .models import ArrearsAccount, CallRecord, FollowUp, Ticket, Unit
from .rules import Rules
from .vocabulary import DomainError


class seconds_between(FunctionElement[float]):
    """Seconds from the first datetime column to the second, in the database's own dialect."""

    type = Float()
    inherit_cache = True


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _seconds_postgresql(element: seconds_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _share(part: float | Decimal, whole: float | Decimal) -> float | None:
    """`part` of `whole` to four places: counts, and money (exact Decimal yuan)."""
    return round(float(part) / float(whole), 4) if whole else None


@dataclass
class Rate:
    """`part` of the `whole` that is due; `pending` matters are not due yet (their deadline has
    not passed and their work is not done), so they are neither met nor missed."""

    part: int
    whole: int
    rate: float | None
    target: float | None = None
    pending: int = 0

    @classmethod
    def of(cls, part: int, whole: int, target: float | None = None, pending: int = 0) -> Rate:
        return cls(int(part), int(whole), _share(int(part), int(whole)), target, int(pending))


@dataclass
class Collection:
    collected: str  # yuan, as exact decimal text
    due: str
    rate: float | None
    target: float


@dataclass
class Repeat:
    kind: str
    unit: str
    category: str
    count: int


@dataclass
class Report:
    start: datetime
    end: datetime
    answered_within_rings: Rate
    repair_dispatch_in_time: Rate
    complaint_escalated_in_time: Rate
    followup_rate: dict[str, Rate]
    followup_on_time_rate: dict[str, Rate]
    satisfaction: Rate
    collection: Collection
    repeats: list[Repeat] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        return data


def _deadline_counts(
    is_kind: ColumnElement[bool],
    done_at: Any,
    received_at: Any,
    limit_seconds: float,
    now: datetime,
) -> list[ColumnElement[int]]:
    """Met, missed and pending counts of a deadline `limit_seconds` after receipt, as of `now`."""
    done = done_at.is_not(None)
    in_time = seconds_between(received_at, done_at) <= limit_seconds
    still_open = received_at > now - timedelta(seconds=limit_seconds)
    return [
        _count_if(and_(is_kind, done, in_time)),
        _count_if(and_(is_kind, or_(and_(done, ~in_time), and_(~done, ~still_open)))),
        _count_if(and_(is_kind, ~done, still_open)),
    ]


def _deadline_rate(met: int, missed: int, pending: int) -> Rate:
    return Rate.of(met, met + missed, pending=pending)


def quarter_start(moment: datetime) -> datetime:
    """Midnight on the first day of the moment's quarter, in the moment's timezone."""
    return moment.replace(
        month=(moment.month - 1) // 3 * 3 + 1, day=1, hour=0, minute=0, second=0, microsecond=0
    )


def report_period(
    start: datetime | None, end: datetime | None, tz: tzinfo, now: datetime
) -> tuple[datetime, datetime]:
    """The period asked for (the CLI's --from and --to, the API's from and to); by default from
    the start of this quarter to the end of today, site time."""
    end = end or datetime.combine(now.astimezone(tz).date() + timedelta(days=1), time(0), tz)
    start = start or quarter_start(min(end, now).astimezone(tz))
    if start >= end:
        shown = [m.astimezone(tz).isoformat(timespec="seconds") for m in (start, end)]
        raise DomainError(f"--from {shown[0]} is not before --to {shown[1]}")
    return start, end


def build_report(
    session: Session, rules: Rules, start: datetime, end: datetime, now: datetime | None = None
) -> Report:
    """The figures of the matters of [start, end), as known at `now` (default: `end`)."""
    now = end if now is None else now
    p = rules.policy
    calls = session.execute(
        select(
            func.count(),
            _count_if(CallRecord.rings_before_answer <= p.answer.max_rings),
        ).where(
            CallRecord.direction == "in",
            CallRecord.arrived_at >= start,
            CallRecord.arrived_at < end,
        )
    ).one()

    dispatch_limit = p.answer.dispatch_minutes * 60
    escalation_limit = p.complaint.escalation_hours * 3600
    is_repair, is_complaint = Ticket.kind == "repair", Ticket.kind == "complaint"
    tickets = session.execute(
        select(
            *_deadline_counts(
                is_repair, Ticket.dispatched_at, Ticket.received_at, dispatch_limit, now
            ),
            *_deadline_counts(
                is_complaint, Ticket.escalated_at, Ticket.received_at, escalation_limit, now
            ),
        ).where(Ticket.received_at >= start, Ticket.received_at < end)
    ).one()

    # A follow-up belongs to the period it was made in, or, not made yet, to the one it is due
    # in: one recorded today counts today, though it was due days later.
    when = func.coalesce(FollowUp.done_at, FollowUp.due_at)
    followups = session.execute(
        select(
            FollowUp.kind,
            _count_if(and_(FollowUp.done_at.is_(None), FollowUp.due_at <= now)),  # missed
            _count_if(FollowUp.done_at.is_not(None)),
            _count_if(FollowUp.done_at <= FollowUp.due_at),
            _count_if(FollowUp.satisfaction.is_not(None)),
            _count_if(FollowUp.satisfaction > p.followup.unsatisfied_max),
            _count_if(and_(FollowUp.done_at.is_(None), FollowUp.due_at > now)),  # pending
        )
        .where(when >= start, when < end, FollowUp.dropped_at.is_(None))
        .group_by(FollowUp.kind)
    ).all()

    # Paid beyond what is owed (a re-import can lower the sum) counts as no more than owed.
    collected = case(
        (ArrearsAccount.paid_amount > ArrearsAccount.amount, ArrearsAccount.amount),
        else_=ArrearsAccount.paid_amount,
    )
    # Numeric sums: Decimal, exact yuan.
    collected_yuan: Decimal
    due_yuan: Decimal
    collected_yuan, due_yuan = session.execute(
        select(
            func.coalesce(func.sum(collected), 0),
            func.coalesce(func.sum(ArrearsAccount.amount), 0),
        )
    ).one()

    # Grouped on ix_tickets_repeats alone (its column order, so no sort or hash of all the
    # period's tickets); only the groups that repeat are joined to their unit's code.
    counted = (
        select(Ticket.kind, Ticket.unit_id, Ticket.category, func.count().label("count"))
        .where(Ticket.received_at >= start, Ticket.received_at < end)
        .where(Ticket.kind.in_(("complaint", "repair")))
        .group_by(Ticket.kind, Ticket.unit_id, Ticket.category)
        .having(func.count() >= case((Ticket.kind == "complaint", 2), else_=3))
        .subquery()
    )
    repeats = session.execute(
        select(counted.c.kind, Unit.code, counted.c.category, counted.c.count)
        .join(Unit, Unit.id == counted.c.unit_id)
        .order_by(counted.c.count.desc(), Unit.code)
    ).all()

    answered = sum(r[4] for r in followups)
    satisfied = sum(r[5] for r in followups)
    return Report(
        start=start,
        end=end,
        answered_within_rings=Rate.of(calls[1], calls[0]),
        repair_dispatch_in_time=_deadline_rate(*tickets[0:3]),
        complaint_escalated_in_time=_deadline_rate(*tickets[3:6]),
        followup_rate={
            r[0]: Rate.of(r[2], r[1] + r[2], p.followup.target_rate, r[6]) for r in followups
        },
        followup_on_time_rate={
            r[0]: Rate.of(r[3], r[1] + r[2], p.followup.target_rate, r[6]) for r in followups
        },
        satisfaction=Rate.of(satisfied, answered, p.followup.satisfaction_target),
        collection=Collection(
            collected=str(collected_yuan),
            due=str(due_yuan),
            rate=_share(collected_yuan, due_yuan),
            target=p.arrears.collection_target,
        ),
        repeats=[Repeat(kind, unit, category, count) for kind, unit, category, count in repeats],
    )
