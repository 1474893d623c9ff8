"""The rule gauges' figures (`hotline.metrics`), aggregated in SQL: a few COUNTs, cheap enough
every 15 s."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import FOLLOWUP_OWED, ArrearsAccount, Campaign, FollowUp, Lead, Recording, Ticket
from .rules import Rules
from .vocabulary import CampaignKind, Kind, LeadState, ReminderStage

# Recordings the conversion worker has not finished with (a killed run leaves `converting`).
BACKLOG_STATES = ("pending", "converting")


@dataclass(frozen=True)
class DbFigures:
    followups_due: int  # not made, deadline still ahead but before the end of today (site time)
    followups_overdue: int  # not made, deadline passed
    complaints_unescalated_overdue: int  # not escalated, past the escalation deadline (1 h)
    arrears_by_stage: dict[str, int]  # unpaid accounts; every stage present, zero included
    recordings_backlog: int
    leads_waiting: dict[str, int]  # ready to dial now, by campaign kind; every kind present


def end_of_site_day(rules: Rules, now: datetime) -> datetime:
    tomorrow = now.astimezone(rules.tz).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), rules.tz)


def db_figures(session: Session, rules: Rules, now: datetime) -> DbFigures:
    overdue, due = session.execute(
        select(
            func.count().filter(FollowUp.due_at < now),
            func.count().filter(
                FollowUp.due_at >= now, FollowUp.due_at < end_of_site_day(rules, now)
            ),
        ).where(FOLLOWUP_OWED)
    ).one()
    unescalated = session.scalar(
        select(func.count()).where(
            Ticket.kind == Kind.COMPLAINT.value,
            Ticket.escalated_at.is_(None),
            Ticket.escalation_due_at < now,
        )
    )
    stages = dict.fromkeys((stage.value for stage in ReminderStage), 0)
    stages.update(
        session.execute(
            select(ArrearsAccount.stage, func.count())
            .where(ArrearsAccount.paid_at.is_(None))
            .group_by(ArrearsAccount.stage)
        ).all()
    )
    backlog = session.scalar(select(func.count()).where(Recording.state.in_(BACKLOG_STATES)))
    waiting = dict.fromkeys((kind.value for kind in CampaignKind), 0)
    waiting.update(
        session.execute(
            select(Campaign.kind, func.count())
            .join(Lead, Lead.campaign_id == Campaign.id)
            .where(Lead.state == LeadState.READY, Lead.next_attempt_at <= now)
            .group_by(Campaign.kind)
        ).all()
    )
    return DbFigures(
        followups_due=due,
        followups_overdue=overdue,
        complaints_unescalated_overdue=unescalated or 0,
        arrears_by_stage=stages,
        recordings_backlog=backlog or 0,
        leads_waiting=waiting,
    )
