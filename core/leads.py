"""Leads: who each campaign calls (generated idempotently), and claiming them for the dialer.

Visitor calls are chained leads: one lead per resident of the unit, in resident order; the first is
`ready`, the others `waiting`, and the next becomes ready only when the one before ends without
an answer (see `outcomes`). A resident's numbers are tried in order on the same lead.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from .arrears import due_reminders
from .calling_window import CallingWindow
from .campaigns import campaign_action
from .followups import pending_followups
from .models import CallRecord, Campaign, Lead, Resident, Ticket, Unit
from .residents import require_unit
from .retry import RetryPolicy
from .rules import Rules
from .vocabulary import (
    OPEN_LEAD_STATES,
    CampaignKind,
    CampaignState,
    DialMode,
    Disposition,
    DomainError,
    LeadState,
    NotFound,
    Role,
)

ABANDONED_HOLD = RetryPolicy().abandoned_hold
# Higher is dialled first.
CALLBACK_PRIORITY = 100  # an abandoned resident is called back before anyone else
VISITOR_PRIORITY = 50
OVERDUE_PRIORITY = 20
DEFAULT_PRIORITY = 10


@dataclass
class _Draft:
    resident: Resident
    number: str
    keys: tuple[Any, ...]  # a lead is not made when one of these is taken (`_taken_keys`)
    payload: dict[str, Any]
    next_attempt_at: datetime
    priority: int = DEFAULT_PRIORITY
    state: LeadState = LeadState.READY
    refs: dict[str, int | None] = field(default_factory=dict)  # ticket/followup/arrears ids


@dataclass(frozen=True)
class LeadClaim:
    """What the dialer needs to place one call."""

    lead_id: int
    call_id: str  # originate under this id; `record_attempt` and `release_stale` know it
    campaign_id: int
    kind: str
    mode: str
    number: str
    resident_id: int
    resident_name: str
    unit: str
    lang: str
    priority: int
    attempts: int
    payload: dict[str, Any]


def first_valid_number(resident: Resident, after: str | None = None) -> str | None:
    """The resident's first number not flagged invalid (after `after`, when given)."""
    numbers = [p.number for p in resident.phones if p.invalid_reason is None]
    if after in numbers:
        numbers = numbers[numbers.index(after) + 1 :]
    return numbers[0] if numbers else None


def _callable(residents: Iterable[Resident]) -> Iterator[tuple[Resident, str | None]]:
    """Each resident with the number to call, None for do-not-call or no valid number."""
    for r in residents:
        yield r, None if r.do_not_call else first_valid_number(r)


def _unit_residents(session: Session, unit_ids: Collection[int]) -> list[Resident]:
    return list(
        session.scalars(
            select(Resident)
            .where(Resident.unit_id.in_(unit_ids))
            .options(selectinload(Resident.phones), selectinload(Resident.unit))
            .order_by(Resident.unit_id, Resident.id)
        )
    )


def _ticket_resident(session: Session, ticket: Ticket) -> list[Resident]:
    """The resident who reported, else the unit's residents (the first reachable is called)."""
    if ticket.resident_id is not None:
        resident = session.get(Resident, ticket.resident_id)
        return [resident] if resident else []
    return _unit_residents(session, [ticket.unit_id]) if ticket.unit_id else []


def _first_reachable(residents: list[Resident]) -> tuple[Resident, str] | None:
    return next(((r, n) for r, n in _callable(residents) if n is not None), None)


def _followup_drafts(
    session: Session, rules: Rules, campaign: Campaign, at: datetime
) -> tuple[list[_Draft], int]:
    drafts, skipped = [], 0
    for f in pending_followups(session):
        if f.due_at > at:
            continue
        reachable = _first_reachable(_ticket_resident(session, f.ticket))
        if reachable is None:
            skipped += 1
            continue
        resident, number = reachable
        manager = f.assignee_role == Role.MANAGER
        payload = {
            "followup_id": f.id,
            "ticket_id": f.ticket_id,
            "ticket_kind": f.ticket.kind,
            "category": f.ticket.category,
            "assignee_role": f.assignee_role,
            # §4: the manager makes a major complaint's follow-up himself.
            "mode": DialMode.PREVIEW.value if manager else campaign.mode,
        }
        overdue = rules.is_overdue(f.due_at, None, at)
        drafts.append(
            _Draft(
                resident,
                number,
                (f.id,),
                payload,
                f.due_at,
                OVERDUE_PRIORITY if overdue else DEFAULT_PRIORITY,
                refs={"followup_id": f.id, "ticket_id": f.ticket_id},
            )
        )
    return drafts, skipped


