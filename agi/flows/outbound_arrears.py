"""Fee reminder (催缴, service rules §5): the amount and the months spoken, then 1 will pay,
2 disagrees (to the cashier's staff), 3 already paid (the cashier checks before the next one)."""

from __future__ import annotations

from hotline.agi.channel import Channel
from hotline.agi.routes import routes
from hotline.core.dialplan import QUEUE_CASHIER
from hotline.core.outbound_desk import LeadBrief

from .campaign_call import CampaignCall, run_campaign_flow
from .context import FlowContext


@routes.register("outbound/arrears")
async def arrears(call: Channel, ctx: FlowContext) -> None:
    await run_campaign_flow(call, ctx, remind)


async def remind(visit: CampaignCall, lead: LeadBrief) -> None:
    await visit.play("hotline/arrears-intro")
    await visit.say_amount(lead.amount, int(lead.payload["months"]))
    choice = await visit.menu("hotline/arrears-menu", "123")
    if choice is None:
        return  # the reminder was heard; the dialer records the call, the ladder waits
    await visit.ctx.run(visit.outbound.arrears, lead.lead_id, int(choice), visit.ctx.clock())
    if choice == "2":
        await visit.to_agent(QUEUE_CASHIER)
        return
    await visit.play(
        "hotline/arrears-will-pay" if choice == "1" else "hotline/arrears-already-paid"
    )
    visit.finished = True
