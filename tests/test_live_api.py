"""The live routes through the API's own request cycle: the snapshots as the OpenAPI document
declares them (an agent sees their own calls), a ticket written over the API announced on the
bus, and the stream refused to strangers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sse_client import kept
from twisted.internet.task import Clock as TimerClock

from hotline.core import api_tokens, users
from hotline.core.db import Database
from hotline.core.event_bus import EventBus
from hotline.core.events import (
    CallOffered,
    Event,
    QueueCallerJoined,
    QueueMemberState,
    TicketChanged,
)
from hotline.live_state import LiveState
from hotline.live_stream import LiveStream
from hotline.web.site import web_api

from api_support import NOW, PASSWORD, ApiClient, Clock, inline, make_app
from factories import seed_residents


@pytest.fixture
def live_api(
    db: Database, tmp_path: Path, clock: Clock, cheap_password_hashes: None
) -> Iterator[tuple[ApiClient, LiveStream, list[Event]]]:
    seed_residents(db, tmp_path)
    app = make_app(db, tmp_path / "home")
    timers = TimerClock()
    live = LiveStream(LiveState(ZoneInfo("Asia/Shanghai"), 15.0, timers.callLater, clock), timers)
    bus, published = EventBus(), list[Event]()
    bus.subscribe(published.append, (Event,))
    bus.subscribe(live.take, (Event,))
    client = ApiClient(web_api(app, inline, clock, live, bus))
    with db.session() as s:
        for name, role, ext in (
            ("li", "agent", "101"),
            ("chen", "agent", "102"),
            ("wang", "supervisor", "201"),
        ):
            users.add_user(s, name, role, PASSWORD, NOW, ext)
            client.tokens[name] = api_tokens.add_token(s, f"{name}-t", NOW, user=name)[1]
    yield client, live, published
    app.db.dispose()


def test_the_snapshots_answer_as_documented(
    live_api: tuple[ApiClient, LiveStream, list[Event]],
) -> None:
    api, live, _ = live_api
    live.take(
        QueueMemberState(
            agent="101",
            name="Agent 101",
            queue="repairs",
            device="free",
            paused=False,
            paused_reason=None,
            wrapup_seconds=10,
            at=NOW,
        )
    )
    live.take(
        QueueCallerJoined(call_id="9.1", queue="repairs", caller="5551234", position=1, at=NOW)
    )
    live.take(CallOffered(call_id="9.1", agent="101", queue="repairs", caller="5551234", at=NOW))
    agents = api.get("/live/agents", as_="chen").json["agents"]
    assert [(a["agent"], a["state"], a["call_id"]) for a in agents] == [("101", "ringing", "9.1")]
    (queue,) = api.get("/live/queues", as_="chen").json["queues"]
    assert (queue["queue"], queue["waiting"]) == ("repairs", 1)
    assert [c["call_id"] for c in api.get("/live/calls", as_="li").json["calls"]] == ["9.1"]
    assert api.get("/live/calls", as_="chen").json["calls"] == []
    assert [c["state"] for c in api.get("/live/calls", as_="wang").json["calls"]] == ["offered"]


def test_a_ticket_written_over_the_api_is_announced(
    live_api: tuple[ApiClient, LiveStream, list[Event]],
) -> None:
    api, live, published = live_api
    made = api.post("/tickets", {"kind": "repair", "category": "leak", "unit": "3-1-201"}, as_="li")
    assert made.status == 201
    api.post(f"/tickets/{made.json['id']}/assignment", {"technician": "王师傅"}, as_="li")
    changes = [e for e in published if isinstance(e, TicketChanged)]
    assert [(c.ticket_id, c.state, c.restricted) for c in changes] == [
        (made.json["id"], "new", False),
        (made.json["id"], "dispatched", False),
    ]
    assert [e.type for e in kept(live)] == ["ticket.changed", "ticket.changed"]


def test_the_stream_needs_a_signed_in_caller(
    live_api: tuple[ApiClient, LiveStream, list[Event]],
) -> None:
    api, _, _ = live_api
    assert api.get("/events/stream").code == "unauthenticated"
    assert api.get("/live/agents").code == "unauthenticated"


def test_without_a_live_state_the_routes_say_so(api: ApiClient) -> None:
    reply = api.get("/live/agents", as_="li")
    assert (reply.status, reply.code) == (503, "unavailable")


def test_a_campaign_action_is_announced_to_supervisors(
    live_api: tuple[ApiClient, LiveStream, list[Event]],
) -> None:
    api, live, _ = live_api
    made = api.post(
        "/campaigns",
        {"kind": "notice", "params": {"message": "停水通知", "buildings": ["3"]}},
        as_="wang",
    )
    assert made.status == 201, made.body
    api.post(f"/campaigns/{made.json['id']}/start", as_="wang")
    (entry,) = [e for e in kept(live) if e.type == "campaign.state"]
    assert (entry.data["campaign_id"], entry.data["state"]) == (
        made.json["id"],
        "running",
    )
