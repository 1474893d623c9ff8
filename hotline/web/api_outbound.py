"""Calls and call records, campaigns, their leads and preview call requests. Agents read them and
work preview leads; running a campaign is a supervisor's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hotline import serialise
from hotline.core import campaigns, dial_requests, leads, outcomes
from hotline.core.events import CampaignChanged
from hotline.core.users import UserRole
from hotline.core.vocabulary import CampaignKind, DialMode, Disposition, LeadState
from hotline.recordings.resolve import with_recordings

from .api_office import CURSOR, ID, LIMIT, page, page_cursor
from .declare import API, Body, Param
from .schemas import items, ref
from .server import Call

AGENT, SUPERVISOR = UserRole.AGENT, UserRole.SUPERVISOR


@API.route(
    "GET",
    "/calls",
    "Call records, newest first, a page at a time",
    role=AGENT,
    query=(Param("campaign", "integer"), LIMIT, CURSOR),
    response=items("Call", paged=True),
    tag="calls",
    apart=True,
)
def list_calls(call: Call) -> dict[str, Any]:
    limit = call.params["limit"] or 50
    found = outcomes.list_calls(call.session, call.params["campaign"], limit, page_cursor(call))
    return page(with_recordings(call.session, [serialise.call(r, call.tz) for r in found]), limit)


@API.route(
    "GET",
    "/calls/{id}",
    "One call record",
    role=AGENT,
    path_params=(ID,),
    response=ref("Call"),
    tag="calls",
    apart=True,
)
def get_call(call: Call) -> dict[str, Any]:
    record = serialise.call(outcomes.get_call(call.session, call.params["id"]), call.tz)
    return with_recordings(call.session, [record])[0]


@API.route(
    "GET", "/campaigns", "Campaigns", role=AGENT, response=items("Campaign"), tag="campaigns"
)
def list_campaigns(call: Call) -> dict[str, Any]:
    return {
        "items": [serialise.campaign(c, call.tz) for c in campaigns.list_campaigns(call.session)]
    }


@API.route(
    "GET",
    "/campaigns/{id}",
    "A campaign",
    role=AGENT,
    path_params=(ID,),
    response=ref("Campaign"),
    tag="campaigns",
)
def get_campaign(call: Call) -> dict[str, Any]:
    return serialise.campaign(campaigns.get_campaign(call.session, call.params["id"]), call.tz)


@API.route(
    "GET",
    "/campaigns/{id}/status",
    "Leads by state, attempts by disposition, abandon rate",
    role=AGENT,
    path_params=(ID,),
    response=ref("CampaignStatus"),
    tag="campaigns",
)
def campaign_status(call: Call) -> dict[str, Any]:
    return campaigns.campaign_status(call.session, call.params["id"])


@API.route(
    "POST",
    "/campaigns",
    "Create a campaign (state new)",
    role=SUPERVISOR,
    body=Body(
        (
            Param("kind", required=True, enum=tuple(CampaignKind)),
            Param("mode", enum=tuple(DialMode), description="default: by kind"),
            Param("name"),
            Param("params", "object", description="the kind's parameters, as in docs/api.md"),
        )
    ),
    response=ref("Campaign"),
    status=201,
    tag="campaigns",
)
def create_campaign(call: Call) -> dict[str, Any]:
    b = call.body
    campaign = campaigns.create_campaign(
        call.session, b["kind"], b["mode"], name=b["name"], params=b["params"] or {}, at=call.now
    )
    return serialise.campaign(campaign, call.tz)


def campaign_changed(data: Any, at: datetime) -> CampaignChanged:
    """The live stream's campaign.state for a campaign's new state."""
    return CampaignChanged(
        campaign_id=data["id"], state=data["state"], dial_level=None, abandon_rate=None, at=at
    )


@API.route(
    "POST",
    "/campaigns/{id}/{action}",
    "Start, pause, resume or stop a campaign",
    role=SUPERVISOR,
    path_params=(ID, Param("action", required=True, enum=tuple(campaigns.ACTIONS))),
    response=ref("Campaign"),
    tag="campaigns",
    event=campaign_changed,
)
def act_on_campaign(call: Call) -> dict[str, Any]:
    campaign, _made = leads.act_on_campaign(
        call.session, call.app.rules, call.params["id"], call.params["action"], call.now
    )
    return serialise.campaign(campaign, call.tz)


@API.route(
    "GET",
    "/campaigns/{id}/leads",
    "A campaign's leads, best first, with their pending call requests",
    role=AGENT,
    path_params=(ID,),
    query=(Param("state", enum=tuple(LeadState)),),
    response=items("Lead"),
    tag="campaigns",
    apart=True,
)
def campaign_leads(call: Call) -> dict[str, Any]:
    found = dial_requests.campaign_leads(call.session, call.params["id"], call.params["state"])
    return {"items": [serialise.lead(lead, request, call.tz) for lead, request in found]}


@API.route(
    "POST",
    "/leads/{id}/dial-requests",
    "Preview: the service rings the agent's phone, then the lead's resident",
    role=AGENT,
    path_params=(ID,),
    body=Body(
        (Param("agent", description="the agent's extension, e.g. 101; default: the user's"),)
    ),
    response=ref("DialRequest"),
    status=201,
    tag="campaigns",
)
def request_dial(call: Call) -> dict[str, Any]:
    agent = call.body["agent"] or call.extension()
    window = call.app.settings.dialer.calling_window(call.tz)
    request = dial_requests.request_dial(call.session, call.params["id"], agent, call.now, window)
    return serialise.dial_request(request, call.tz)


@API.route(
    "POST",
    "/leads/{id}/outcome",
    "Record a preview call made from one's own phone",
    role=AGENT,
    path_params=(ID,),
    body=Body(
        (
            Param("disposition", required=True, enum=tuple(Disposition)),
            Param("at", "date-time"),
        )
    ),
    response=ref("LeadOutcome"),
    tag="campaigns",
)
def lead_outcome(call: Call) -> dict[str, Any]:
    b = call.body
    step = outcomes.record_call_by_hand(
        call.session,
        call.app.rules,
        call.app.settings.dialer.retry,
        call.params["id"],
        b["disposition"],
        call.happened(),
        call.who.name,
    )
    return serialise.lead_outcome(call.params["id"], b["disposition"], step, call.tz)
