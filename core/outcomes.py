"""The outcome of each outbound call attempt: a call record, and what happens to its lead next."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from . import outbox
from .arrears import reminder_reached
from .leads import CALLBACK_PRIORITY, LeadClaim, first_valid_number, start_attempt
from .models import CallRecord, Campaign, Lead, Phone, Resident
from .retry import NextStep, RetryPolicy, StepKind, plan_retry
from .rules import Rules
from .vocabulary import (
    CampaignKind,
    CampaignState,
    Disposition,
    DomainError,
    LeadState,
    NotFound,
    WebhookEventType,
    parse_choice,
)
from .webhook_payloads import CALL_FIELDS, call_ended, campaign_attempt, fields_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AttemptOutcome:
    call_id: str  # the claim's call id: recording the same outcome twice changes nothing
    disposition: str
    queued_at: datetime
    ended_at: datetime
    hangup_cause: int | None = None
    dialled_at: datetime | None = None
    answered_at: datetime | None = None
    connected_at: datetime | None = None  # reached an agent
    agent: str | None = None
    keypad: dict[str, Any] = field(default_factory=dict)
    recording: str | None = None
    number: str | None = None
    channel: str | None = None
    uniqueid: str | None = None
    # The call ended while the dialer's AMI link was down: `disposition` is a guess (failed).
    lost: bool = False


def record_attempt(
    session: Session,
    rules: Rules,
    retry: RetryPolicy,
    lead_id: int,
    outcome: AttemptOutcome,
    at: datetime,
) -> NextStep:
    known = session.scalar(select(CallRecord).where(CallRecord.key == outcome.call_id))
    if known is not None and known.ended_at is not None:
        return NextStep.parse(known.next_step or "", known.next_step_at)
    disposition = parse_choice(Disposition, outcome.disposition, "disposition")
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise DomainError(f"no lead {lead_id}")
    if outcome.lost and _flow_answered(lead, outcome):
        # AMI missed the call's end, but its call flow stored the resident's answers.
        disposition = Disposition.ANSWERED
    campaign = session.get(Campaign, lead.campaign_id)
    assert campaign is not None  # a foreign key
    if lead.state == LeadState.CALLING and lead.call_id not in (None, outcome.call_id):
        step = NextStep(StepKind.IGNORED, None, f"lead now on call {lead.call_id}")
    elif lead.state in (LeadState.DONE, LeadState.STOPPED):
        step = NextStep(StepKind.IGNORED, None, f"lead already {lead.state}")
    else:
        lead.last_disposition = disposition.value
        lead.claimed_by = None
        step = _next_step(session, rules, retry, campaign, lead, disposition, outcome, at)
    record = known or CallRecord(key=outcome.call_id, direction="out")  # written ahead, or not
    session.add(record)
    _set(
        record,
        dict(
            callee=outcome.number or lead.number,
            channel=outcome.channel,
            uniqueid=outcome.uniqueid,
            arrived_at=outcome.queued_at,
            dialled_at=outcome.dialled_at,
            answered_at=outcome.answered_at,
            connected_at=outcome.connected_at,
            ended_at=outcome.ended_at,
            disposition=disposition.value,
            hangup_cause=outcome.hangup_cause,
            # The call flow kept its path and keys on the lead while the call was up.
            keypad=outcome.keypad or (lead.result or {}).get("keypad"),
            path=">".join((lead.result or {}).get("path", [])) or None,
            recording=outcome.recording,
            agent=outcome.agent,
            ticket_id=lead.ticket_id,
            campaign_id=campaign.id,
            lead_id=lead.id,
            next_step=step.text,
            next_step_at=step.at,
        ),
    )
    session.flush()
    _emit_ended(session, rules, record, lead, step)
    return step


def _emit_ended(
    session: Session, rules: Rules, record: CallRecord, lead: Lead, step: NextStep
) -> None:
    """The webhook events of an attempt's end, in its transaction."""
    assert record.ended_at is not None  # just set from the outcome
    call = fields_of(record, CALL_FIELDS)
    if outbox.wants(session, WebhookEventType.CALL_ENDED):
        outbox.emit(session, WebhookEventType.CALL_ENDED, record.ended_at, call_ended(rules, call))
    if outbox.wants(session, WebhookEventType.CAMPAIGN_ATTEMPT):
        data = campaign_attempt(
            rules, lead.campaign_id, lead.id, call, lead.attempts, step.text, step.at
        )
        outbox.emit(session, WebhookEventType.CAMPAIGN_ATTEMPT, record.ended_at, data)


