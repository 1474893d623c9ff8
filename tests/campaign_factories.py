"""Residents, campaigns and claims for the campaign tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hotline.core.calling_window import CallingWindow
from hotline.core.campaigns import campaign_action, create_campaign
from hotline.core.db import Database
from hotline.core.leads import LeadClaim, claim_leads, generate_leads
from hotline.core.outcomes import AttemptOutcome
from hotline.core.rules import Rules
from hotline.core.tickets import Intake, move_ticket, open_ticket

from factories import seed_residents

SH = ZoneInfo("Asia/Shanghai")
WINDOW = CallingWindow(SH)
# A Monday morning, inside the calling window.
MORNING = datetime(2026, 11, 23, 10, 0, tzinfo=SH)

# 3-1-201 has two residents, the first with two numbers; 3-2-301 is do-not-call.
CAMPAIGN_RESIDENTS = (
    "unit,name,phone,phone2,lang,do_not_call\n"
    "3-1-201,张伟,13800138000,13900139000,zh,no\n"
    "3-1-201,王芳,13700137000,,zh,no\n"
    "3-1-202,Li Na,5551234,,en,no\n"
    "3-2-301,陈静,13500135000,,zh,yes\n"
    "5-2-1101,刘洋,13300133000,,zh,no\n"
)


def seed(db: Database, tmp_path: Path, text: str = CAMPAIGN_RESIDENTS) -> None:
    seed_residents(db, tmp_path, text)


def running_campaign(
    db: Database,
    rules: Rules,
    kind: str,
    params: dict[str, Any] | None = None,
    at: datetime = MORNING,
) -> tuple[int, int]:
    """A started campaign with its leads made: (campaign id, leads made)."""
    with db.session() as s:
        campaign = create_campaign(s, kind, params=params, at=at)
        campaign_action(s, campaign.id, "start", at)
        return campaign.id, generate_leads(s, rules, campaign, at)


def claim(
    db: Database, campaign_id: int, at: datetime = MORNING, limit: int = 10
) -> list[LeadClaim]:
    with db.session() as s:
        return claim_leads(s, campaign_id, limit, at, "dialer-1", WINDOW)


def outcome(
    claim_: LeadClaim, disposition: str, at: datetime, cause: int | None = None
) -> AttemptOutcome:
    answered = at - timedelta(seconds=30) if disposition in ("answered", "abandoned") else None
    return AttemptOutcome(
        call_id=claim_.call_id,
        disposition=disposition,
        queued_at=at - timedelta(seconds=60),
        dialled_at=at - timedelta(seconds=59),
        answered_at=answered,
        ended_at=at,
        hangup_cause=cause,
        number=claim_.number,
    )


def done_repair(db: Database, rules: Rules, unit: str, category: str, at: datetime) -> int:
    """A repair done at `at`: its follow-up falls due by the rules."""
    with db.session() as s:
        intake = Intake(kind="repair", category=category, received_at=at, unit=unit)
        ticket = open_ticket(s, rules, intake)
        for state in ("dispatched", "in_progress", "done"):
            move_ticket(s, rules, ticket.id, state, at, by="老王")
        return ticket.id
