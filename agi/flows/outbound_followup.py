"""Follow-up survey (回访, service rules §4): how did the repair or complaint go?

Satisfaction 1-5 by keypad (0 for an agent), "was the work done properly? 1 yes 2 no", a voice
comment; 2 or less reopens the matter as a complaint (the rules decide, in the core).
"""

from __future__ import annotations

from hotline.agi.channel import Channel
from hotline.agi.routes import routes
from hotline.core.dialplan import QUEUE_ENQUIRIES
from hotline.core.events import FollowUpRecorded
from hotline.core.outbound_desk import LeadBrief

from .campaign_call import CampaignCall, run_campaign_flow
from .context import FlowContext


@routes.register("outbound/followup")
async def followup(call: Channel, ctx: FlowContext) -> None:
    await run_campaign_flow(call, ctx, survey)


async def survey(visit: CampaignCall, lead: LeadBrief) -> None:
    about = "repair" if lead.payload.get("ticket_kind") == "repair" else "complaint"
    await visit.play(f"hotline/followup-intro-{about}")
    await visit.read_back_ticket(lead.payload.get("ticket_id"))
    await visit.play("hotline/followup-agent")
    rating = await visit.menu("hotline/followup-rate", "123450")
    if rating in (None, "0"):
        await visit.to_agent(QUEUE_ENQUIRIES)
        return
    done_properly = await visit.menu("hotline/followup-work-done", "12")
    comment = await visit.record("hotline/followup-comment", "comments")
    complaint = await visit.ctx.run(
        visit.outbound.followup,
        lead.lead_id,
        int(rating),
        int(done_properly) if done_properly else None,
        f"{comment.path}.{comment.fmt}" if comment.seconds > 0 else None,
        visit.ctx.clock(),
    )
    if complaint is not None:
        visit.step(f"reopened-as-complaint:{complaint}")
    visit.ctx.events.publish(
        FollowUpRecorded(
            call_id=visit.id,
            lead_id=lead.lead_id,
            rating=int(rating),
            done_properly=done_properly == "1" if done_properly else None,
            complaint_ticket_id=complaint,
        )
    )
    await visit.play("hotline/followup-thanks")
    visit.finished = True
