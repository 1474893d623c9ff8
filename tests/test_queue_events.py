"""app_queue's AMI events as typed events: fed the golden Asterisk 22 capture, and the simulated
PBX's inbound queue call, whose events carry the golden's headers in the golden's order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from hotline.core.event_bus import EventBus
from hotline.core.events import (
    AgentCallDone,
    CallConnected,
    CallOffered,
    Event,
    QueueCallerJoined,
    QueueCallerLeft,
    QueueMemberState,
)
from hotline.dialer.ami_protocol import AMIMessage, AMIParser
from hotline.dialer.queue_events import QueueEvents, agent_namer
from hotline.pbxsim.ami import AMISimulator
from hotline.pbxsim.ami_inbound import InboundCall
from hotline.pbxsim.ami_queues import Queue, QueueMember
from hotline.pbxsim.ami_session import AMISession

from golden import FROM_ASTERISK, golden_files, stream

AT = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
QUEUE_EVENTS = (
    "QueueCallerJoin",
    "AgentCalled",
    "QueueMemberStatus",
    "QueueCallerLeave",
    "AgentConnect",
    "AgentComplete",
)


def golden_events() -> list[AMIMessage]:
    (path,) = golden_files("ami-11-queue.raw")
    return [m for m in AMIParser().feed(stream(path, FROM_ASTERISK)) if m.kind == "event"]


def translate(messages: list[AMIMessage], template: str = "PJSIP/agent{agent}") -> list[Event]:
    bus, seen = EventBus(), list[Event]()
    bus.subscribe(seen.append, (Event,))
    events = QueueEvents(bus, lambda: AT, agent_namer(template))
    for m in messages:
        events.on_event(m)
    return seen


def test_the_golden_queue_call_becomes_typed_events() -> None:
    messages = golden_events()
    caller = next(m for m in messages if m.name == "QueueCallerJoin")["Uniqueid"]
    calls = [e for e in translate(messages) if not isinstance(e, QueueMemberState)]
    assert [type(e) for e in calls] == [
        QueueCallerJoined,
        CallOffered,
        QueueCallerLeft,
        CallConnected,
        AgentCallDone,
    ]
    assert {e.call_id for e in calls if hasattr(e, "call_id")} == {caller}
    offered = calls[1]
    assert isinstance(offered, CallOffered)
    assert (offered.agent, offered.queue, offered.caller) == ("200", "support", "5557000")
    done = calls[-1]
    assert isinstance(done, AgentCallDone) and done.talk_seconds == 3
    left = calls[2]
    assert isinstance(left, QueueCallerLeft) and not left.abandoned


def test_member_states_follow_the_pauses_and_the_call() -> None:
    states = [e for e in translate(golden_events()) if isinstance(e, QueueMemberState)]
    assert [(s.agent, s.device, s.paused, s.paused_reason) for s in states] == [
        ("200", "free", False, None),  # QueueStatus's QueueMember, idle
        ("200", "free", True, "lunch"),  # QueuePause
        ("200", "free", False, None),  # unpause
        ("200", "busy", False, None),  # answered: Status 2
        ("200", "busy", False, None),  # QueueStatus during the call
        ("200", "free", False, None),  # QueueStatus after the call
        ("200", "free", False, None),  # QueueMemberStatus after AgentComplete
    ]


@pytest.mark.parametrize(
    ("template", "interface", "agent"),
    [
        ("PJSIP/agent{agent}", "PJSIP/agent101", "101"),
        ("PJSIP/{agent}", "PJSIP/desk7", "desk7"),  # a site whose endpoints are the extensions
        ("PJSIP/{agent}", "Local/200@queue-agent/n", "200"),
        ("PJSIP/agent{agent}", "SIP/desk", "SIP/desk"),
    ],
)
def test_an_agent_is_named_by_the_template(template: str, interface: str, agent: str) -> None:
    assert agent_namer(template)(interface) == agent


def test_a_dialer_call_is_named_by_its_call_id() -> None:
    bus, seen = EventBus(), list[Event]()
    bus.subscribe(seen.append, (Event,))
    events = QueueEvents(
        bus, lambda: AT, agent_namer("PJSIP/agent{agent}"), {"99.1": "lead-4-1"}.get
    )
    msg = next(m for m in golden_events() if m.name == "AgentCalled")
    linked = AMIMessage(tuple((k, "99.1" if k == "Linkedid" else v) for k, v in msg.headers))
    events.on_event(linked)
    assert [e.call_id for e in seen if isinstance(e, CallOffered)] == ["lead-4-1"]


def _simulated_inbound(patience: float | None = None, ring: float = 0.0) -> list[AMIMessage]:
    clock = Clock()
    member = QueueMember("Agent Local 200", "Local/200@queue-agent/n", ring_s=ring)
    sim = AMISimulator(clock, queues=[Queue("support", [member])])
    session = AMISession(sim)
    transport = StringTransport()
    session.makeConnection(transport)
    session.dataReceived(b"Action: Login\r\nUsername: dialer\r\nSecret: dialer-secret\r\n\r\n")
    call = InboundCall(
        sim, "Local/8000@hotline-00000001;2", "1790000000.1000001", ("5551234", "Li Na")
    )
    call.queue("support", 300.0, 9, patience)
    for _ in range(200):
        clock.advance(0.1)
    assert call.done
    return [m for m in AMIParser().feed(transport.value()) if m.kind == "event"]


def _keys(m: AMIMessage) -> list[str]:
    return [k for k, _ in m.headers]


def test_the_inbound_queue_call_sends_the_golden_headers_in_order() -> None:
    golden = {m.name: _keys(m) for m in golden_events() if m.name in QUEUE_EVENTS}
    ours = _simulated_inbound(ring=3.0)
    names = [m.name for m in ours if m.name in QUEUE_EVENTS]
    assert names[:2] == ["QueueCallerJoin", "AgentCalled"] and "AgentComplete" in names
    for m in ours:
        if m.name in golden:
            assert _keys(m) == golden[m.name], m.name
    caller = {m["Uniqueid"] for m in ours if m.name in ("AgentCalled", "AgentConnect")}
    assert caller == {"1790000000.1000001"}


def test_an_agent_rings_for_its_ring_time_before_answering() -> None:
    messages = _simulated_inbound(ring=3.0)
    events = translate(messages)
    offered = next(i for i, e in enumerate(events) if isinstance(e, CallOffered))
    connected = next(i for i, e in enumerate(events) if isinstance(e, CallConnected))
    assert offered < connected
    connect = next(m for m in messages if m.name == "AgentConnect")
    assert connect["HoldTime"] == "3"


def test_a_caller_out_of_patience_abandons() -> None:
    messages = _simulated_inbound(patience=1.0, ring=3.0)
    names = [m.name for m in messages]
    assert names.index("QueueCallerAbandon") < names.index("QueueCallerLeave")
    assert "AgentConnect" not in names
    left = [e for e in translate(messages) if isinstance(e, QueueCallerLeft)]
    assert [e.abandoned for e in left] == [True, False]