def _arrears_drafts(
    session: Session, rules: Rules, campaign: Campaign, at: datetime
) -> tuple[list[_Draft], int]:
    drafts, skipped = [], 0
    for due in due_reminders(session, rules, at):
        account = due.account
        reachable = _first_reachable(_unit_residents(session, [account.unit_id]))
        if reachable is None:
            skipped += 1
            continue
        resident, number = reachable
        stage = due.reminder.stage.value
        payload = {
            "account_id": account.id,
            "amount": str(account.amount),
            "months": account.months,
            "stage": stage,
        }
        drafts.append(
            _Draft(
                resident,
                number,
                (account.id, (account.id, stage)),
                payload,
                due.reminder.due_at,
                refs={"arrears_id": account.id},
            )
        )
    return drafts, skipped


def _each_resident(
    residents: list[Resident], payload: Callable[[Resident], dict[str, Any]], at: datetime
) -> tuple[list[_Draft], int]:
    drafts = [_Draft(r, n, (r.id,), payload(r), at) for r, n in _callable(residents) if n]
    return drafts, len(residents) - len(drafts)


def _notice_drafts(
    session: Session, rules: Rules, campaign: Campaign, at: datetime
) -> tuple[list[_Draft], int]:
    params = campaign.params or {}
    prefixes = [Unit.code.startswith(f"{b}-") for b in params["buildings"]]
    unit_ids = session.scalars(
        select(Unit.id).where(or_(Unit.code.in_(params["units"]), *prefixes))
    ).all()
    return _each_resident(
        _unit_residents(session, unit_ids),
        lambda r: {"unit": r.unit.code, "message": params["message"]},
        at,
    )


def _visitor_drafts(
    session: Session, rules: Rules, campaign: Campaign, at: datetime
) -> tuple[list[_Draft], int]:
    params = campaign.params or {}
    # Checked when the campaign was made; a unit renamed or removed since is an error, not a
    # campaign that quietly calls nobody.
    unit = require_unit(session, params["unit"])
    drafts, skipped = _each_resident(
        _unit_residents(session, [unit.id]),
        lambda r: {
            "unit": params["unit"],
            "visitor": params["visitor"],
            "recording": params.get("recording"),
        },
        at,
    )
    for order, draft in enumerate(drafts):
        draft.priority = VISITOR_PRIORITY
        draft.state = LeadState.READY if order == 0 else LeadState.WAITING
        draft.payload["order"] = order
    return drafts, skipped


def _appointment_drafts(
    session: Session, rules: Rules, campaign: Campaign, at: datetime
) -> tuple[list[_Draft], int]:
    params = campaign.params or {}
    ticket = session.get(Ticket, params["ticket_id"])
    if ticket is None:
        raise DomainError(f"no ticket {params['ticket_id']}")
    reachable = _first_reachable(_ticket_resident(session, ticket))
    if reachable is None:
        return [], 1
    resident, number = reachable
    payload = {"ticket_id": ticket.id, "slots": params["slots"]}
    refs: dict[str, int | None] = {"ticket_id": ticket.id}
    return [_Draft(resident, number, (ticket.id,), payload, at, refs=refs)], 0


_DRAFTS: dict[
    CampaignKind, Callable[[Session, Rules, Campaign, datetime], tuple[list[_Draft], int]]
] = {
    CampaignKind.FOLLOWUP: _followup_drafts,
    CampaignKind.ARREARS: _arrears_drafts,
    CampaignKind.NOTICE: _notice_drafts,
    CampaignKind.VISITOR: _visitor_drafts,
    CampaignKind.APPOINTMENT: _appointment_drafts,
}


def _taken_keys(session: Session, campaign: Campaign) -> set[Any]:
    """Keys that already have a lead: an open one in any campaign, or any in this one.

    A follow-up or an arrears account is called by one campaign at a time; a notice or visitor
    campaign calls each resident once; an appointment its ticket once; an arrears account once
    per reminder stage."""
    kind = CampaignKind(campaign.kind)
    same = Lead.campaign_id == campaign.id
    if kind is CampaignKind.FOLLOWUP:
        rows = session.execute(
            select(Lead.followup_id).where(
                Lead.followup_id.is_not(None), or_(same, Lead.state.in_(OPEN_LEAD_STATES))
            )
        )
        return {r[0] for r in rows}
    if kind is CampaignKind.ARREARS:
        leads = session.scalars(
            select(Lead).where(
                Lead.arrears_id.is_not(None), or_(same, Lead.state.in_(OPEN_LEAD_STATES))
            )
        )
        taken: set[Any] = set()
        for lead in leads:
            # An open lead holds its account whatever the stage; a closed one its stage.
            if lead.state in OPEN_LEAD_STATES:
                taken.add(lead.arrears_id)
            if lead.campaign_id == campaign.id:
                taken.add((lead.arrears_id, (lead.payload or {}).get("stage")))
        return taken
    column = Lead.ticket_id if kind is CampaignKind.APPOINTMENT else Lead.resident_id
    return {r[0] for r in session.execute(select(column).where(same))}


