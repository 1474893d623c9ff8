"""The live event stream (server-sent events) and the live snapshots it is read against: agents,
queues and calls now (docs/api.md, "Live events")."""

from __future__ import annotations

from typing import Any

from hotline.core.users import UserRole
from hotline.live_state import AGENT_STATES
from hotline.live_stream import LiveStream

from .declare import API, Param
from .errors import ApiError
from .schemas import INT, NUM, STR, TIME, array, enum, null, obj
from .server import Call, OnReactor, StreamReply, header

AGENT = UserRole.AGENT
LAST_EVENT_ID = "Last-Event-ID"

AGENT_ROW = obj(
    agent=STR,
    name=null(STR),
    state=enum(AGENT_STATES),
    paused_reason=null(STR),
    since=null(TIME),
    queue=null(STR),
    call_id=null(STR),
)
QUEUE_ROW = obj(
    queue=STR,
    waiting=INT,
    longest_wait_s=INT,
    agents_free=INT,
    answered_today=INT,
    within_three_rings_today=INT,
    abandoned_today=INT,
    abandon_rate_today=NUM,
)
CALL_ROW = obj(
    call_id=STR,
    direction=enum(("in", "out")),
    agent=null(STR),
    queue=null(STR),
    unit=null(STR),
    resident_id=null(INT),
    ticket_id=null(INT),
    state=enum(("ivr", "queued", "offered", "connected")),
    since=TIME,
)


def _live(call: Call) -> LiveStream:
    if call.live is None:
        raise ApiError("unavailable", "this service runs no live state")
    return call.live


@API.route(
    "GET",
    "/events/stream",
    "The live events (server-sent events): calls, agents, queues, tickets, as the role may see",
    role=AGENT,
    query=(
        Param(
            "last_event_id",
            description="resume after this id (as the Last-Event-ID header, for polyfills)",
        ),
    ),
    response={"type": "string", "description": "text/event-stream: id, event, data lines"},
    media_type="text/event-stream",
    tag="live",
)
def event_stream(call: Call) -> StreamReply:
    live, who, query_id = _live(call), call.who, call.params["last_event_id"]

    def open_stream(request: Any) -> object:
        return live.open(request, who, header(request, LAST_EVENT_ID) or query_id)

    return StreamReply(open_stream)


@API.route(
    "GET",
    "/live/agents",
    "Every queue agent now: state, since when, the call",
    role=AGENT,
    response=obj(agents=array(AGENT_ROW)),
    tag="live",
)
def live_agents(call: Call) -> OnReactor:
    state = _live(call).state
    return OnReactor(lambda: {"agents": state.agents()})


@API.route(
    "GET",
    "/live/queues",
    "Every queue now: callers waiting, the longest wait, free agents, today's figures",
    role=AGENT,
    response=obj(queues=array(QUEUE_ROW)),
    tag="live",
)
def live_queues(call: Call) -> OnReactor:
    state = _live(call).state
    return OnReactor(lambda: {"queues": state.queue_rows()})


@API.route(
    "GET",
    "/live/calls",
    "Calls now: in the voice menu, waiting, ringing an agent, connected (an agent: their own)",
    role=AGENT,
    response=obj(calls=array(CALL_ROW)),
    tag="live",
)
def live_calls(call: Call) -> OnReactor:
    state, who = _live(call).state, call.who
    if who.role == UserRole.AGENT:
        own = who.extension or ""  # an agent without an extension has no calls
        return OnReactor(lambda: {"calls": state.call_rows(own)})
    return OnReactor(lambda: {"calls": state.call_rows()})
