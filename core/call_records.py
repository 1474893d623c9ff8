"""Looking up stored call records (the demo's live view and result table, the live stream's
screen pop of a call another instance handled)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import CallRecord, Lead, Phone, Resident, Ticket


def inbound_calls(session: Session) -> list[CallRecord]:
    """The residents' calls to the hotline, oldest first."""
    query = select(CallRecord).where(CallRecord.direction == "in").order_by(CallRecord.id)
    return list(session.scalars(query))


def call_record_id(session: Session, key: str) -> int | None:
    """The id of the call record stored under `key` (its call's), if it is stored yet."""
    return session.scalar(select(CallRecord.id).where(CallRecord.key == key))


@dataclass(frozen=True)
class CallFacts:
    """What a stored call says about who called and why: the screen pop of a call another
    service instance's flow (or dialer) handled."""

    direction: str
    unit: str | None
    resident_id: int | None
    resident_name: str | None
    ticket_id: int | None
    campaign_id: int | None
    lead_id: int | None


def call_facts(session: Session, key: str) -> CallFacts | None:
    """The call stored under ``key`` (a uniqueid, or the dialer's call id): its ticket's unit,
    its lead's resident, or the resident whose phone called (the first, as the flow picks)."""
    # An inbound call's record is keyed "in:<uniqueid>" (agi/flows/visit.py), a dialer call's
    # by its call id.
    call = session.scalar(select(CallRecord).where(CallRecord.key.in_((key, f"in:{key}"))))
    if call is None:
        return None
    ticket = session.get(Ticket, call.ticket_id) if call.ticket_id else None
    lead = session.get(Lead, call.lead_id) if call.lead_id else None
    resident: Resident | None = None
    if lead is not None and lead.resident_id is not None:
        resident = session.get(Resident, lead.resident_id)
    elif call.direction == "in" and call.caller:
        resident = session.scalar(
            select(Resident)
            .join(Phone)
            .where(Phone.number == call.caller)
            .order_by(Phone.position, Resident.id)
            .limit(1)
        )
    unit = ticket.unit.code if ticket is not None and ticket.unit else None
    if unit is None and resident is not None:
        unit = resident.unit.code
    return CallFacts(
        call.direction,
        unit,
        resident.id if resident else None,
        resident.name if resident else None,
        call.ticket_id,
        call.campaign_id,
        call.lead_id,
    )


def live_call_id(session: Session, record_id: int | None) -> str | None:
    """The id the live stream knows a stored call by: its key, an inbound call's without "in:"."""
    if record_id is None:
        return None
    key = session.scalar(select(CallRecord.key).where(CallRecord.id == record_id))
    return None if key is None else key.removeprefix("in:")
