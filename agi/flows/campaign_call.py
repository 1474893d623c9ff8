"""What every outbound campaign call shares: the lead it is about, and how it ends.

The dialer's Originate set CALL_ID, LEAD_ID, CAMPAIGN_ID and CAMPAIGN_KIND on the channel. The
call record is the dialer's (it knows how the call ended); the flow keeps its path and keys on
the lead, from where the dialer copies them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from hotline.agi.channel import Channel
from hotline.core import dialplan
from hotline.core.outbound_desk import LeadBrief, OutboundDesk

from .context import FlowContext
from .visit import Visit


class CampaignCall(Visit):
    # [dialer-landing] reads no done-marker: the dialer learns how the call went over AMI.
    marks_done = False

    def __init__(self, call: Channel, ctx: FlowContext) -> None:
        super().__init__(call, ctx, direction="out")
        assert ctx.outbound is not None, "outbound flows need the outbound desk"
        self.outbound: OutboundDesk = ctx.outbound
        self.lead: LeadBrief | None = None

    async def start(self) -> LeadBrief:
        """The resident has answered (the channel is up): find the lead, speak their language."""
        s = self.summary
        s.answered_at = self.ctx.clock()
        self.answered()
        lead_id = await self.call.get_variable(dialplan.LEAD_ID)
        if not lead_id or not lead_id.isdigit():
            raise LookupError(f"outbound call {self.id} carries no {dialplan.LEAD_ID}")
        self.lead = await self.ctx.run(self.outbound.lead, int(lead_id))
        await self.set_language(self.lead.lang)
        self.step(f"lead:{self.lead.lead_id}")
        return self.lead

    async def store_ending(self, error: BaseException | None) -> str:
        """The call record is the dialer's: the flow stores only its path and keys, on the
        lead."""
        if self.lead is not None:
            await self.ctx.run(
                self.outbound.call_path, self.lead.lead_id, self.summary.path, self.summary.keypad
            )
        return "error" if error is not None and not self.finished else "done"


async def run_campaign_flow(
    call: Channel, ctx: FlowContext, body: Callable[[CampaignCall, LeadBrief], Awaitable[None]]
) -> None:
    visit = CampaignCall(call, ctx)
    error: BaseException | None = None
    try:
        await body(visit, await visit.start())
    except BaseException as exc:
        error = exc
        raise
    finally:
        await visit.close(error)
