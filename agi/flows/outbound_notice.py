"""Outage and works notices (service rules §6): the recorded message, 1 hears it again."""

from __future__ import annotations

from hotline.agi.channel import Channel
from hotline.agi.routes import routes
from hotline.core.outbound_desk import LeadBrief

from .campaign_call import CampaignCall, run_campaign_flow
from .context import FlowContext

MAX_REPEATS = 2


@routes.register("outbound/notice")
async def notice(call: Channel, ctx: FlowContext) -> None:
    await run_campaign_flow(call, ctx, announce)


async def announce(visit: CampaignCall, lead: LeadBrief) -> None:
    await visit.play("hotline/notice-intro")
    repeats = 0
    while True:
        # The message is the campaign's own recording, not one of the hotline prompts.
        await visit.call.stream_file(lead.payload["message"])
        if repeats == MAX_REPEATS or await visit.menu("hotline/notice-repeat", "1", 1) != "1":
            break
        repeats += 1
    await visit.ctx.run(visit.outbound.notice, lead.lead_id, repeats, visit.ctx.clock())
    await visit.play("hotline/goodbye")
    visit.finished = True