def generate_leads(session: Session, rules: Rules, campaign: Campaign, at: datetime) -> int:
    """Add the leads the campaign's kind calls for at `at`; returns how many are new.

    Run it as often as you like: nothing already covered gets a second lead. Residents who are
    do-not-call or have no valid number are never leads; their count is kept on the campaign."""
    drafts, skipped = _DRAFTS[CampaignKind(campaign.kind)](session, rules, campaign, at)
    taken = _taken_keys(session, campaign)
    if campaign.kind == CampaignKind.VISITOR and taken:
        return 0  # the chain is built once
    new = [d for d in drafts if taken.isdisjoint(d.keys)]
    for d in new:
        session.add(
            Lead(
                campaign_id=campaign.id,
                resident_id=d.resident.id,
                unit_id=d.resident.unit_id,
                number=d.number,
                priority=d.priority,
                state=d.state.value,
                attempts=0,
                attempts_today=0,
                next_attempt_at=d.next_attempt_at,
                payload=d.payload,
                preview=d.payload.get("mode", campaign.mode) == DialMode.PREVIEW,
                **d.refs,
            )
        )
    campaign.skipped = skipped
    session.flush()
    return len(new)


def act_on_campaign(
    session: Session, rules: Rules, campaign_id: int, action: str, at: datetime
) -> tuple[Campaign, int | None]:
    """Start, pause, resume or stop a campaign; starting makes the leads known now (a running
    service tops them up as more fall due), and their number is returned."""
    campaign = campaign_action(session, campaign_id, action, at)
    made = generate_leads(session, rules, campaign, at) if action == "start" else None
    return campaign, made


def lock_resident(session: Session, resident_id: int) -> bool:
    """PostgreSQL: hold the resident's row so no other dialer claims a lead for them meanwhile."""
    locked = session.scalar(
        select(Resident.id).where(Resident.id == resident_id).with_for_update(skip_locked=True)
    )
    return locked is not None


def in_live_call(session: Session, resident_id: int) -> bool:
    return bool(
        session.scalar(
            select(exists().where(Lead.resident_id == resident_id, Lead.state == LeadState.CALLING))
        )
    )


def claim_leads(
    session: Session,
    campaign_id: int,
    limit: int,
    at: datetime,
    worker: str,
    window: CallingWindow,
    abandoned_hold: timedelta = ABANDONED_HOLD,
) -> list[LeadClaim]:
    """Take up to `limit` leads to dial now, best first, and mark them `calling`.

    Only a running campaign, inside the calling window (a visitor at the gate is the exception:
    the resident is phoned whenever the visitor comes), never a do-not-call resident, never a
    resident already in a live call, never a resident whose call the dialer abandoned within
    `abandoned_hold` (a person calls them back: the callback is a preview lead). On PostgreSQL
    the rows are taken with SKIP LOCKED, so dialers sharing the database never claim the same
    lead or two leads of one resident."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise DomainError(f"no campaign {campaign_id}")
    if campaign.state != CampaignState.RUNNING or limit <= 0:
        return []
    if campaign.kind != CampaignKind.VISITOR and not window.contains(at):
        return []
    postgres = session.get_bind().dialect.name == "postgresql"
    live = aliased(Lead)
    query = (
        select(Lead)
        .join(Resident, Resident.id == Lead.resident_id)
        .where(
            Lead.campaign_id == campaign_id,
            Lead.state == LeadState.READY,
            Lead.next_attempt_at <= at,
            Lead.preview.is_(False),  # a person calls those
            Resident.do_not_call.is_(False),
            ~exists().where(live.resident_id == Lead.resident_id, live.state == LeadState.CALLING),
            ~_abandoned_since(at - abandoned_hold),
        )
        .order_by(Lead.priority.desc(), Lead.next_attempt_at, Lead.id)
        # No more than asked for: on PostgreSQL every row fetched stays locked until commit.
        .limit(limit)
    )
    if postgres:
        query = query.with_for_update(skip_locked=True, of=Lead)
    local_day = at.astimezone(window.tz).date()
    claims: list[LeadClaim] = []
    residents: set[int] = set()
    for lead in session.scalars(query).all():
        rid = lead.resident_id
        if rid is None or rid in residents:
            continue
        if postgres and (not lock_resident(session, rid) or in_live_call(session, rid)):
            continue
        resident = load_resident(session, rid)
        if not refresh_number(lead, resident):
            continue
        residents.add(rid)
        start_attempt(lead, local_day, worker)
        claims.append(lead_claim(campaign, lead, resident))
    session.flush()
    return claims


def _abandoned_since(since: datetime) -> ColumnElement[bool]:
    """The lead's resident had a call abandoned (by any campaign) since `since`: the recent
    abandoned calls are few and indexed (ix_calls_disposition_ended), so they are read once."""
    other = aliased(Lead)
    held = (
        select(other.resident_id)
        .join(CallRecord, CallRecord.lead_id == other.id)
        .where(
            CallRecord.disposition == Disposition.ABANDONED,
            CallRecord.ended_at >= since,
            other.resident_id.is_not(None),  # a NULL would make NOT IN exclude every lead
        )
    )
    return Lead.resident_id.in_(held)


def load_resident(session: Session, resident_id: int) -> Resident:
    """A lead's resident with the phones and unit a claim reads."""
    resident = session.get(
        Resident, resident_id, options=[selectinload(Resident.phones), selectinload(Resident.unit)]
    )
    assert resident is not None  # a lead's foreign key
    return resident


