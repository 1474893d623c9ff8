"""An agent's own figures for today (site time), for the console: calls taken and tickets
worked. The queue's three-ring rate is the live queue snapshot's (`answered_today`,
`within_three_rings_today`)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .figures import end_of_site_day
from .models import CallRecord, TicketEvent
from .rules import Rules


@dataclass(frozen=True)
class AgentToday:
    since: datetime  # the start of today, site time
    calls: int  # calls connected to the agent today (any of its names in the call records)
    tickets: int  # tickets the agent filed, completed or moved today


def agent_today(
    session: Session, rules: Rules, user: str, agent_names: Collection[str], now: datetime
) -> AgentToday:
    since = end_of_site_day(rules, now) - timedelta(days=1)
    calls = session.scalar(
        select(func.count()).where(
            CallRecord.agent.in_(list(agent_names)), CallRecord.connected_at >= since
        )
    )
    tickets = session.scalar(
        select(func.count(func.distinct(TicketEvent.ticket_id))).where(
            TicketEvent.actor == user, TicketEvent.at >= since
        )
    )
    return AgentToday(since, calls or 0, tickets or 0)
