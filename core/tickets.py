"""Tickets: intake, the state machine with a timestamp on every move, and what a move sets off."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import DateTime, Row, Select, bindparam, or_, select, type_coerce, update
from sqlalchemy.orm import Session, joinedload, selectinload

from . import outbox
from .models import (
    FOLLOWUP_OWED,
    CallRecord,
    FollowUp,
    Lead,
    Recording,
    Ticket,
    TicketEvent,
    Unit,
    UTCDateTime,
    WorkOrder,
)
from .residents import require_unit
from .rules import Rules
from .ticket_states import ALL_STATES, FOLLOWUP_TRIGGER, check_transition
from .vocabulary import (
    Channel,
    DomainError,
    Kind,
    LeadState,
    NotFound,
    Severity,
    WebhookEventType,
    check_category,
    parse_choice,
)
from .webhook_payloads import TICKET_FIELDS, fields_of, ticket_created, ticket_state_changed

# The first moment a ticket reaches each milestone is kept on its row for the report.
MILESTONES = {
    "dispatched": "dispatched_at",
    "escalated": "escalated_at",
    "done": "done_at",
    "resolved": "resolved_at",
    "closed": "closed_at",
}


@dataclass(frozen=True)
class Intake:
    """What a report is made of, by whichever channel it came."""

    kind: str
    category: str
    received_at: datetime
    unit: str | None = None
    severity: str = "general"
    channel: str = "phone"
    text: str | None = None
    caller_number: str | None = None
    resident_id: int | None = None
    recording: str | None = None
    about_staff: bool = False
    incomplete: bool = False
    intake_key: str | None = None
    parent_id: int | None = None


def ticket_row(rules: Rules, intake: Intake, unit_id: int | None) -> dict[str, Any]:
    """A new ticket's columns, checked: kind, category, severity and channel, the emergency flag
    and a complaint's escalation and resolution deadlines."""
    kind = parse_choice(Kind, intake.kind, "kind")
    category = check_category(kind, intake.category)
    severity = parse_choice(Severity, intake.severity, "severity")
    channel = parse_choice(Channel, intake.channel, "channel")
    at = intake.received_at
    row: dict[str, Any] = {
        "kind": kind.value,
        "category": category,
        "severity": severity.value,
        "channel": channel.value,
        "state": "new",
        "unit_id": unit_id,
        "resident_id": intake.resident_id,
        "caller_number": intake.caller_number,
        "text": intake.text,
        "recording": intake.recording,
        "about_staff": intake.about_staff,
        "emergency": rules.is_emergency(kind, category),
        "incomplete": intake.incomplete,
        "intake_key": intake.intake_key,
        "parent_id": intake.parent_id,
        "received_at": at,
        "updated_at": at,
    }
    if kind is Kind.COMPLAINT:
        row["escalation_due_at"] = rules.escalation_due(at)
        row["resolution_due_at"] = rules.resolution_due(severity, at)
    return row


def open_ticket(session: Session, rules: Rules, intake: Intake, by: str | None = None) -> Ticket:
    row = ticket_row(rules, intake, None)  # a bad kind or category is named before the unit
    if intake.intake_key is not None:
        already = session.scalar(select(Ticket).where(Ticket.intake_key == intake.intake_key))
        if already is not None:
            return already
    unit = require_unit(session, intake.unit) if intake.unit else None
    if unit is not None:
        row["unit_id"] = unit.id
    # The unit given too: its code is read back (the answer, the webhook) without a query.
    ticket = Ticket(**row, unit=unit)
    ticket.events.append(
        TicketEvent(
            from_state=None, to_state="new", at=intake.received_at, note=intake.text, actor=by
        )
    )
    session.add(ticket)
    session.flush()
    if outbox.wants(session, WebhookEventType.TICKET_CREATED):
        data = ticket_created(rules, ticket.id, fields_of(ticket, TICKET_FIELDS), intake.unit)
        outbox.emit(session, WebhookEventType.TICKET_CREATED, intake.received_at, data)
    return ticket


def get_ticket(session: Session, ticket_id: int) -> Ticket:
    ticket = session.get(
        Ticket, ticket_id, options=[selectinload(Ticket.events), selectinload(Ticket.unit)]
    )
    if ticket is None:
        raise NotFound(f"no ticket {ticket_id}")
    return ticket