def _set(record: CallRecord, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(record, name, value)


def open_attempts(
    session: Session, claims: list[LeadClaim], at: datetime, instance_id: str | None = None
) -> None:
    """Each claimed lead's attempt record, written before its Originate is sent (in the claim's
    transaction): an attempt in the air when the service dies is known at the next start, and
    by its `instance_id` another live instance's attempts are not."""
    session.add_all(
        CallRecord(
            key=c.call_id,
            direction="out",
            callee=c.number,
            arrived_at=at,
            campaign_id=c.campaign_id,
            lead_id=c.lead_id,
            instance_id=instance_id,
        )
        for c in claims
    )


@dataclass(frozen=True)
class AttemptInFlight:
    """An attempt a dialer placed and has not settled: what following it again takes."""

    call_id: str
    lead_id: int
    campaign_id: int
    mode: str
    number: str | None
    queued_at: datetime | None


def attempts_in_flight(
    session: Session, worker: str, call_ids: Collection[str]
) -> list[AttemptInFlight]:
    """Of ``call_ids`` (read off the PBX's channels), the campaign attempts ``worker`` claimed
    and has not settled: a restarted dialer follows them again instead of settling them."""
    if not call_ids:
        return []
    rows = session.execute(
        select(
            Lead.call_id,
            Lead.id,
            Lead.campaign_id,
            Campaign.mode,
            Lead.number,
            CallRecord.arrived_at,
        )
        .join(Campaign, Campaign.id == Lead.campaign_id)
        .outerjoin(CallRecord, CallRecord.key == Lead.call_id)
        .where(
            Lead.state == LeadState.CALLING,
            Lead.claimed_by == worker,
            Lead.call_id.in_(call_ids),
            Lead.preview.is_(False),  # a preview call answers its agent's request (not followed)
        )
    ).all()
    return [
        AttemptInFlight(call_id, lead_id, campaign_id, mode, number, queued_at)
        for call_id, lead_id, campaign_id, mode, number, queued_at in rows
        if call_id is not None  # matched by `in_`: never None
    ]


def settle_in_the_air(
    session: Session,
    rules: Rules,
    retry: RetryPolicy,
    worker: str,
    at: datetime,
    live_call_ids: Collection[str] = (),
) -> list[int]:
    """A dialer's claimed leads whose call nobody follows any more (the process that placed it
    died): the attempt ends `interrupted` and the lead waits the retry rule's interval instead of
    being dialled again at once. Returns the lead ids."""
    stale = session.execute(
        select(Lead.id, Lead.call_id, CallRecord.arrived_at)
        .outerjoin(CallRecord, CallRecord.key == Lead.call_id)
        .where(Lead.state == LeadState.CALLING, Lead.claimed_by == worker)
    ).all()
    settled = []
    for lead_id, call_id, queued_at in stale:
        if call_id is None or call_id in live_call_ids:
            continue
        outcome = AttemptOutcome(
            call_id, Disposition.INTERRUPTED.value, queued_at=queued_at or at, ended_at=at
        )
        record_attempt(session, rules, retry, lead_id, outcome, at)
        settled.append(lead_id)
    if settled:
        log.warning("%d outbound attempt(s) left in the air by a stop: interrupted", len(settled))
    return settled


def record_call_by_hand(
    session: Session,
    rules: Rules,
    retry: RetryPolicy,
    lead_id: int,
    disposition: str,
    at: datetime,
    caller: str,
) -> NextStep:
    """A person called the lead from their own phone (preview): count the attempt as a dialer
    would, then record its outcome with the same rules."""
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise DomainError(f"no lead {lead_id}")
    if lead.state != LeadState.READY:
        raise DomainError(f"lead {lead_id} is {lead.state}, not ready to be called")
    start_attempt(lead, at.astimezone(rules.tz).date(), caller)
    assert lead.call_id is not None  # set by start_attempt
    answered = at if disposition in (Disposition.ANSWERED, Disposition.ABANDONED) else None
    outcome = AttemptOutcome(
        call_id=lead.call_id,
        disposition=disposition,
        queued_at=at,
        dialled_at=at,
        answered_at=answered,
        connected_at=answered,
        ended_at=at,
        agent=caller,
        number=lead.number,
    )
    return record_attempt(session, rules, retry, lead_id, outcome, at)


def _flow_answered(lead: Lead, outcome: AttemptOutcome) -> bool:
    """The lead's call flow answers (`flow_answers`) were given during this attempt."""
    answered_at = (lead.result or {}).get("at")
    return answered_at is not None and datetime.fromisoformat(answered_at) >= outcome.queued_at


def _next_step(
    session: Session,
    rules: Rules,
    retry: RetryPolicy,
    campaign: Campaign,
    lead: Lead,
    disposition: Disposition,
    outcome: AttemptOutcome,
    at: datetime,
) -> NextStep:
    if disposition is Disposition.ANSWERED:
        lead.state = LeadState.DONE.value
        if campaign.kind == CampaignKind.ARREARS and lead.arrears_id is not None:
            reached = outcome.answered_at or at
            reminder_reached(session, rules, lead.arrears_id, outcome.queued_at, reached)
        if campaign.kind == CampaignKind.VISITOR:
            close_chain(session, campaign.id)
        return NextStep(StepKind.DONE)
    if disposition is Disposition.ABANDONED:
        lead.state = LeadState.DONE.value
        callback = _callback(lead, at)
        session.add(callback)
        session.flush()
        return NextStep(StepKind.CALLBACK, at, f"lead {callback.id}")
    if disposition is Disposition.UNALLOCATED:
        return _flag_number(session, campaign, lead, outcome, at)
    if campaign.kind == CampaignKind.VISITOR:
        # The visitor waits at the gate: no retry later, the unit's next resident now.
        return _stop(session, campaign, lead, "no one answered", at)
    step = plan_retry(retry, disposition, lead.attempts, lead.attempts_today, at, rules.tz)
    if step.kind is StepKind.STOPPED:
        return _stop(session, campaign, lead, step.detail or "", at)
    if campaign.state == CampaignState.STOPPED:
        return _stop(session, campaign, lead, "campaign stopped", at)
    lead.state = LeadState.READY.value
    lead.next_attempt_at = step.at
    return step


def _callback(lead: Lead, at: datetime) -> Lead:
    """A preview lead: a person calls the abandoned resident back; the dialer does not."""
    return Lead(
        campaign_id=lead.campaign_id,
        resident_id=lead.resident_id,
        unit_id=lead.unit_id,
        number=lead.number,
        priority=CALLBACK_PRIORITY,
        state=LeadState.READY.value,
        attempts=0,
        attempts_today=0,
        next_attempt_at=at,
        ticket_id=lead.ticket_id,
        followup_id=lead.followup_id,
        arrears_id=lead.arrears_id,
        payload={**(lead.payload or {}), "callback_of": lead.id},
        preview=True,
    )


def _flag_number(
    session: Session, campaign: Campaign, lead: Lead, outcome: AttemptOutcome, at: datetime
) -> NextStep:
    """An unallocated number is flagged wherever it is listed, and never dialled again."""
    number = outcome.number or lead.number
    cause = f" (cause {outcome.hangup_cause})" if outcome.hangup_cause is not None else ""
    session.execute(
        update(Phone)
        .where(Phone.number == number, Phone.invalid_reason.is_(None))
        .values(invalid_reason=f"unallocated{cause}")
        .execution_options(synchronize_session="fetch")
    )
    resident = session.get(Resident, lead.resident_id, options=[selectinload(Resident.phones)])
    following = first_valid_number(resident) if resident else None
    if following is None:
        return _stop(session, campaign, lead, f"no valid number after {number}", at)
    lead.number = following
    lead.state = LeadState.READY.value
    lead.next_attempt_at = at
    return NextStep(StepKind.NEXT_NUMBER, at, following)


def _stop(session: Session, campaign: Campaign, lead: Lead, why: str, at: datetime) -> NextStep:
    lead.state = LeadState.STOPPED.value
    if campaign.kind == CampaignKind.VISITOR and campaign.state != CampaignState.STOPPED:
        following = session.scalar(
            select(Lead)
            .where(Lead.campaign_id == campaign.id, Lead.state == LeadState.WAITING)
            .order_by(Lead.id)
            .limit(1)
        )
        if following is not None:
            following.state = LeadState.READY.value
            following.next_attempt_at = at
            return NextStep(StepKind.NEXT_RESIDENT, at, f"lead {following.id}")
    return NextStep(StepKind.STOPPED, None, why)


def close_chain(session: Session, campaign_id: int) -> None:
    """A visitor call was answered: the unit's other residents are not called."""
    session.execute(
        update(Lead)
        .where(Lead.campaign_id == campaign_id, Lead.state == LeadState.WAITING)
        .values(state=LeadState.STOPPED.value)
        .execution_options(synchronize_session="fetch")
    )


def get_call(session: Session, call_id: int) -> CallRecord:
    record = session.get(CallRecord, call_id)
    if record is None:
        raise NotFound(f"no call {call_id}")
    return record


def list_calls(
    session: Session, campaign_id: int | None = None, limit: int = 500, before: int | None = None
) -> list[CallRecord]:
    """Newest first; one campaign's attempts when `campaign_id` is given; ``before``: only calls
    with a smaller id (the API's cursor)."""
    query = select(CallRecord).order_by(CallRecord.id.desc()).limit(limit)
    if before is not None:
        query = query.where(CallRecord.id < before)
    if campaign_id is not None:
        query = query.where(CallRecord.campaign_id == campaign_id)
    return list(session.scalars(query))
