"""Visitor at the gate (service rules §6): the guard names the visitor, the resident presses 1 to
let them in or 2 to refuse; the answer is stored at once, so the gate has it within the call."""

from __future__ import annotations

from hotline.agi.channel import Channel
from hotline.agi.routes import routes
from hotline.core.outbound_desk import LeadBrief

from .campaign_call import CampaignCall, run_campaign_flow
from .context import FlowContext


@routes.register("outbound/visitor")
async def visitor(call: Channel, ctx: FlowContext) -> None:
    await run_campaign_flow(call, ctx, confirm)


async def confirm(visit: CampaignCall, lead: LeadBrief) -> None:
    await visit.play("hotline/visitor-at-gate")
    if lead.payload.get("recording"):
        await visit.call.stream_file(lead.payload["recording"])  # the guard's recording
    choice = await visit.menu("hotline/visitor-menu", "12")
    if choice is None:
        return  # no answer: the next resident of the unit is called
    await visit.ctx.run(visit.outbound.visitor, lead.lead_id, choice == "1", visit.ctx.clock())
    await visit.play("hotline/visitor-admitted" if choice == "1" else "hotline/visitor-refused")
    visit.finished = True