def move_ticket(
    session: Session,
    rules: Rules,
    ticket_id: int,
    target: str,
    at: datetime,
    note: str | None = None,
    by: str | None = None,
) -> Ticket:
    ticket = get_ticket(session, ticket_id)
    kind = Kind(ticket.kind)
    check_transition(kind, ticket.state, target)
    last = ticket.events[-1].at if ticket.events else ticket.received_at
    if at < last:
        raise DomainError(
            f"ticket {ticket_id}: {rules.local_iso(at)} is before its last change "
            f"({rules.local_iso(last)})"
        )
    if kind is Kind.REPAIR:
        _work_order_step(session, ticket, target, at, by)
    if kind is Kind.COMPLAINT and target == "reopened":
        # §3: a reopened complaint is a complaint again, its clocks start from the reopening.
        ticket.escalation_due_at = rules.escalation_due(at)
        ticket.resolution_due_at = rules.resolution_due(Severity(ticket.severity), at)
    if target == "reopened":
        _drop_followups(session, ticket.id, at)
    ticket.events.append(
        TicketEvent(from_state=ticket.state, to_state=target, at=at, note=note, actor=by)
    )
    if outbox.wants(session, WebhookEventType.TICKET_STATE_CHANGED):
        data = ticket_state_changed(
            rules, ticket.id, kind.value, ticket.state, target, at, by, note
        )
        outbox.emit(session, WebhookEventType.TICKET_STATE_CHANGED, at, data)
    ticket.state = target
    ticket.updated_at = at
    column = MILESTONES.get(target)
    if column and getattr(ticket, column) is None:
        setattr(ticket, column, at)
    if FOLLOWUP_TRIGGER[kind] == target:
        session.add(
            FollowUp(
                ticket_id=ticket.id,
                kind=kind.value,
                due_at=rules.followup_due(kind, ticket.category, at),
                assignee_role=rules.followup_assignee(kind, Severity(ticket.severity)).value,
            )
        )
    session.flush()
    return ticket


def _drop_followups(session: Session, ticket_id: int, at: datetime) -> None:
    """§4: a follow-up not made by the time its matter is reopened is no longer owed (the new
    resolution owes a new one), and no lead calls for it any more."""
    owed = list(
        session.scalars(select(FollowUp.id).where(FollowUp.ticket_id == ticket_id, FOLLOWUP_OWED))
    )
    if not owed:
        return
    session.execute(update(FollowUp).where(FollowUp.id.in_(owed)).values(dropped_at=at))
    session.execute(
        update(Lead)
        .where(Lead.followup_id.in_(owed), Lead.state.in_((LeadState.READY, LeadState.WAITING)))
        .values(state=LeadState.STOPPED)
    )


@dataclass(frozen=True)
class Correction:
    """What an agent completes or corrects on a ticket the voice menu filed (None: unchanged)."""

    category: str | None = None
    severity: str | None = None
    text: str | None = None
    about_staff: bool | None = None
    unit: str | None = None


def correct_ticket(
    session: Session,
    rules: Rules,
    ticket_id: int,
    change: Correction,
    at: datetime,
    by: str | None = None,
) -> Ticket:
    """The agent's wrap-up of a filed report: checked as a new ticket's fields are, kept in the
    ticket's history as a note (state unchanged), and no longer `incomplete`. A complaint's
    resolution deadline follows a changed severity from its receipt (or its reopening)."""
    ticket = get_ticket(session, ticket_id)
    if ticket.state == "closed":
        raise DomainError(f"ticket {ticket_id} is closed: reopen it to change it")
    kind = Kind(ticket.kind)
    changed: list[str] = []

    def note(field: str, old: object, new: object) -> None:
        if new is not None and new != old:
            changed.append(f"{field}: {old} -> {new}")

    if change.category is not None:
        note("category", ticket.category, check_category(kind, change.category))
        ticket.category = change.category
        ticket.emergency = rules.is_emergency(kind, change.category)
    if change.severity is not None:
        severity = parse_choice(Severity, change.severity, "severity")
        note("severity", ticket.severity, severity.value)
        ticket.severity = severity.value
        if kind is Kind.COMPLAINT:
            started = ticket.events[-1].at if ticket.state == "reopened" else ticket.received_at
            ticket.resolution_due_at = rules.resolution_due(severity, started)
    if change.unit is not None:
        unit = require_unit(session, change.unit)
        note("unit", ticket.unit.code if ticket.unit else None, unit.code)
        ticket.unit_id = unit.id
    if change.about_staff is not None:
        if change.about_staff and kind is not Kind.COMPLAINT:
            raise DomainError("only a complaint can be about staff")
        note("about_staff", ticket.about_staff, change.about_staff)
        ticket.about_staff = change.about_staff
    if change.text is not None and change.text != ticket.text:
        changed.append("text")
        ticket.text = change.text
    if ticket.incomplete:
        changed.append("completed")
        ticket.incomplete = False
    if changed:
        ticket.events.append(
            TicketEvent(
                from_state=ticket.state,
                to_state=ticket.state,
                at=at,
                note="; ".join(changed),
                actor=by,
            )
        )
        ticket.updated_at = at
    session.flush()
    return ticket


def _work_order_step(
    session: Session, ticket: Ticket, target: str, at: datetime, by: str | None
) -> None:
    """§2: a repair is a work order to a technician and ends with the resident's signature."""
    order = session.scalar(
        select(WorkOrder).where(WorkOrder.ticket_id == ticket.id).order_by(WorkOrder.id.desc())
    )
    if target == "dispatched":
        session.add(WorkOrder(ticket_id=ticket.id, technician=by, created_at=at))
    elif target == "done" and order is not None:
        order.completed_at = at
    elif target == "accepted":
        if not by:
            raise DomainError("acceptance needs the name of who signed it off (--by)")
        if order is not None:
            order.accepted_by, order.accepted_at = by, at


