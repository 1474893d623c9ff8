"""Preview leads called agent first: an agent asks for a lead's call (`hotline campaign dial`),
a running dialer claims the request, rings the agent's phone, then the resident.

A request refused here changes nothing. A claimed one becomes the lead's attempt
(`start_attempt`); when the agent does not answer, the attempt is given back, since the resident
was never rung. Requests are never placed again by themselves: the agent asks anew.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .calling_window import CallingWindow
from .campaigns import get_campaign
from .leads import (
    LeadClaim,
    give_back_attempt,
    in_live_call,
    lead_claim,
    load_resident,
    lock_resident,
    refresh_number,
    start_attempt,
)
from .models import Campaign, DialRequest, Lead, Resident
from .vocabulary import (
    CampaignKind,
    DomainError,
    LeadState,
    NotFound,
    checked_extension,
    parse_choice,
)

AGENT_MISSED_TEXT = "agent did not answer"


class DialRequestState(StrEnum):
    PENDING = "pending"
    PLACING = "placing"  # claimed by a dialer: the agent's phone is ringing, or the call is up
    DONE = "done"  # the resident was rung; `detail` is the disposition
    AGENT_MISSED = "agent_missed"  # the agent did not answer: the lead is as it was
    REFUSED = "refused"  # not callable any more when a dialer took it; `detail` says why
    LOST = "lost"  # the dialer restarted with the call in flight


OPEN_REQUEST_STATES = (DialRequestState.PENDING, DialRequestState.PLACING)


@dataclass(frozen=True)
class DialClaim:
    """What the dialer needs to place one agent-first call."""

    request_id: int
    agent: str
    requested_at: datetime
    lead: LeadClaim


def _why_not(
    session: Session, lead: Lead, resident: Resident, at: datetime, window: CallingWindow
) -> str | None:
    """Why the lead may not be called now, or None."""
    if not lead.preview:
        return f"lead {lead.id} is not a preview lead: the dialer places it"
    if lead.state != LeadState.READY:
        return f"lead {lead.id} is {lead.state}, not ready to be called"
    if resident.do_not_call:
        return f"{resident.name} (lead {lead.id}) is do-not-call"
    campaign = session.get(Campaign, lead.campaign_id)
    assert campaign is not None  # a foreign key
    # As for dialled leads: a visitor at the gate is the one call made at any hour.
    if campaign.kind != CampaignKind.VISITOR and not window.contains(at):
        return f"outside the calling window {window.start:%H:%M}–{window.end:%H:%M}"
    if in_live_call(session, resident.id):
        return f"{resident.name} (lead {lead.id}) is already in a call"
    return None


def open_request(session: Session, lead_id: int) -> DialRequest | None:
    return session.scalar(
        select(DialRequest).where(
            DialRequest.lead_id == lead_id, DialRequest.state.in_(OPEN_REQUEST_STATES)
        )
    )


def campaign_leads(
    session: Session, campaign_id: int, state: str | None = None
) -> list[tuple[Lead, DialRequest | None]]:
    """A campaign's leads best first, each with its open call request: what a preview caller
    works through, and what needs a person."""
    get_campaign(session, campaign_id)
    query = (
        select(Lead)
        .options(selectinload(Lead.resident))
        .where(Lead.campaign_id == campaign_id)
        .order_by(Lead.priority.desc(), Lead.next_attempt_at, Lead.id)
    )
    if state:
        query = query.where(Lead.state == parse_choice(LeadState, state, "lead state"))
    requests = {
        r.lead_id: r
        for r in session.scalars(
            select(DialRequest)
            .join(Lead, Lead.id == DialRequest.lead_id)
            .where(Lead.campaign_id == campaign_id, DialRequest.state.in_(OPEN_REQUEST_STATES))
        )
    }
    return [(lead, requests.get(lead.id)) for lead in session.scalars(query)]


def request_dial(
    session: Session, lead_id: int, agent: str, at: datetime, window: CallingWindow
) -> DialRequest:
    """Ask the running service to call the lead for `agent`; DomainError (and nothing
    changed) when it may not be called now."""
    checked_extension(agent)  # it goes into the channel the dialer rings
    # Locked on PostgreSQL, so two agents asking at once get one request between them.
    lead = session.get(Lead, lead_id, with_for_update=True)
    if lead is None:
        raise NotFound(f"no lead {lead_id}")
    pending = open_request(session, lead_id)
    if pending is not None:
        raise DomainError(
            f"lead {lead_id} already has call request {pending.id} ({pending.state}, "
            f"agent {pending.agent})"
        )
    # One call at a time on an agent's phone: a second ring would land on a busy agent.
    busy = session.scalar(
        select(DialRequest).where(
            DialRequest.agent == agent, DialRequest.state.in_(OPEN_REQUEST_STATES)
        )
    )
    if busy is not None:
        raise DomainError(
            f"agent {agent} already has call request {busy.id} ({busy.state}, lead {busy.lead_id})"
        )
    assert lead.resident_id is not None  # every generated lead has its resident
    why = _why_not(session, lead, load_resident(session, lead.resident_id), at, window)
    if why is not None:
        raise DomainError(why)
    request = DialRequest(
        lead_id=lead.id, agent=agent, state=DialRequestState.PENDING.value, requested_at=at
    )
    session.add(request)
    session.flush()
    return request


def claim_dial_requests(
    session: Session, limit: int, at: datetime, worker: str, window: CallingWindow
) -> list[DialClaim]:
    """Take up to `limit` pending requests, oldest first, and start their leads' attempts.

    On PostgreSQL the rows are taken with SKIP LOCKED, so dialers sharing the database never
    place one request twice. A request whose lead may not be called any more is refused."""
    postgres = session.get_bind().dialect.name == "postgresql"
    query = (
        select(DialRequest)
        .where(DialRequest.state == DialRequestState.PENDING)
        .order_by(DialRequest.id)
        .limit(limit)
    )
    if postgres:
        query = query.with_for_update(skip_locked=True)
    claims: list[DialClaim] = []
    for request in session.scalars(query).all():
        lead = session.get(Lead, request.lead_id)
        assert lead is not None and lead.resident_id is not None  # foreign keys
        if postgres and not lock_resident(session, lead.resident_id):
            continue  # another dialer is claiming for this resident: next tick
        resident = load_resident(session, lead.resident_id)
        why = _why_not(session, lead, resident, at, window)
        if why is None and not refresh_number(lead, resident):
            why = f"{resident.name} has no valid number left"
        if why is not None:
            _end(request, DialRequestState.REFUSED, why, at)
            continue
        start_attempt(lead, at.astimezone(window.tz).date(), worker)
        request.state = DialRequestState.PLACING.value
        request.claimed_by, request.call_id = worker, lead.call_id
        campaign = session.get(Campaign, lead.campaign_id)
        assert campaign is not None
        claims.append(
            DialClaim(
                request.id,
                request.agent,
                request.requested_at,
                lead_claim(campaign, lead, resident),
            )
        )
    session.flush()
    return claims


def _end(request: DialRequest, state: DialRequestState, detail: str, at: datetime) -> None:
    request.state, request.detail, request.ended_at = state.value, detail, at


def finish_request(session: Session, request_id: int, disposition: str, at: datetime) -> None:
    """The resident was rung; the call record (`record_attempt`) has the rest."""
    request = session.get(DialRequest, request_id)
    if request is not None and request.state == DialRequestState.PLACING:
        _end(request, DialRequestState.DONE, disposition, at)


def agent_missed(session: Session, request_id: int, at: datetime) -> None:
    """The agent's phone was not answered: the request ends, the lead is as it was."""
    request = session.get(DialRequest, request_id)
    if request is None or request.state != DialRequestState.PLACING:
        return  # recorded already
    _end(request, DialRequestState.AGENT_MISSED, AGENT_MISSED_TEXT, at)
    lead = session.get(Lead, request.lead_id)
    if lead is not None and lead.state == LeadState.CALLING and lead.call_id == request.call_id:
        give_back_attempt(lead)
    session.flush()


def release_stale_requests(
    session: Session, worker: str, at: datetime, live_call_ids: set[str]
) -> list[int]:
    """After a dialer restart: its requests whose call the PBX no longer has end as lost
    (their leads go back to ready with `release_stale`). Returns their ids."""
    stale = session.scalars(
        select(DialRequest).where(
            DialRequest.state == DialRequestState.PLACING, DialRequest.claimed_by == worker
        )
    ).all()
    lost = [r for r in stale if r.call_id not in live_call_ids]
    for request in lost:
        _end(request, DialRequestState.LOST, "the dialer restarted during the call", at)
    session.flush()
    return [r.id for r in lost]
