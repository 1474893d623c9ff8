"""What the PBX has up, asked when AMI (re)connects: the simulator answers QueueStatus (members,
waiting callers), CoreShowChannels (bridges) and Status (channel variables) as Asterisk does, and
the snapshot turns a bridged queue caller into a call in progress its agent's screen is told of."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from test_ami_simulator import Session, queue_caller
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from hotline.core import dialplan
from hotline.core.event_bus import EventBus
from hotline.core.events import CallInProgress, CallOffered, Event, PbxCallsListed
from hotline.dialer.ami_client import AMIActionError, AMIListResult
from hotline.dialer.pbx_snapshot import PbxSnapshot, device_of
from hotline.dialer.queue_events import QueueEvents, agent_namer
from hotline.live_state import LiveState, Message
from hotline.pbxsim.ami import AMISimulator

from reactor_run import result_of

AT = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


class SimAMI:
    """The few AMIClient actions the snapshot sends, answered by the simulator in place."""

    def __init__(self, session: Session) -> None:
        self.s, self.n = session, 0

    def _list(self, action: str, *headers: tuple[str, str]) -> Any:
        self.n += 1
        aid = f"a{self.n}"
        self.s.send(action, *headers, action_id=aid)
        mine = [m for m in self.s.read() if m.action_id == aid]
        if mine[0].name == "Error":
            raise AMIActionError(action, mine[0])
        return AMIListResult(mine[0], tuple(mine[1:-1]), mine[-1])

    async def queue_status(self) -> AMIListResult:
        return self._list("QueueStatus")  # type: ignore[no-any-return]

    async def core_show_channels(self) -> AMIListResult:
        return self._list("CoreShowChannels")  # type: ignore[no-any-return]

    async def status(self, channel: str, variables: tuple[str, ...]) -> AMIListResult:
        return self._list("Status", ("Channel", channel), ("Variables", ",".join(variables)))  # type: ignore[no-any-return]


def snapshot(sim: AMISimulator, s: Session) -> list[Event]:
    bus, seen = EventBus(), list[Event]()
    bus.subscribe(seen.append, (Event,))
    events = QueueEvents(bus, lambda: AT, agent_namer("PJSIP/agent{agent}"))
    taker = PbxSnapshot(SimAMI(s), bus, events, lambda: AT)  # type: ignore[arg-type]
    result_of(Deferred.fromCoroutine(taker.take()))
    return seen


def caller_leg(sim: AMISimulator) -> str:
    (name,) = [c.name for c in sim.channels.values() if c.application == "Queue"]
    return name


def test_the_simulator_lists_a_waiting_caller_as_queue_status_does() -> None:
    clock, sim, s = queue_caller(paused=True)
    for _ in range(4):
        clock.advance(1)
    s.send("QueueStatus", action_id="qs")
    (entry,) = s.events("QueueEntry")
    leg = sim.channels[caller_leg(sim)]
    assert (entry["Queue"], entry["Position"], entry["Channel"]) == ("support", "1", leg.name)
    assert entry["Uniqueid"] == leg.uniqueid and int(entry["Wait"]) >= 3
    assert entry.headers[-1] == ("ActionID", "qs")  # app_queue puts it last


def test_a_connected_call_shares_a_bridge_and_status_shows_its_variables() -> None:
    clock, sim, s = queue_caller(talk_s=(60.0, 60.0))
    for _ in range(3):
        clock.advance(1)
    caller = caller_leg(sim)
    s.send("Setvar", ("Channel", caller), ("Variable", dialplan.TICKET), ("Value", "7"))
    s.send("CoreShowChannels", action_id="cs")
    shown = {m["Channel"]: m for m in s.events("CoreShowChannel")}
    bridge = shown[caller]["BridgeId"]
    agent_legs = [m for m in shown.values() if m["BridgeId"] == bridge and m["Channel"] != caller]
    assert bridge and len(agent_legs) == 1
    assert device_of(agent_legs[0]["Channel"]) == "Local/200@queue-agent"
    assert shown[caller].headers[1] == ("ActionID", "cs")  # manager.c puts it first
    s.send("Status", ("Channel", caller), ("Variables", "HOTLINE_TICKET,HOTLINE_UNIT"))
    (status,) = s.events("Status")
    # an unset one as manager.c prints its NULL (Asterisk 22.10.1)
    assert status.get_all("Variable") == ["HOTLINE_TICKET=7", "HOTLINE_UNIT=(null)"]
    (done,) = s.events("StatusComplete")
    assert done["ListItems"] == done["Items"] == "1"
    s.send("Status", ("Channel", "PJSIP/nobody-00000001"), action_id="gone")
    assert s.read()[-1]["Message"] == "No such channel"


def test_the_snapshot_finds_the_call_and_its_agent() -> None:
    clock, sim, s = queue_caller(talk_s=(60.0, 60.0))
    for _ in range(3):
        clock.advance(1)
    caller = sim.channels[caller_leg(sim)]
    s.send("Setvar", ("Channel", caller.name), ("Variable", dialplan.TICKET), ("Value", "7"))
    s.send("Setvar", ("Channel", caller.name), ("Variable", dialplan.UNIT), ("Value", "3-2-301"))
    seen = snapshot(sim, s)
    (call,) = [e for e in seen if isinstance(e, CallInProgress)]
    assert (call.call_id, call.agent, call.queue) == (caller.uniqueid, "200", "support")
    assert (call.ticket_id, call.unit) == (7, "3-2-301")
    (listed,) = [e for e in seen if isinstance(e, PbxCallsListed)]
    assert listed.call_ids == (caller.uniqueid,)
    # The live state of a restarted service: the agent is on the call, their screen told so.
    sent: list[Message] = []
    live = LiveState(ZoneInfo("Asia/Shanghai"), 15.0, Clock().callLater, lambda: AT)
    live.emit = sent.append
    for event in seen:
        live.apply(event)
    (row,) = live.call_rows("200")
    assert (row["state"], row["ticket_id"], row["unit"]) == ("connected", 7, "3-2-301")
    (connected,) = [m for m in sent if m.type == "call.connected"]
    assert connected.agents == frozenset({"200"})
    # AMI back after a drop: the call ended meanwhile, so it is ended on the screen too.
    live.apply(PbxCallsListed(call_ids=(), at=AT))
    (ended,) = [m for m in sent if m.type == "call.ended"]
    assert ended.data["call_id"] == caller.uniqueid and live.call_rows() == []


def test_a_waiting_caller_is_waiting_again() -> None:
    clock, sim, s = queue_caller(paused=True)
    for _ in range(4):
        clock.advance(1)
    seen = snapshot(sim, s)
    (call,) = [e for e in seen if isinstance(e, CallInProgress)]
    assert call.agent is None and (AT - call.since).total_seconds() >= 3
    assert (call.ticket_id, call.unit) == (None, None)  # Status said "(null)": not set
    live = LiveState(ZoneInfo("Asia/Shanghai"), 15.0, Clock().callLater, lambda: AT)
    for event in seen:
        live.apply(event)
    (queue,) = live.queue_rows()
    assert queue["waiting"] == 1 and queue["longest_wait_s"] >= 3


def test_a_call_ringing_an_agent_stays_offered() -> None:
    """AMI back while an agent's phone rings: the caller is still in the queue's list."""
    live = LiveState(ZoneInfo("Asia/Shanghai"), 15.0, Clock().callLater, lambda: AT)
    live.apply(CallOffered(call_id="1.1", agent="101", queue="repairs", caller="139", at=AT))
    waiting = CallInProgress(
        call_id="1.1",
        queue="repairs",
        agent=None,
        caller="139",
        ticket_id=None,
        unit=None,
        since=AT,
        at=AT,
    )
    live.apply(waiting)
    live.apply(PbxCallsListed(call_ids=("1.1",), at=AT))
    (row,) = live.call_rows("101")
    assert row["state"] == "offered"
