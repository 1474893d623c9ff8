"""Agent-first click-to-dial for preview leads.

An agent asks for a lead's call (`hotline campaign dial`); each tick the dialer claims pending
requests (SKIP LOCKED on PostgreSQL) and originates the agent's phone into `[dialer-preview]`,
whose Dial(${HOTLINE_DIAL}) rings the resident once the agent answers. The call tracker follows
both legs; the resident leg's outcome is recorded like any dialer call, with the agent on it. An
agent who does not answer costs the lead nothing: the request ends, the lead stays ready.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from hotline.core import dialplan
from hotline.core.dial_requests import AGENT_MISSED_TEXT, DialClaim
from hotline.core.dialer_desk import DialerDesk
from hotline.core.leads import LeadClaim
from hotline.core.retry import NextStep, StepKind

from .call_tracker import Attempt, CallTracker

log = logging.getLogger(__name__)

CLAIMS_PER_TICK = 10


# Read-only members (properties), so the dialer's own attributes and frozen config meet them.
class Templates(Protocol):
    @property
    def channel_template(self) -> str: ...
    @property
    def agent_channel_template(self) -> str: ...


class Placer(Protocol):
    """What preview calls use of the dialer (`engine.Dialer`), which owns them."""

    @property
    def config(self) -> Templates: ...
    @property
    def desk(self) -> DialerDesk: ...
    @property
    def tracker(self) -> CallTracker: ...
    @property
    def run(self) -> Callable[..., Awaitable[Any]]: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...
    def call_variables(self, claim: LeadClaim) -> dict[str, str]: ...

    def placed(self, claim: LeadClaim, mode: str, agent: str | None = None) -> None: ...

    def originate(
        self, channel: str, context: str, variables: dict[str, str], call_id: str
    ) -> None: ...


class PreviewCalls:
    def __init__(self, dialer: Placer) -> None:
        self.dialer = dialer

    async def place_requested(self) -> None:
        d = self.dialer
        for claim in await d.run(d.desk.claim_requests, CLAIMS_PER_TICK, d.clock()):
            self._originate(claim)

    def _originate(self, claim: DialClaim) -> None:
        d, lead = self.dialer, claim.lead
        variables = d.call_variables(lead)
        variables[dialplan.DIAL] = d.config.channel_template.format(number=lead.number)
        attempt = Attempt(
            lead.call_id,
            lead.lead_id,
            lead.campaign_id,
            lead.number,
            expect_agent=False,
            queued_at=claim.requested_at,
            agent=claim.agent,
            variables=variables,
            info={"request_id": claim.request_id},
            agent_first=True,
        )
        d.tracker.dialled(attempt)
        d.placed(lead, "preview", claim.agent)
        log.info("call %s: ringing agent %s for lead %d", lead.call_id, claim.agent, lead.lead_id)
        d.originate(
            d.config.agent_channel_template.format(agent=claim.agent),
            dialplan.PREVIEW_CONTEXT,
            variables,
            lead.call_id,
        )

    def record_agent_missed(self, attempt: Attempt) -> NextStep:
        d = self.dialer
        d.desk.agent_missed(attempt.info["request_id"], d.clock())
        log.info(
            "call %s: agent %s did not answer; lead %d stays ready",
            attempt.call_id,
            attempt.agent,
            attempt.lead_id,
        )
        return NextStep(StepKind.IGNORED, None, AGENT_MISSED_TEXT)
