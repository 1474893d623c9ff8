"""Outbound campaigns: what each kind needs to know, and the start/pause/resume/stop life."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .models import CallRecord, Campaign, Lead, Ticket, Unit
from .residents import require_unit
from .vocabulary import (
    CampaignKind,
    CampaignState,
    DialMode,
    Disposition,
    DomainError,
    LeadState,
    NotFound,
    parse_choice,
)

DEFAULT_MODE = {
    CampaignKind.FOLLOWUP: DialMode.PROGRESSIVE,
    CampaignKind.ARREARS: DialMode.PREDICTIVE,
    CampaignKind.NOTICE: DialMode.AGENTLESS,
    CampaignKind.VISITOR: DialMode.AGENTLESS,
    CampaignKind.APPOINTMENT: DialMode.AGENTLESS,
}

MAX_SLOTS = 3

# action -> (states it may be taken from, state it leads to)
ACTIONS: dict[str, tuple[tuple[CampaignState, ...], CampaignState]] = {
    "start": ((CampaignState.NEW,), CampaignState.RUNNING),
    "pause": ((CampaignState.RUNNING,), CampaignState.PAUSED),
    "resume": ((CampaignState.PAUSED,), CampaignState.RUNNING),
    "stop": (
        (CampaignState.NEW, CampaignState.RUNNING, CampaignState.PAUSED),
        CampaignState.STOPPED,
    ),
}


def _text(params: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = params.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise DomainError(f"campaign parameter {key!r} must be a non-empty text")
    return value.strip()


def _list(params: dict[str, Any], key: str) -> list[Any]:
    value = params.get(key, [])
    if not isinstance(value, list):
        raise DomainError(f"campaign parameter {key!r} must be a list")
    return value


def _notice(session: Session, params: dict[str, Any]) -> dict[str, Any]:
    units = [require_unit(session, str(u)).code for u in _list(params, "units")]
    buildings = []
    for b in _list(params, "buildings"):
        building = str(b).strip()
        if not building.isdigit():
            raise DomainError(f"bad building {b!r}: a number such as 3")
        building = str(int(building))
        if session.scalar(select(Unit.id).where(Unit.code.startswith(f"{building}-"))) is None:
            raise DomainError(f"no units known in building {building}")
        buildings.append(building)
    if not units and not buildings:
        raise DomainError("a notice needs units or buildings to call")
    return {"units": units, "buildings": buildings, "message": _text(params, "message")}


def _visitor(session: Session, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "unit": require_unit(session, str(params.get("unit", ""))).code,
        "visitor": _text(params, "visitor"),
        "recording": _text(params, "recording", required=False),
    }


def _appointment(session: Session, params: dict[str, Any]) -> dict[str, Any]:
    ticket_id = params.get("ticket_id")
    if not isinstance(ticket_id, int) or session.get(Ticket, ticket_id) is None:
        raise DomainError(f"no ticket {ticket_id}")
    slots = _list(params, "slots")
    if not 1 <= len(slots) <= MAX_SLOTS:
        raise DomainError(f"an appointment offers 1 to {MAX_SLOTS} slots, not {len(slots)}")
    parsed = []
    for slot in slots:
        try:
            moment = datetime.fromisoformat(str(slot))
        except ValueError:
            raise DomainError(f"bad slot {slot!r}: use ISO 8601 with an offset") from None
        if moment.tzinfo is None:
            raise DomainError(f"slot {slot!r} needs an offset, e.g. +08:00")
        parsed.append(moment.isoformat())
    return {"ticket_id": ticket_id, "slots": parsed}


def _none(session: Session, params: dict[str, Any]) -> None:
    if params:
        raise DomainError("follow-up and arrears campaigns take no parameters")


_PARAMS: dict[CampaignKind, Callable[[Session, dict[str, Any]], dict[str, Any] | None]] = {
    CampaignKind.FOLLOWUP: _none,
    CampaignKind.ARREARS: _none,
    CampaignKind.NOTICE: _notice,
    CampaignKind.VISITOR: _visitor,
    CampaignKind.APPOINTMENT: _appointment,
}


def create_campaign(
    session: Session,
    kind: str,
    mode: str | None = None,
    *,
    name: str | None = None,
    params: dict[str, Any] | None = None,
    at: datetime,
) -> Campaign:
    kind_ = parse_choice(CampaignKind, kind, "campaign kind")
    mode_ = parse_choice(DialMode, mode, "dial mode") if mode else DEFAULT_MODE[kind_]
    campaign = Campaign(
        kind=kind_.value,
        mode=mode_.value,
        state=CampaignState.NEW.value,
        name=name,
        params=_PARAMS[kind_](session, params or {}),
        created_at=at,
        skipped=0,
    )
    session.add(campaign)
    session.flush()
    return campaign


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}")
    return campaign


def list_campaigns(session: Session, limit: int = 200) -> list[Campaign]:
    return list(session.scalars(select(Campaign).order_by(Campaign.id.desc()).limit(limit)))


def campaign_action(session: Session, campaign_id: int, action: str, at: datetime) -> Campaign:
    if action not in ACTIONS:
        raise DomainError(f"unknown campaign action {action!r} (one of: {', '.join(ACTIONS)})")
    campaign = get_campaign(session, campaign_id)
    sources, target = ACTIONS[action]
    if campaign.state not in sources:
        raise DomainError(f"campaign {campaign_id} is {campaign.state}: cannot {action} it")
    campaign.state = target.value
    if action == "start":
        campaign.started_at = at
    if target is CampaignState.STOPPED:
        campaign.finished_at = at
        # Calls in progress finish and are recorded; nothing new is dialled.
        session.execute(
            update(Lead)
            .where(
                Lead.campaign_id == campaign_id,
                Lead.state.in_((LeadState.READY, LeadState.WAITING)),
            )
            .values(state=LeadState.STOPPED.value)
        )
    session.flush()
    return campaign


def campaign_status(session: Session, campaign_id: int) -> dict[str, Any]:
    campaign = get_campaign(session, campaign_id)
    leads = dict(
        session.execute(
            select(Lead.state, func.count())
            .where(Lead.campaign_id == campaign_id)
            .group_by(Lead.state)
        ).all()
    )
    attempts = dict(
        session.execute(
            select(CallRecord.disposition, func.count())
            .where(CallRecord.campaign_id == campaign_id)
            .group_by(CallRecord.disposition)
        ).all()
    )
    answered = attempts.get(Disposition.ANSWERED, 0)
    abandoned = attempts.get(Disposition.ABANDONED, 0)
    # An abandoned call was answered by the resident too: the rate is over every answered call.
    picked_up = answered + abandoned
    return {
        "id": campaign.id,
        "kind": campaign.kind,
        "mode": campaign.mode,
        "state": campaign.state,
        "name": campaign.name,
        "params": campaign.params,
        "leads": {state.value: leads.get(state.value, 0) for state in LeadState},
        "skipped": campaign.skipped,
        "attempts": {d.value: attempts.get(d.value, 0) for d in Disposition},
        "calls": sum(attempts.values()),
        "answered": answered,
        "abandoned": abandoned,
        "abandon_rate": abandoned / picked_up if picked_up else None,
    }
