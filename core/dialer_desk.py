"""What the live dialer asks of the centre's records: running campaigns, fresh leads, claims,
outcomes and the preview requests. Blocking (database) work, run off the reactor, like the flows'
desks (`IntakeDesk`, `OutboundDesk`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from .calling_window import CallingWindow
from .db import Database
from .dial_requests import (
    DialClaim,
    agent_missed,
    claim_dial_requests,
    finish_request,
    release_stale_requests,
)
from .instances import Heartbeat, in_flight_here
from .leads import LeadClaim, claim_leads, generate_leads, release_stale
from .models import Campaign
from .outcomes import (
    AttemptInFlight,
    AttemptOutcome,
    attempts_in_flight,
    open_attempts,
    record_attempt,
    settle_in_the_air,
)
from .retry import NextStep, RetryPolicy
from .rules import Rules
from .vocabulary import CampaignState, DialMode


@dataclass(frozen=True)
class RunningCampaign:
    id: int
    kind: str
    mode: DialMode
    started_at: datetime | None


class DialerDesk:
    """`worker` is the dialer's name in the database's claims (stable across restarts);
    `heartbeat`: this instance's, so that a neighbour sharing the name keeps its calls."""

    def __init__(
        self,
        db: Database,
        rules: Rules,
        retry: RetryPolicy,
        window: CallingWindow,
        worker: str,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self.db, self.rules, self.retry, self.window = db, rules, retry, window
        self.worker, self.heartbeat = worker, heartbeat

    def running_campaigns(self) -> list[RunningCampaign]:
        with self.db.session() as s:
            rows = s.execute(
                select(Campaign.id, Campaign.kind, Campaign.mode, Campaign.started_at)
                .where(Campaign.state == CampaignState.RUNNING)
                .order_by(Campaign.id)
            ).all()
        return [RunningCampaign(id, kind, DialMode(mode), at) for id, kind, mode, at in rows]

    def generate(self, campaign_id: int, at: datetime) -> int:
        """The campaign's new leads at `at` (`core/leads.generate_leads`); 0 if it is gone."""
        with self.db.session() as s:
            campaign = s.get(Campaign, campaign_id)
            return generate_leads(s, self.rules, campaign, at) if campaign else 0

    def claim(self, campaign_id: int, limit: int, at: datetime) -> list[LeadClaim]:
        with self.db.session() as s:
            claims = claim_leads(
                s,
                campaign_id,
                limit,
                at,
                self.worker,
                self.window,
                abandoned_hold=self.retry.abandoned_hold,
            )
            # Committed before any Originate is sent.
            open_attempts(s, claims, at, self.heartbeat.id if self.heartbeat else None)
            return claims

    def release(self, in_flight: set[str], at: datetime) -> list[int]:
        """After a (re)connect: requests, attempts and leads of this worker no call carries any
        more. Returns the lead ids given back."""
        with self.db.session() as s:
            # A live instance under the same worker name follows its calls itself.
            live = in_flight_here(self.heartbeat, s.connection(), at, in_flight)
            release_stale_requests(s, self.worker, at, live)
            # Attempts a dead process left in the air end `interrupted`, retried by the rules.
            settle_in_the_air(s, self.rules, self.retry, self.worker, at, live)
            return release_stale(s, self.worker, at, live)

    def in_flight(self, call_ids: set[str]) -> list[AttemptInFlight]:
        """This worker's unsettled attempts among ``call_ids`` (the PBX's live calls)."""
        with self.db.session() as s:
            return attempts_in_flight(s, self.worker, call_ids)

    def record(
        self, lead_id: int, outcome: AttemptOutcome, at: datetime, request_id: int | None = None
    ) -> NextStep:
        """Store a call's outcome with the retry rules; `request_id`: the preview request the
        call answered, which ends with it."""
        with self.db.session() as s:
            step = record_attempt(s, self.rules, self.retry, lead_id, outcome, at)
            if request_id is not None:
                finish_request(s, request_id, outcome.disposition, at)
            return step

    def claim_requests(self, limit: int, at: datetime) -> list[DialClaim]:
        with self.db.session() as s:
            return claim_dial_requests(s, limit, at, self.worker, self.window)

    def agent_missed(self, request_id: int, at: datetime) -> None:
        with self.db.session() as s:
            agent_missed(s, request_id, at)
