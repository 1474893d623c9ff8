"""Follow-up calls (回访): what is owed, and what a resident's answers set off (§4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from . import outbox
from .models import FOLLOWUP_OWED, FollowUp, Lead, Ticket
from .rules import Rules
from .tickets import Intake, move_ticket, open_ticket
from .vocabulary import DomainError, Kind, LeadState, NotFound, WebhookEventType
from .webhook_payloads import followup_recorded


@dataclass(frozen=True)
class Answers:
    satisfaction: int
    quality: int | None = None  # 1 the work was done properly, 2 it was not
    effect: str | None = None
    comment: str | None = None
    comment_recording: str | None = None


def pending_followups(session: Session) -> list[FollowUp]:
    query = (
        select(FollowUp)
        .where(FOLLOWUP_OWED)
        .options(selectinload(FollowUp.ticket).selectinload(Ticket.unit))
        .order_by(FollowUp.due_at, FollowUp.id)
    )
    return list(session.scalars(query))


def record_answers(
    session: Session, rules: Rules, followup_id: int, answers: Answers, at: datetime
) -> Ticket | None:
    """Store the answers; an unsatisfied resident reopens the matter as a complaint.

    Returns the complaint that now carries the matter, or None when the resident was satisfied.
    """
    followup = session.get(FollowUp, followup_id)
    if followup is None:
        raise NotFound(f"no follow-up {followup_id}")
    if followup.done_at is not None:
        raise DomainError(
            f"follow-up {followup_id} was already recorded at {rules.local_iso(followup.done_at)}"
        )
    if followup.dropped_at is not None:
        raise DomainError(
            f"follow-up {followup_id} is no longer owed: ticket {followup.ticket_id} was reopened "
            f"at {rules.local_iso(followup.dropped_at)} (its new resolution owes a new one)"
        )
    unsatisfied = rules.is_unsatisfied(answers.satisfaction)
    if answers.quality not in (None, 1, 2):
        raise DomainError(f"quality must be 1 (done properly) or 2 (not), not {answers.quality}")
    followup.done_at = at
    followup.satisfaction = answers.satisfaction
    followup.quality = answers.quality
    followup.effect = answers.effect
    followup.comment = answers.comment
    followup.comment_recording = answers.comment_recording
    # Made by a person (the manager's preview call) or by another campaign: no lead still owes it.
    session.execute(
        update(Lead)
        # not one in a call: the call's own outcome closes that lead
        .where(
            Lead.followup_id == followup_id, Lead.state.in_((LeadState.READY, LeadState.WAITING))
        )
        .values(state=LeadState.DONE)
    )
    if outbox.wants(session, WebhookEventType.FOLLOWUP_RECORDED):
        data = followup_recorded(
            rules,
            followup.id,
            followup.ticket_id,
            at,
            answers.satisfaction,
            answers.quality,
            answers.comment,
            unsatisfied,
        )
        outbox.emit(session, WebhookEventType.FOLLOWUP_RECORDED, at, data)
    if not unsatisfied:
        return None
    complaint = _complain(session, rules, followup, answers, at)
    if outbox.wants(session, WebhookEventType.FOLLOWUP_UNSATISFIED):
        data = {
            "followup_id": followup.id,
            "ticket_id": followup.ticket_id,
            "satisfaction": answers.satisfaction,
            "complaint_id": complaint.id,
            "reopened": complaint.id == followup.ticket_id,
        }
        outbox.emit(session, WebhookEventType.FOLLOWUP_UNSATISFIED, at, data)
    return complaint


def _complain(
    session: Session, rules: Rules, followup: FollowUp, answers: Answers, at: datetime
) -> Ticket:
    """§4: the complaint reopened, or a new one about the followed-up matter."""
    ticket = followup.ticket
    note = f"follow-up {followup.id}: satisfaction {answers.satisfaction}"
    if ticket.kind == Kind.COMPLAINT:
        return move_ticket(session, rules, ticket.id, "reopened", at, note=note)
    return open_ticket(
        session,
        rules,
        Intake(
            kind="complaint",
            category="service",
            received_at=at,
            unit=ticket.unit.code if ticket.unit else None,
            resident_id=ticket.resident_id,
            text=f"{note} on {ticket.kind} {ticket.id}"
            + (f": {answers.comment}" if answers.comment else ""),
            recording=answers.comment_recording,
            parent_id=ticket.id,
        ),
    )