@dataclass(frozen=True)
class TicketHistory:
    """Everything the centre did about a ticket, each part oldest first."""

    ticket: Ticket
    work_orders: list[WorkOrder]
    followups: list[FollowUp]
    calls: list[CallRecord]
    recordings: list[Recording]


def ticket_history(session: Session, ticket_id: int) -> TicketHistory:
    ticket = get_ticket(session, ticket_id)

    def rows(model: Any, *where: Any) -> list[Any]:
        return list(session.scalars(select(model).where(*where).order_by(model.id)))

    calls = rows(CallRecord, CallRecord.ticket_id == ticket_id)
    call_ids = [c.id for c in calls]
    return TicketHistory(
        ticket,
        rows(WorkOrder, WorkOrder.ticket_id == ticket_id),
        rows(FollowUp, FollowUp.ticket_id == ticket_id),
        calls,
        rows(
            Recording,
            or_(Recording.ticket_id == ticket_id, Recording.call_id.in_(call_ids)),
        ),
    )


def list_tickets(
    session: Session,
    state: str | None = None,
    kind: str | None = None,
    limit: int = 500,
    before: int | None = None,
) -> list[Ticket]:
    """Newest first; ``before``: only tickets with a smaller id."""
    params = _page_params(state, kind, limit, before)
    query = _newest(select(Ticket).options(joinedload(Ticket.unit)), *_shape(params))
    return list(session.scalars(query, params))


# What a ticket list shows (hotline.serialise.ticket), in the order `serialise.ticket_rows`
# unpacks a page's rows; unit_code is the unit's.
PAGE_COLUMNS = (
    "id",
    "kind",
    "category",
    "severity",
    "channel",
    "state",
    "unit_code",
    "caller_number",
    "text",
    "recording",
    "emergency",
    "about_staff",
    "incomplete",
    "parent_id",
    "received_at",
    "escalation_due_at",
    "resolution_due_at",
    "updated_at",
)


TicketRow = Row[Any]  # a row of `ticket_page`: PAGE_COLUMNS, its times naive UTC


def ticket_page(
    session: Session,
    state: str | None = None,
    kind: str | None = None,
    limit: int = 50,
    before: int | None = None,
) -> list[TicketRow]:
    """`list_tickets` as plain rows of the listed columns (the API's page): building ORM
    objects, their unit's among them, cost more than the statement and the JSON together."""
    params = _page_params(state, kind, limit, before)
    # On the connection: the ORM's result machinery has nothing to do for plain rows.
    return list(session.connection().execute(_page_statement(*_shape(params)), params).all())


@cache
def _page_statement(state: bool, kind: bool, before: bool) -> Select[Any]:
    """Built once per shape (which filters it has): building a statement costs as much as
    running it, and the values are bound parameters. Times come as stored, naive UTC: the UTC
    type's step per value was a fifth of a page's CPU (the serialiser sets the zone). Tables'
    columns, not the models' attributes: a statement of plain columns is compiled without the
    ORM, which would first configure every mapper (a fresh `tickets list` pays that once)."""
    tickets, units = Ticket.__table__, Unit.__table__
    columns = [units.c.code if name == "unit_code" else tickets.c[name] for name in PAGE_COLUMNS]
    query = select(
        *(
            type_coerce(c, DateTime()).label(c.name) if isinstance(c.type, UTCDateTime) else c
            for c in columns
        )
    )
    return _newest(query.outerjoin(units, tickets.c.unit_id == units.c.id), state, kind, before)


def _page_params(
    state: str | None, kind: str | None, limit: int, before: int | None
) -> dict[str, Any]:
    """The page's bound values, checked: the state and kind must be known ones."""
    params: dict[str, Any] = {"limit": limit}
    if before is not None:
        params["before"] = before
    if state:
        if state not in ALL_STATES:
            raise DomainError(f"unknown state {state!r} (one of: {', '.join(sorted(ALL_STATES))})")
        params["state"] = state
    if kind:
        params["kind"] = parse_choice(Kind, kind, "kind").value
    return params


def _shape(params: dict[str, Any]) -> tuple[bool, bool, bool]:
    return "state" in params, "kind" in params, "before" in params


def _newest(query: Select[Any], state: bool, kind: bool, before: bool) -> Select[Any]:
    """Newest (highest id) first, a page at a time: ``before`` is the last id of the page
    before (keyset pagination, so a deep page costs what the first does)."""
    column = Ticket.__table__.c  # plain columns: see _page_statement
    query = query.order_by(column.id.desc()).limit(bindparam("limit"))
    if before:
        query = query.where(column.id < bindparam("before"))
    if state:
        query = query.where(column.state == bindparam("state"))
    if kind:
        query = query.where(column.kind == bindparam("kind"))
    return query
