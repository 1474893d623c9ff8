"""The live state and its stream, without a network: the messages each event makes, who sees
which, replay after Last-Event-ID, the reset, a slow reader dropped, and no subscriber left
behind by clients that come and go."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sse_client import kept
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.web.server import Request

from hotline.core.events import (
    AgentCallDone,
    AttemptFinished,
    CallArrived,
    CallConnected,
    CallEnded,
    CallerIdentified,
    CallOffered,
    HandedToQueue,
    OriginatePlaced,
    OutboundAnswered,
    QueueCallerJoined,
    QueueCallerLeft,
    QueueMemberState,
    TicketChanged,
)
from hotline.core.users import Principal, UserRole
from hotline.live_state import LiveState
from hotline.live_stream import KEEPALIVE, MAX_PENDING, RESET, LiveStream

AT = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
TZ = ZoneInfo("Asia/Shanghai")
LI = Principal("li", UserRole.AGENT, 1, "101")
CHEN = Principal("chen", UserRole.AGENT, 2, "102")
WANG = Principal("wang", UserRole.SUPERVISOR, 3, "201")


class FakeChannel:
    def __init__(self) -> None:
        self.transport = self
        self.aborted = False

    def abortConnection(self) -> None:
        self.aborted = True


class FakeRequest:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.headers: dict[str, str] = {}
        self.channel: FakeChannel | None = FakeChannel()
        self.producer: Any = None
        self._finish: Deferred[None] = Deferred()

    def setHeader(self, name: str, value: str) -> None:
        self.headers[name] = value

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.producer = producer

    def notifyFinish(self) -> Deferred[None]:
        return self._finish

    def finish(self) -> None:
        pass

    def gone(self) -> None:
        self._finish.errback(ConnectionError("client went away"))
        self._finish.addErrback(lambda _: None)

    def as_request(self) -> Request:
        return cast(Request, self)

    def events(self) -> list[str]:
        return [
            line.removeprefix(b"event: ").decode()
            for chunk in self.written
            for line in chunk.split(b"\n")
            if line.startswith(b"event: ")
        ]


def make() -> tuple[LiveStream, Clock]:
    clock = Clock()
    state = LiveState(TZ, 15.0, clock.callLater, lambda: AT)
    return LiveStream(state, clock, wall=lambda: 1_800_000_000.0), clock


def member(agent: str, device: str = "free", paused: bool = False) -> QueueMemberState:
    return QueueMemberState(
        agent=agent,
        name=f"Agent {agent}",
        queue="enquiries",
        device=device,
        paused=paused,
        paused_reason="lunch" if paused else None,
        wrapup_seconds=10,
        at=AT,
    )


def a_call(live: LiveStream, call_id: str = "1.1", agent: str = "101") -> None:
    live.take(
        CallerIdentified(
            call_id=call_id,
            unit="3-1-202",
            how="caller-id",
            resident_id=7,
            resident_name="Li Na",
            units=("3-1-202",),
        )
    )
    live.take(
        HandedToQueue(
            call_id=call_id, queue="enquiries", ticket_id=None, unit="3-1-202", resident_id=7
        )
    )
    live.take(
        QueueCallerJoined(call_id=call_id, queue="enquiries", caller="5551234", position=1, at=AT)
    )
    live.take(CallOffered(call_id=call_id, agent=agent, queue="enquiries", caller="5551234", at=AT))


def test_an_offer_carries_what_the_flow_settled_to_its_agent_only() -> None:
    live, _ = make()
    requests = {p.name: FakeRequest() for p in (LI, CHEN, WANG)}
    for p in (LI, CHEN, WANG):
        live.open(requests[p.name].as_request(), p, None)
    live.take(member("101"))
    live.take(member("102"))
    a_call(live)
    offer = next(e for e in kept(live) if e.type == "call.offered")
    assert offer.data["unit"] == "3-1-202" and offer.data["resident_name"] == "Li Na"
    assert offer.data["at"] == "2026-12-02T10:00:00+08:00"
    assert "call.offered" in requests["li"].events()
    assert "call.offered" in requests["wang"].events()
    assert not [e for e in requests["chen"].events() if e.startswith("call.")]
    assert "agent.state" in requests["chen"].events()  # the queue board is everyone's
    assert "queue.state" in requests["chen"].events()


def test_restricted_tickets_are_for_supervisors() -> None:
    live, _ = make()
    li, wang = FakeRequest(), FakeRequest()
    live.open(li.as_request(), LI, None)
    live.open(wang.as_request(), WANG, None)
    for restricted in (False, True):
        live.take(
            TicketChanged(
                ticket_id=1,
                kind="complaint",
                state="new",
                unit="3-1-202",
                restricted=restricted,
                at=AT,
            )
        )
    assert li.events().count("ticket.changed") == 1
    assert wang.events().count("ticket.changed") == 2


def test_a_reconnecting_client_gets_what_it_missed_or_a_reset() -> None:
    live, _ = make()
    live.take(member("101"))
    seen = live.seq
    a_call(live)
    again = FakeRequest()
    live.open(again.as_request(), LI, str(seen))
    missed = [
        e
        for e in kept(live)
        if e.seq > seen and (not e.type.startswith("call.") or "101" in e.agents)
    ]
    assert again.events() == [e.type for e in missed]
    assert "call.offered" in again.events() and "call.identified" not in again.events()
    replayed_ids = [
        int(line[4:]) for w in again.written for line in w.split(b"\n") if line.startswith(b"id: ")
    ]
    assert replayed_ids == [e.seq for e in missed]
    for stale in ("1", "not-a-number", str(live.seq + 5)):
        old = FakeRequest()
        live.open(old.as_request(), LI, stale)
        assert old.written[1] == RESET


def test_the_connection_and_the_state_agree() -> None:
    live, clock = make()
    live.take(member("101"))
    a_call(live)
    state = live.state
    assert state.call_rows("101")[0]["state"] == "offered"
    assert state.call_rows("102") == []
    live.take(QueueCallerLeft(call_id="1.1", queue="enquiries", abandoned=False, at=AT))
    live.take(CallConnected(call_id="1.1", agent="101", queue="enquiries", hold_seconds=4, at=AT))
    assert {a["agent"]: a["state"] for a in state.agents()} == {"101": "on_call"}
    live.take(AgentCallDone(call_id="1.1", agent="101", queue="enquiries", talk_seconds=30, at=AT))
    assert state.agents()[0]["state"] == "wrap_up"
    clock.advance(10)
    assert state.agents()[0]["state"] == "free"
    (row,) = state.queue_rows()
    assert (row["answered_today"], row["within_three_rings_today"], row["waiting"]) == (1, 1, 0)
    assert state.call_rows() == []


def test_an_abandon_counts_against_the_queue() -> None:
    live, _ = make()
    live.take(QueueCallerJoined(call_id="2.1", queue="enquiries", caller=None, position=1, at=AT))
    assert live.state.queue_rows()[0]["waiting"] == 1
    live.take(
        QueueCallerLeft(
            call_id="2.1", queue="enquiries", abandoned=True, at=AT + timedelta(seconds=20)
        )
    )
    (row,) = live.state.queue_rows()
    assert (row["waiting"], row["abandoned_today"], row["abandon_rate_today"]) == (0, 1, 1.0)


def test_a_paused_agent_is_shown_paused_with_the_reason() -> None:
    live, _ = make()
    live.take(member("101", paused=True))
    (agent,) = live.state.agents()
    assert (agent["state"], agent["paused_reason"]) == ("paused", "lunch")


def test_a_slow_reader_is_dropped_after_a_bound() -> None:
    live, _ = make()
    slow = FakeRequest()
    live.open(slow.as_request(), WANG, None)
    slow.producer.pauseProducing()  # its socket's buffer is full
    for n in range(MAX_PENDING + 1):
        live.take(
            TicketChanged(
                ticket_id=n + 1, kind="repair", state="new", unit=None, restricted=False, at=AT
            )
        )
    assert slow.channel is not None and slow.channel.aborted
    assert live.subscribers == set() and live.dropped == 1


def test_a_paused_reader_catches_up_when_resumed() -> None:
    live, _ = make()
    reader = FakeRequest()
    live.open(reader.as_request(), WANG, None)
    reader.producer.pauseProducing()
    live.take(
        TicketChanged(ticket_id=1, kind="repair", state="new", unit=None, restricted=False, at=AT)
    )
    assert reader.events() == []
    reader.producer.resumeProducing()
    assert reader.events() == ["ticket.changed"]


def test_clients_that_come_and_go_leave_nothing_behind() -> None:
    live, clock = make()
    live.start()
    for _ in range(2_000):
        request = FakeRequest()
        live.open(request.as_request(), LI, None)
        request.gone()
    assert live.subscribers == set()
    stays = FakeRequest()
    live.open(stays.as_request(), LI, None)
    clock.advance(15)
    assert stays.written[-1] == KEEPALIVE
    live.stop()


def test_the_ring_buffer_keeps_five_minutes_and_is_bounded() -> None:
    wall = [1_800_000_000.0]
    clock = Clock()
    live = LiveStream(LiveState(TZ, 15.0, clock.callLater, lambda: AT), clock, wall=lambda: wall[0])
    for n in range(12_000):
        live.take(
            TicketChanged(
                ticket_id=n + 1, kind="repair", state="new", unit=None, restricted=False, at=AT
            )
        )
    assert len(live.buffer) == 12_000  # all within five minutes
    wall[0] += 301
    live.take(
        TicketChanged(ticket_id=1, kind="repair", state="new", unit=None, restricted=False, at=AT)
    )
    assert len(live.buffer) == 10_000


def test_the_ring_buffer_leaves_the_garbage_collector_nothing_to_walk() -> None:
    # Five minutes of a busy centre's messages stay in the buffer: the collector's full passes
    # would walk every one of them, stalling every call in flight, were they tracked.
    live, _ = make()
    live.take(member("101"))
    a_call(live)
    gc.collect()
    gc.collect()  # an entry holding a tuple of agents is let go a pass after that tuple
    assert len(live.buffer) > 5
    assert not [entry for entry in live.buffer if gc.is_tracked(entry)]


def test_a_dialer_call_pops_with_its_campaign_and_leaves_nothing_behind() -> None:
    live, _ = make()
    live.take(
        OriginatePlaced(
            call_id="lead-4-1",
            number="13800138000",
            lead_id=4,
            campaign_id=2,
            campaign_kind="arrears",
            mode="predictive",
            resident="张伟",
            unit="3-1-201",
            agent=None,
        )
    )
    live.take(OutboundAnswered(call_id="lead-4-1", number="13800138000"))
    live.take(CallOffered(call_id="lead-4-1", agent="101", queue="outbound", caller=None, at=AT))
    offer = next(e for e in kept(live) if e.type == "call.offered").data
    assert (offer["campaign_id"], offer["lead_id"], offer["unit"]) == (2, 4, "3-1-201")
    live.take(AttemptFinished(call_id="lead-4-1", disposition="answered", next_step="done"))
    # An outbound campaign's own flow (the landing channel's uniqueid) ends without a trace.
    live.take(
        CallArrived(
            call_id="9.9",
            direction="out",
            route="outbound/arrears",
            caller=None,
            callee=None,
            uniqueid="9.9",
            arrived_at=AT,
            arrival_known=False,
        )
    )
    live.take(
        CallEnded(
            call_id="9.9", direction="out", disposition="done", seconds=3.0, path=(), ticket_id=None
        )
    )
    assert live.state.calls == {} and live.state.placed == {}
