"""Simulator behaviour beyond the transcripts: residents, agents, persistence, hooks."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from twisted.internet import defer
from twisted.internet.protocol import connectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from hotline.core import dialplan as contract
from hotline.dialer.ami_protocol import AMIMessage, AMIParser, format_action
from hotline.pbxsim.ami import AMISimulator
from hotline.pbxsim.ami_queues import default_queues
from hotline.pbxsim.ami_residents import RandomResidents, ResidentModel, ResidentPlan
from hotline.pbxsim.ami_session import AMISession


class Session:
    """A raw AMI connection to the simulator over a StringTransport."""

    def __init__(self, sim: AMISimulator) -> None:
        self.proto = AMISession(sim)
        self.transport = StringTransport()
        self.proto.makeConnection(self.transport)
        self.parser = AMIParser()
        self.received: list[AMIMessage] = []

    def send(self, action: str, *headers: tuple[str, str], action_id: str = "x") -> None:
        self.proto.dataReceived(format_action(action, headers, action_id=action_id))

    def login(self, secret: str = "dialer-secret") -> None:
        self.send("Login", ("Username", "dialer"), ("Secret", secret), action_id="login")

    def read(self) -> list[AMIMessage]:
        new = self.parser.feed(self.transport.value())
        self.transport.clear()
        self.received += new
        return new

    def events(self, name: str) -> list[AMIMessage]:
        self.read()
        return [m for m in self.received if m.kind == "event" and m.name == name]

    def close(self) -> None:
        self.proto.connectionLost(connectionDone)


class Fixed(ResidentModel):
    def __init__(self, plan: ResidentPlan) -> None:
        self.fixed = plan

    def plan(self, number: str, context: str) -> ResidentPlan | None:
        return self.fixed


def originate(s: Session, aid: str, number: str = "100", **variables: str) -> None:
    headers = [
        ("Channel", f"Local/{number}@residents"),
        ("Context", contract.FLOW_CONTEXT),
        ("Exten", "s"),
        ("Priority", "1"),
        ("Timeout", "15000"),
        ("CallerID", '"Dialer" <5550100>'),
    ]
    headers += [("Variable", f"{k}={v}") for k, v in variables.items()]
    s.send("Originate", *headers, ("Async", "true"), action_id=aid)


def test_failed_login_waits_a_second_then_closes() -> None:
    clock = Clock()
    s = Session(AMISimulator(clock))
    s.login("nope")
    assert s.read() == []
    clock.advance(0.99)
    assert s.read() == []
    clock.advance(0.02)
    (m,) = s.read()
    assert (m.name, m["Message"]) == ("Error", "Authentication failed")
    assert s.transport.disconnecting


def test_every_originate_gets_exactly_one_outcome() -> None:
    clock = Clock()
    residents = RandomResidents(rng=random.Random(7), ring_s=(0.5, 20.0))
    sim = AMISimulator(clock, residents=residents)
    s = Session(sim)
    s.login()
    for i in range(200):
        originate(s, f"o-{i}", number=str(1000 + i))
    for _ in range(120):
        clock.advance(1)
    outcomes = s.events("OriginateResponse")
    assert sorted(m.get("ActionID", "") for m in outcomes) == sorted(f"o-{i}" for i in range(200))
    reasons = Counter(m["Reason"] for m in outcomes)
    assert set(reasons) <= {"0", "1", "3", "4", "5"}
    assert reasons["4"] > 60 and reasons["3"] > 0 and reasons["5"] > 0  # seeded mix
    assert sim.channels == {} and sim.calls == {}
    hangups = s.events("Hangup")
    assert len(hangups) == 400  # both halves of every call
    causes = Counter(m["Cause"] for m in hangups)
    assert causes["21"] > 0 and causes["1"] > 0  # rejected and unallocated numbers


def test_reject_and_unallocated_causes() -> None:
    for outcome, cause in (("reject", "21"), ("unallocated", "1"), ("busy", "17")):
        clock = Clock()
        s = Session(AMISimulator(clock, residents=Fixed(ResidentPlan(outcome))))
        s.login()
        originate(s, "o")
        clock.advance(1)
        (hangup_two,) = [m for m in s.events("Hangup") if m["Channel"].endswith(";2")]
        assert hangup_two["Cause"] == cause
        (resp,) = s.events("OriginateResponse")
        assert resp["Response"] == "Failure"
        assert resp["Channel"] == "Local/100@residents"
        # ami-09: a callee that hangs up unanswered leaves Reason 0, its cause on both halves.
        assert resp["Reason"] == ("5" if outcome == "busy" else "0")


def test_channels_and_variables_outlive_the_session() -> None:
    clock = Clock()
    plan = ResidentPlan("answer", ring_s=2, think_s=5, talk_s=30)
    sim = AMISimulator(clock, residents=Fixed(plan))
    first = Session(sim)
    first.login()
    originate(first, "o-1", **{contract.LEAD_ID: "lead-7", contract.CAMPAIGN_ID: "camp42"})
    first.close()
    clock.advance(3)  # answered while nobody was connected
    second = Session(sim)
    second.login()
    second.send("CoreShowChannels", action_id="c")
    second.read()
    listed = [m for m in second.received if m.name == "CoreShowChannel"]
    assert sorted(m["Channel"][-2:] for m in listed) == [";1", ";2"]
    one = next(m for m in listed if m["Channel"].endswith(";1"))
    assert (one["ChannelStateDesc"], one["Context"]) == ("Up", contract.FLOW_CONTEXT)
    second.send(
        "Getvar", ("Channel", one["Channel"]), ("Variable", contract.LEAD_ID), action_id="g"
    )
    (value,) = [m for m in second.read() if m.action_id == "g"]
    assert value["Value"] == "lead-7"
    clock.advance(60)
    # The landing Wait(10) ends before the resident finishes talking.
    assert [m["Channel"][-2:] for m in second.events("Hangup")] == [";1", ";2"]
    assert sim.channels == {}


def test_answered_call_is_handed_to_on_answered_and_waits_for_it() -> None:
    clock = Clock()
    handed: list[dict[str, Any]] = []
    flow: defer.Deferred[None] = defer.Deferred()

    def on_answered(info: dict[str, Any]) -> defer.Deferred[None]:
        handed.append(info)
        return flow

    sim = AMISimulator(clock, residents=Fixed(ResidentPlan("answer")), on_answered=on_answered)
    s = Session(sim)
    s.login()
    originate(s, "o-1", **{contract.LEAD_ID: "lead-9"})
    clock.advance(100)
    (info,) = handed
    assert info["variables"] == {contract.LEAD_ID: "lead-9"}
    assert info["channel"].endswith(";1")
    assert s.events("Hangup") == []  # still talking to the landing flow
    flow.callback(None)
    assert [m["Channel"][-2:] for m in s.events("Hangup")] == [";1", ";2"]


def test_hangup_action_ends_a_ringing_call() -> None:
    clock = Clock()
    sim = AMISimulator(clock, residents=Fixed(ResidentPlan("noanswer")))
    s = Session(sim)
    s.login()
    originate(s, "o-1")
    clock.advance(1)
    (chan,) = [c for c in sim.channels if c.endswith(";2")]
    s.send("Hangup", ("Channel", chan), action_id="h")
    assert [m["Message"] for m in s.read() if m.action_id == "h"] == ["Channel Hungup"]
    assert sim.channels == {}
    (resp,) = s.events("OriginateResponse")
    assert resp["Reason"] == "1"


def test_agents_take_queue_calls_and_wrap_up() -> None:
    clock = Clock()
    sim = AMISimulator(clock, queues=default_queues(clock))
    s = Session(sim)
    s.login()
    for i in range(2):
        s.send(
            "Originate",
            ("Channel", "Local/7000@queue-test"),
            ("Application", "Wait"),
            ("Data", "30"),
            ("CallerID", f'"Caller {i}" <555700{i}>'),
            ("Async", "true"),
            action_id=f"q-{i}",
        )
    for _ in range(60):
        clock.advance(1)
    assert len(s.events("QueueCallerJoin")) == 2
    assert len(s.events("AgentConnect")) == 2  # one agent, calls served one after another
    assert len(s.events("AgentComplete")) == 2
    (member,) = sim.queues["support"].members
    assert member.calls_taken == 2 and not member.in_call


def queue_caller(**member: Any) -> tuple[Clock, AMISimulator, Session]:
    """A caller in queue-test (30 s in `support`), whose one member is set as `member` says."""
    clock = Clock()
    queues = default_queues(clock)
    for name, value in member.items():
        setattr(queues[0].members[0], name, value)
    sim = AMISimulator(clock, queues=queues)
    s = Session(sim)
    s.login()
    call_the_queue(s, "q")
    return clock, sim, s


def call_the_queue(s: Session, action_id: str) -> None:
    s.send("Originate", ("Channel", "Local/7000@queue-test"), ("Application", "Wait"),
           ("Data", "60"), ("Async", "true"), action_id=action_id)  # fmt: skip


def test_queue_summary_counts_a_caller_waiting() -> None:
    clock, _, s = queue_caller(paused=True)  # nobody to take the call: it waits
    for _ in range(5):
        clock.advance(1)
    s.send("QueueSummary", ("Queue", "support"), action_id="sum")
    (summary,) = s.events("QueueSummary")
    assert summary["Callers"] == "1" and int(summary["LongestHoldTime"]) >= 3


def test_a_member_who_never_answers_rings_out_until_paused() -> None:
    # The member's phone rings 15 s (queues.conf timeout), the caller waits 30 s.
    clock, sim, s = queue_caller(answers=False)
    (member,) = sim.queues["support"].members
    for _ in range(16):
        clock.advance(1)
    called, again = s.events("AgentCalled")  # rung again at once (outbound: retry = 0)
    (missed,) = s.events("AgentRingNoAnswer")
    assert (missed["Queue"], missed["Interface"], missed["MemberName"], missed["RingTime"]) == (
        "support", member.interface, member.name, "15000",
    )  # fmt: skip
    assert missed["DestChannel"] == called["DestChannel"] != again["DestChannel"]
    leg = called["DestChannel"]
    assert [m["DialStatus"] for m in s.events("DialEnd") if m["DestChannel"] == leg] == ["NOANSWER"]
    assert not s.events("AgentConnect") and not s.events("QueueCallerLeave")
    # The second ring ends with the caller's 30 s in the queue.
    for _ in range(20):
        clock.advance(1)
    assert [m["RingTime"] for m in s.events("AgentRingNoAnswer")] == ["15000", "15000"]
    assert len(s.events("QueueCallerLeave")) == 1 and sim.channels == {}
    # Paused (the dialer's QueuePause), the member is not rung any more.
    s.send("QueuePause", ("Queue", "support"), ("Interface", member.interface),
           ("Paused", "true"), ("Reason", "ring-no-answer"), action_id="p")  # fmt: skip
    call_the_queue(s, "q2")
    for _ in range(40):
        clock.advance(1)
    assert len(s.events("AgentCalled")) == 2 and len(s.events("QueueCallerLeave")) == 2


def test_a_users_eventfilter_denial_keeps_those_events_from_it() -> None:
    """manager.conf's `eventfilter = !Event: Newexten` for the user: Asterisk never sends them."""
    clock = Clock()
    sim = AMISimulator(
        clock, queues=default_queues(clock), denied_events={"dialer": ("Event: Newexten",)}
    )
    s = Session(sim)
    s.login()
    call_the_queue(s, "q")
    for _ in range(5):
        clock.advance(1)
    assert s.events("QueueCallerJoin") and not s.events("Newexten")
