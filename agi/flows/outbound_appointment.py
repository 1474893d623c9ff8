"""Home visit appointment (service rules §6, 004 §五.1): the slots dispatch set are offered,
1/2/3 picks one, 0 reaches staff. The flow itself never proposes a time."""

from __future__ import annotations

from datetime import datetime

from hotline.agi.channel import Channel
from hotline.agi.routes import routes
from hotline.core.dialplan import QUEUE_REPAIRS
from hotline.core.outbound_desk import LeadBrief

from .campaign_call import CampaignCall, run_campaign_flow
from .context import FlowContext

SLOT_FORMAT = "ABdY 'digits/at' IMp"  # weekday, month, day, year, at hour minute am/pm


@routes.register("outbound/appointment")
async def appointment(call: Channel, ctx: FlowContext) -> None:
    await run_campaign_flow(call, ctx, offer_slots)


async def offer_slots(visit: CampaignCall, lead: LeadBrief) -> None:
    slots = [datetime.fromisoformat(s) for s in lead.payload["slots"]][:3]
    keys = "".join(str(i) for i in range(1, len(slots) + 1))
    await visit.play("hotline/appointment-intro")
    zone = visit.ctx.rules.policy.site.timezone
    for key, slot in zip(keys, slots, strict=True):
        await visit.play("hotline/press")
        await visit.call.say_digits(key)
        await visit.play("hotline/for")
        await visit.call.say_datetime(int(slot.timestamp()), "", SLOT_FORMAT, zone)
    choice = await visit.menu("hotline/appointment-other", keys + "0")
    if choice in (None, "0"):
        await visit.to_agent(QUEUE_REPAIRS)
        return
    await visit.ctx.run(visit.outbound.appointment, lead.lead_id, int(choice), visit.ctx.clock())
    await visit.play("hotline/appointment-confirmed")
    visit.finished = True
