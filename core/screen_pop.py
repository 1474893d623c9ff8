"""What an agent's screen shows when a call is offered or connects (来电弹屏): the resident,
the unit, what the voice menu captured and the ticket it filed, the unit's open tickets with
their rule clocks, arrears, the last follow-ups; for a dialer call, the lead and why it is made.

A pop is read from the database alone, by the call's id (the caller channel's uniqueid for an
inbound call, ``lead-<lead>-<attempt>`` for a dialer call), so a reloaded page or a restarted
service shows the same pop again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from .models import (
    ArrearsAccount,
    CallRecord,
    Campaign,
    FollowUp,
    Lead,
    Phone,
    Recording,
    Resident,
    Ticket,
    Unit,
)
from .rule_clocks import Clock, ticket_clocks
from .rules import Rules
from .units import normalise_phone
from .vocabulary import DomainError, Kind, NotFound

OPEN_TICKETS = 20  # the unit's open tickets shown, newest first
LAST_FOLLOWUPS = 5
_DIALER_CALL = re.compile(r"^lead-(\d{1,18})-(\d{1,9})$")
MAX_CALL_ID = 64  # as CallRecord.key


@dataclass(frozen=True)
class OpenTicket:
    ticket: Ticket
    clocks: tuple[Clock, ...]


@dataclass(frozen=True)
class ScreenPop:
    call_id: str
    direction: str  # in, out
    call: CallRecord | None  # written ahead when the call arrived (None: not landed yet)
    caller: str | None
    residents: list[Resident]  # every resident the caller's number belongs to
    resident: Resident | None  # the one the call is about, when known
    unit: Unit | None
    ticket: Ticket | None  # the ticket the voice menu filed, or the one a dialer call is about
    open_tickets: list[OpenTicket]
    arrears: ArrearsAccount | None
    followups: list[FollowUp]  # answered, newest first
    lead: Lead | None
    campaign: Campaign | None
    recordings: list[Recording]  # indexed recordings of the ticket and the call (voice menu's)

    @property
    def several_units(self) -> bool:
        return len({r.unit_id for r in self.residents}) > 1


def inbound_key(call_id: str) -> str:
    """The call record's and the filed report's key (agi/flows/visit.py)."""
    return f"in:{call_id}"


def _callers(session: Session, number: str | None) -> list[Resident]:
    try:
        normalised = normalise_phone(number or "")
    except DomainError:
        return []  # withheld or not a number
    return list(
        session.scalars(
            select(Resident)
            .options(selectinload(Resident.unit), selectinload(Resident.phones))
            .join(Phone, Phone.resident_id == Resident.id)
            .where(Phone.number == normalised)
            .order_by(Resident.unit_id, Resident.id)
        )
    )


def screen_pop(session: Session, rules: Rules, call_id: str, now: datetime) -> ScreenPop:
    if not call_id or len(call_id) > MAX_CALL_ID:
        raise NotFound(f"no call {call_id[:MAX_CALL_ID]!r}")
    dialer = _DIALER_CALL.match(call_id)
    lead = campaign = None
    if dialer:
        lead = session.get(Lead, int(dialer[1]), options=[selectinload(Lead.resident)])
        if lead is None:
            raise NotFound(f"no call {call_id}: no lead {dialer[1]}")
        campaign = session.get(Campaign, lead.campaign_id)
        call = session.scalar(select(CallRecord).where(CallRecord.key == call_id))
        ticket = session.get(Ticket, lead.ticket_id) if lead.ticket_id else None
        resident = lead.resident
        residents = [resident] if resident else []
        caller = lead.number
        unit_id = lead.unit_id or (resident.unit_id if resident else None)
    else:
        key = inbound_key(call_id)
        call = session.scalar(select(CallRecord).where(CallRecord.key == key))
        ticket = session.scalar(select(Ticket).where(Ticket.intake_key == key))
        if call is None and ticket is None:
            raise NotFound(f"no call {call_id}")
        caller = call.caller if call else ticket.caller_number if ticket else None
        residents = _callers(session, caller)
        resident = None
        if ticket is not None and ticket.resident_id is not None:
            resident = session.get(Resident, ticket.resident_id)
        elif len(residents) == 1:
            resident = residents[0]
        unit_id = ticket.unit_id if ticket and ticket.unit_id else None
        if unit_id is None and resident is not None:
            unit_id = resident.unit_id
    unit = session.get(Unit, unit_id) if unit_id else None
    if resident is not None and resident not in residents:
        residents.insert(0, resident)
    open_tickets, arrears, followups = [], None, []
    if unit is not None:
        found = session.scalars(
            select(Ticket)
            .where(Ticket.unit_id == unit.id, Ticket.state != "closed")
            .order_by(Ticket.received_at.desc(), Ticket.id.desc())
            .limit(OPEN_TICKETS)
        )
        open_tickets = [OpenTicket(t, ticket_clocks(rules, t, now)) for t in found]
        arrears = session.scalar(
            select(ArrearsAccount).where(
                ArrearsAccount.unit_id == unit.id, ArrearsAccount.paid_at.is_(None)
            )
        )
        followups = list(
            session.scalars(
                select(FollowUp)
                .options(selectinload(FollowUp.ticket))
                .join(Ticket, Ticket.id == FollowUp.ticket_id)
                .where(Ticket.unit_id == unit.id, FollowUp.done_at.is_not(None))
                .order_by(FollowUp.done_at.desc(), FollowUp.id.desc())
                .limit(LAST_FOLLOWUPS)
            )
        )
    recordings: list[Recording] = []
    if ticket is not None or call is not None:
        mine = [Recording.ticket_id == ticket.id] if ticket else []
        mine += [Recording.call_id == call.id] if call else []
        recordings = list(
            session.scalars(select(Recording).where(or_(*mine)).order_by(Recording.id))
        )
    return ScreenPop(
        call_id=call_id,
        direction="out" if dialer else "in",
        call=call,
        caller=caller,
        residents=residents,
        resident=resident,
        unit=unit,
        ticket=ticket,
        open_tickets=open_tickets,
        arrears=arrears,
        followups=followups,
        lead=lead,
        campaign=campaign,
        recordings=recordings,
    )


def is_restricted(ticket: Ticket) -> bool:
    """Complaints are confidential (service rules §3): their text, complainant and recordings
    are a supervisor's, except on the call that is making the complaint."""
    return ticket.kind == Kind.COMPLAINT.value
