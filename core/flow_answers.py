"""What residents answer in the outbound call flows, landed where the office and the gate read it.

Each answer is kept on its lead (`Lead.result`); a lead is answered once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .arrears import record_reminder
from .followups import Answers, record_answers
from .models import ArrearsAccount, Lead, TicketEvent
from .outcomes import close_chain
from .rules import Rules
from .tickets import get_ticket
from .vocabulary import DomainError, LeadState

ARREARS_CHOICES = {1: "will_pay", 2: "disagrees", 3: "already_paid"}


def _lead(session: Session, lead_id: int, ref: str | None = None) -> Lead:
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise DomainError(f"no lead {lead_id}")
    if lead.result is not None:
        raise DomainError(f"lead {lead_id} was already answered")
    if ref is not None and getattr(lead, ref) is None:
        raise DomainError(f"lead {lead_id} has no {ref.removesuffix('_id')} to answer about")
    return lead


def _answered(lead: Lead, at: datetime, **answer: Any) -> None:
    lead.result = {**answer, "at": at.isoformat()}


def followup_answers(
    session: Session,
    rules: Rules,
    lead_id: int,
    satisfaction: int,
    quality: int | None,
    comment_recording: str | None,
    at: datetime,
) -> int | None:
    """§4 survey answers; an unsatisfied resident (≤ 2) reopens the matter as a complaint.
    Returns that complaint's id, or None."""
    lead = _lead(session, lead_id, "followup_id")
    assert lead.followup_id is not None  # checked by _lead
    answers = Answers(satisfaction, quality, comment_recording=comment_recording)
    complaint = record_answers(session, rules, lead.followup_id, answers, at)
    complaint_id = complaint.id if complaint else None
    _answered(
        lead,
        at,
        satisfaction=satisfaction,
        quality=quality,
        comment_recording=comment_recording,
        complaint_id=complaint_id,
    )
    return complaint_id


def arrears_answer(
    session: Session, rules: Rules, lead_id: int, choice: int, at: datetime
) -> ArrearsAccount:
    """1 will pay, 2 disagrees (an agent calls back), 3 already paid (the cashier checks)."""
    if choice not in ARREARS_CHOICES:
        raise DomainError(f"arrears choice must be 1, 2 or 3, not {choice}")
    lead = _lead(session, lead_id, "arrears_id")
    account = session.get(ArrearsAccount, lead.arrears_id)
    if account is None:
        raise DomainError(f"no arrears account {lead.arrears_id}")
    if choice == 3:
        account.cashier_check = True
    else:
        record_reminder(session, rules, account.id, at)
    if choice == 2:
        lead.flag = ARREARS_CHOICES[2]
    _answered(lead, at, choice=choice, meaning=ARREARS_CHOICES[choice])
    return account


def flagged_leads(session: Session, campaign_id: int | None = None) -> list[Lead]:
    """Leads a person must take up (a disputed arrears amount), oldest first."""
    query = select(Lead).where(Lead.flag.is_not(None)).order_by(Lead.id)
    if campaign_id is not None:
        query = query.where(Lead.campaign_id == campaign_id)
    return list(session.scalars(query))


def visitor_answer(session: Session, lead_id: int, admit: bool, at: datetime) -> None:
    lead = _lead(session, lead_id)
    _answered(lead, at, admit=admit)
    close_chain(session, lead.campaign_id)
    session.flush()


@dataclass(frozen=True)
class VisitorDecision:
    state: str  # pending, admit, refuse, unreachable
    resident_id: int | None = None
    at: datetime | None = None


def visitor_decision(session: Session, campaign_id: int) -> VisitorDecision:
    """What the gate is told: the answer as soon as a resident gave one."""
    leads = session.scalars(
        select(Lead).where(Lead.campaign_id == campaign_id).order_by(Lead.id)
    ).all()
    for lead in leads:
        if lead.result is not None and "admit" in lead.result:
            state = "admit" if lead.result["admit"] else "refuse"
            return VisitorDecision(
                state, lead.resident_id, datetime.fromisoformat(lead.result["at"])
            )
    if all(lead.state in (LeadState.DONE, LeadState.STOPPED) for lead in leads):
        return VisitorDecision("unreachable")
    return VisitorDecision("pending")


def appointment_answer(session: Session, lead_id: int, slot_index: int, at: datetime) -> datetime:
    """The resident picked slot `slot_index` (1-based, as keyed); noted on the ticket."""
    lead = _lead(session, lead_id, "ticket_id")
    slots = (lead.payload or {}).get("slots", [])
    if not 1 <= slot_index <= len(slots):
        raise DomainError(f"slot must be 1 to {len(slots)}, not {slot_index}")
    slot = slots[slot_index - 1]
    assert lead.ticket_id is not None  # checked by _lead
    ticket = get_ticket(session, lead.ticket_id)
    # A note, not a move: the ticket keeps its state.
    ticket.events.append(
        TicketEvent(
            from_state=ticket.state,
            to_state=ticket.state,
            at=at,
            note=f"home visit agreed for {slot} (lead {lead.id})",
        )
    )
    _answered(lead, at, slot=slot, slot_index=slot_index)
    session.flush()
    return datetime.fromisoformat(slot)


def notice_heard(session: Session, lead_id: int, at: datetime, repeats: int = 0) -> None:
    """The resident heard the notice to its end (`repeats` times more on pressing 1)."""
    lead = _lead(session, lead_id)
    _answered(lead, at, heard=True, repeats=repeats)