def refresh_number(lead: Lead, resident: Resident) -> bool:
    """The number may have been flagged by another campaign's call since the lead was made:
    move to the resident's next valid one, or stop the lead (False) when none is left."""
    if lead.number not in {p.number for p in resident.phones if p.invalid_reason is None}:
        lead.number = first_valid_number(resident)
        if lead.number is None:
            lead.state = LeadState.STOPPED.value
            return False
    return True


def start_attempt(lead: Lead, local_day: date, caller: str) -> None:
    """A call to the lead is being placed (by a dialer, or by a person): count it."""
    if lead.attempts_day != local_day:
        lead.attempts_day, lead.attempts_today = local_day, 0
    lead.attempts += 1
    lead.attempts_today += 1
    lead.state = LeadState.CALLING.value
    lead.claimed_by = caller
    lead.call_id = f"lead-{lead.id}-{lead.attempts}"


def give_back_attempt(lead: Lead) -> None:
    """The call never reached the resident (a preview call's agent did not answer): the lead is
    ready again and the attempt is not counted."""
    lead.attempts = max(lead.attempts - 1, 0)
    lead.attempts_today = max(lead.attempts_today - 1, 0)
    lead.state = LeadState.READY.value
    lead.claimed_by = None


def lead_claim(campaign: Campaign, lead: Lead, resident: Resident) -> LeadClaim:
    assert lead.number and lead.call_id  # set by start_attempt
    payload = lead.payload or {}
    return LeadClaim(
        lead_id=lead.id,
        call_id=lead.call_id,
        campaign_id=campaign.id,
        kind=campaign.kind,
        mode=payload.get("mode", campaign.mode),
        number=lead.number,
        resident_id=resident.id,
        resident_name=resident.name,
        unit=resident.unit.code,
        lang=resident.lang,
        priority=lead.priority,
        attempts=lead.attempts,
        payload=payload,
    )


def release_stale(
    session: Session, worker: str, at: datetime, live_call_ids: Collection[str] = ()
) -> list[int]:
    """After a dialer restart or AMI reconnect: its claimed leads whose call the PBX no longer
    has go back to `ready`, due now. The attempt stays counted. Returns the released lead ids."""
    stale = session.scalars(
        select(Lead).where(Lead.state == LeadState.CALLING, Lead.claimed_by == worker)
    ).all()
    released = []
    for lead in stale:
        if lead.call_id in live_call_ids:
            continue
        lead.state = LeadState.READY.value
        lead.claimed_by = None
        lead.next_attempt_at = at
        released.append(lead.id)
    session.flush()
    return released


def leads_to_dial_now(session: Session, at: datetime) -> int:
    """Leads being called, or ready and due at `at` (retries hours away are not)."""
    due = or_(Lead.next_attempt_at.is_(None), Lead.next_attempt_at <= at)
    ready = and_(Lead.state == LeadState.READY, due)
    query = (
        select(func.count()).select_from(Lead).where(or_(Lead.state == LeadState.CALLING, ready))
    )
    return session.scalar(query) or 0


def schedule_callback(session: Session, lead_id: int, at: datetime, now: datetime, by: str) -> Lead:
    """The resident asked to be called back at ``at``: the lead is dialled again then (its
    attempts still count against the retry limits)."""
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise NotFound(f"no lead {lead_id}")
    if at <= now:
        raise DomainError("a call-back time must be in the future")
    if lead.state == LeadState.CALLING:
        raise DomainError(f"lead {lead_id} is being called now: set the call-back after the call")
    if lead.state == LeadState.STOPPED:
        raise DomainError(f"lead {lead_id} is stopped")
    lead.state = LeadState.READY.value
    lead.next_attempt_at = at
    lead.priority = max(lead.priority, CALLBACK_PRIORITY)
    lead.result = (lead.result or {}) | {"callback_by": by}
    session.flush()
    return lead
