"""Outbound outcomes read from the real Asterisk transcripts, in the order Asterisk sent them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from hotline.core import dialplan as contract
from hotline.core.vocabulary import Disposition
from hotline.dialer.ami_client import AMIClient, AMIClientProtocol, AMIConfig
from hotline.dialer.ami_protocol import AMIMessage, AMIParser, format_action
from hotline.dialer.call_tracker import CAUSE_GRACE, Attempt, CallTracker
from hotline.dialer.dispositions import disposition
from hotline.dialer.preview_dispositions import resident_disposition
from hotline.pbxsim.ami import AMISimulator
from hotline.pbxsim.ami_residents import AgentPlan, ResidentModel, ResidentPlan
from hotline.pbxsim.ami_session import AMISession

from golden import golden_dir, stream

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.answered_ids: list[str] = []
        self.connected_ids: list[str] = []
        self.outcomes: dict[str, tuple[Disposition, list[int]]] = {}
        self.agent_missed_ids: list[str] = []

    def answered(self, attempt: Attempt) -> None:
        self.answered_ids.append(attempt.call_id)

    def connected(self, attempt: Attempt) -> None:
        self.connected_ids.append(attempt.call_id)

    def finished(self, attempt: Attempt, outcome: Disposition) -> None:
        self.outcomes[attempt.call_id] = (outcome, list(attempt.causes))

    def agent_missed(self, attempt: Attempt) -> None:
        self.agent_missed_ids.append(attempt.call_id)


def replay(name: str, call_ids: list[str], expect_agent: bool = False) -> Recorder:
    """The transcripts' Originates set LEAD_ID=lead-7 (and CAMPAIGN_ID=camp42)."""
    recorder = Recorder()
    now = [T0]
    tracker = CallTracker(lambda: now[0], recorder)
    for n, call_id in enumerate(call_ids):
        variables = {contract.LEAD_ID: "lead-7"} if n == 0 else {}
        tracker.dialled(Attempt(call_id, n, 1, "100", expect_agent, T0, variables=variables))
    for msg in AMIParser().feed(stream(golden_dir() / f"{name}.raw", ">>")):
        if msg.kind == "response" and msg.get("Response") == "Error" and msg.action_id in call_ids:
            tracker.refused(msg.action_id)
        tracker.on_event(msg)
    now[0] += CAUSE_GRACE  # the transcript is over: no more hang-ups will come
    tracker.expire()
    return recorder


def test_answered_call_finishes_after_both_halves_hung_up() -> None:
    r = replay("ami-04-originate-answered-async", ["orig-answer-1"])
    assert r.answered_ids == ["orig-answer-1"]
    assert r.outcomes["orig-answer-1"][0] is Disposition.ANSWERED


def test_answered_call_that_expected_an_agent_and_got_none_is_abandoned() -> None:
    r = replay("ami-04-originate-answered-async", ["orig-answer-1"], expect_agent=True)
    assert r.outcomes["orig-answer-1"][0] is Disposition.ABANDONED


def test_no_answer_reason_3() -> None:
    outcome, _ = replay("ami-06-originate-noanswer", ["orig-noanswer-1"]).outcomes[
        "orig-noanswer-1"
    ]
    assert outcome is Disposition.NO_ANSWER


def test_busy_reason_5_though_the_response_comes_after_the_hangups() -> None:
    # This Originate set no variable, and a failed OriginateResponse names no Uniqueid: the
    # hang-ups are tied to it through the channel it dialled.
    outcome, causes = replay("ami-07-originate-busy", ["orig-busy-1"]).outcomes["orig-busy-1"]
    assert outcome is Disposition.BUSY and 17 in causes


def test_a_rejected_call_is_rejected_though_asterisk_says_reason_0() -> None:
    # ami-09: the callee leg hung up with cause 21; OriginateResponse says only Reason 0.
    outcome, causes = replay("ami-09-originate-rejected-cause21", ["orig-reject-1"]).outcomes[
        "orig-reject-1"
    ]
    assert outcome is Disposition.REJECTED and causes == [21, 21]


def test_hangups_of_another_channel_are_not_taken_for_a_failed_originate() -> None:
    recorder = Recorder()
    now = [T0]
    tracker = CallTracker(lambda: now[0], recorder)
    tracker.dialled(Attempt("c1", 7, 1, "100", False, T0))
    events = [
        (("Event", "Hangup"), ("Channel", "Local/200@sim-reject-0000000e;2"),
         ("Linkedid", "9.1"), ("Cause", "21")),
        (("Event", "OriginateResponse"), ("ActionID", "c1"), ("Channel", "Local/100@sim-reject"),
         ("Reason", "0"), ("Uniqueid", "<unknown>")),
    ]  # fmt: skip
    for headers in events:
        tracker.on_event(AMIMessage(headers))
    tracker.expire()
    assert recorder.outcomes == {}  # waiting for Local/100's own hang-up
    now[0] += CAUSE_GRACE
    tracker.expire()
    assert recorder.outcomes == {"c1": (Disposition.FAILED, [])}


def test_a_callee_cause_that_comes_after_the_failed_response_still_decides() -> None:
    # Asterisk 22.10.1 sent ami-09's events in this order too: Reason 0 first, cause 21 after.
    recorder = Recorder()
    now = [T0]
    tracker = CallTracker(lambda: now[0], recorder)
    tracker.dialled(Attempt("c1", 7, 1, "100", False, T0))
    events = [
        (("Event", "Newchannel"), ("Channel", "Local/100@sim-reject-0000000e;1"),
         ("Uniqueid", "9.1"), ("Linkedid", "9.1")),
        (("Event", "Newchannel"), ("Channel", "Local/100@sim-reject-0000000e;2"),
         ("Uniqueid", "9.2"), ("Linkedid", "9.1")),
        (("Event", "OriginateResponse"), ("ActionID", "c1"), ("Channel", "Local/100@sim-reject"),
         ("Reason", "0"), ("Uniqueid", "<unknown>")),
        (("Event", "Hangup"), ("Channel", "Local/100@sim-reject-0000000e;2"),
         ("Linkedid", "9.1"), ("Cause", "21")),
        (("Event", "Hangup"), ("Channel", "Local/100@sim-reject-0000000e;1"),
         ("Linkedid", "9.1"), ("Cause", "21")),
    ]  # fmt: skip
    for headers in events:
        tracker.on_event(AMIMessage(headers))
        now[0] += CAUSE_GRACE / 4
        tracker.expire()
    assert recorder.outcomes == {"c1": (Disposition.REJECTED, [21, 21])}


def test_hangup_causes_are_tied_through_the_channel_variables() -> None:
    recorder = Recorder()
    tracker = CallTracker(lambda: T0, recorder)
    tracker.dialled(Attempt("c1", 7, 1, "100", False, T0, variables={contract.CALL_ID: "c1"}))
    events = [
        (("Event", "Newchannel"), ("Uniqueid", "9.1"), ("Linkedid", "9.1")),
        (("Event", "VarSet"), ("Linkedid", "9.1"), ("Variable", contract.CALL_ID), ("Value", "c1")),
        (("Event", "Newchannel"), ("Uniqueid", "9.2"), ("Linkedid", "9.1")),
        (("Event", "Hangup"), ("Linkedid", "9.1"), ("Cause", "0")),
        (("Event", "Hangup"), ("Linkedid", "9.1"), ("Cause", "21")),
        (
            ("Event", "OriginateResponse"),
            ("ActionID", "c1"),
            ("Reason", "1"),
            ("Uniqueid", "<unknown>"),
        ),
    ]
    for headers in events:
        tracker.on_event(AMIMessage(headers))
    assert recorder.outcomes == {"c1": (Disposition.REJECTED, [0, 21])}


def test_failures_reason_0_and_a_refused_originate() -> None:
    ids = [
        "orig-fail-noctx",
        "orig-fail-noexten",
        "orig-fail-sync",
        "orig-fail-target",
        "orig-fail-tech",
    ]
    r = replay("ami-05-originate-failures", ids)
    assert {k: v[0] for k, v in r.outcomes.items()} == {k: Disposition.FAILED for k in ids}
    assert r.answered_ids == []


@pytest.mark.parametrize(
    ("reason", "causes", "expected"),
    [
        (1, [0, 21], Disposition.REJECTED),
        (0, [1], Disposition.UNALLOCATED),
        (0, [28], Disposition.UNALLOCATED),
        (1, [16, 1], Disposition.UNALLOCATED),
        (8, [], Disposition.CONGESTION),
        (0, [34], Disposition.CONGESTION),
        (None, [], Disposition.FAILED),
        # The callee leg's cause, when telling, says more than the Reason.
        (3, [16, 21], Disposition.REJECTED),
        (5, [1], Disposition.UNALLOCATED),
        (3, [16, 19], Disposition.NO_ANSWER),
        (5, [16], Disposition.BUSY),
    ],
)
def test_causes_the_transcripts_do_not_show(
    reason: int | None, causes: list[int], expected: Disposition
) -> None:
    assert disposition(reason, causes) is expected


def test_other_calls_hangups_do_not_accumulate() -> None:
    tracker = CallTracker(lambda: T0, Recorder())
    for n in range(5000):
        linked = f"17953.{n}"
        tracker.on_event(AMIMessage((("Event", "Newchannel"), ("Linkedid", linked))))
        tracker.on_event(AMIMessage((("Event", "Hangup"), ("Linkedid", linked), ("Cause", "16"))))
    assert tracker._live == {} and tracker._seen == set()
    assert len(tracker._early_hangups) <= 2000


# ------------------------------------------------------------------ agent first (preview)


class OneResident(ResidentModel):
    def __init__(self, plan: ResidentPlan) -> None:
        self.fixed = plan

    def plan(self, number: str, context: str) -> ResidentPlan | None:
        return self.fixed


def agent_first(resident: ResidentPlan, agent: AgentPlan) -> tuple[Recorder, Attempt]:
    """One preview call played by the simulator, its events fed to a tracker as they come."""
    clock = Clock()
    now: Iterator[datetime] = (T0 + timedelta(seconds=n) for n in range(10_000))
    recorder = Recorder()
    tracker = CallTracker(lambda: next(now), recorder)
    variables = {contract.CALL_ID: "lead-7-1", contract.DIAL: "Local/13800138000@residents"}
    attempt = Attempt("lead-7-1", 7, 1, "13800138000", False, T0, variables=variables)
    attempt.agent_first, attempt.agent = True, "101"
    tracker.dialled(attempt)
    sim = AMISimulator(clock, residents=OneResident(resident), agents={"PJSIP/agent101": agent})
    session = AMISession(sim)
    transport = StringTransport()
    session.makeConnection(transport)
    parser = AMIParser()

    def send(action: str, *headers: tuple[str, str], action_id: str = "login") -> None:
        session.dataReceived(format_action(action, headers, action_id=action_id))

    def pump() -> None:
        for msg in parser.feed(transport.value()):
            tracker.on_event(msg)
        transport.clear()

    send("Login", ("Username", "dialer"), ("Secret", "dialer-secret"))
    send(
        "Originate",
        ("Channel", "PJSIP/agent101"),
        ("Context", contract.PREVIEW_CONTEXT),
        ("Exten", "s"),
        ("Priority", "1"),
        ("Timeout", "20000"),
        ("Async", "true"),
        *[("Variable", f"{k}={v}") for k, v in variables.items()],
        action_id="lead-7-1",
    )
    for _ in range(60):
        clock.advance(1)
        pump()
    return recorder, attempt


@pytest.mark.parametrize(
    ("resident", "agent", "expected", "cause"),
    [
        (ResidentPlan("answer", ring_s=4.0), AgentPlan(), Disposition.ANSWERED, None),
        (ResidentPlan("noanswer"), AgentPlan(), Disposition.NO_ANSWER, 19),
        (ResidentPlan("busy"), AgentPlan(), Disposition.BUSY, 17),
        (ResidentPlan("reject"), AgentPlan(), Disposition.REJECTED, 21),
        (ResidentPlan("unallocated"), AgentPlan(), Disposition.UNALLOCATED, 1),
        (ResidentPlan("noanswer"), AgentPlan(cancel_after_s=5.0), Disposition.NO_ANSWER, None),
    ],
)
def test_an_agent_first_call_ends_as_the_residents_leg_did(
    resident: ResidentPlan, agent: AgentPlan, expected: Disposition, cause: int | None
) -> None:
    recorder, attempt = agent_first(resident, agent)
    outcome, causes = recorder.outcomes["lead-7-1"]
    assert outcome is expected
    assert (cause in causes) if cause is not None else not set(causes) - {0, 16}
    assert attempt.channel is not None and attempt.channel.startswith("Local/13800138000@")
    assert attempt.dialled_at is not None  # at DialBegin, after the agent answered
    answered = expected is Disposition.ANSWERED
    assert recorder.answered_ids == recorder.connected_ids == (["lead-7-1"] if answered else [])
    if answered:
        # answered_at is set on an answered call (the line before says so)
        assert attempt.dialled_at < attempt.answered_at == attempt.connected_at  # type: ignore[operator]
    assert recorder.agent_missed_ids == []


def test_an_agent_who_does_not_answer_is_no_attempt_on_the_resident() -> None:
    recorder, attempt = agent_first(ResidentPlan("answer"), AgentPlan(answer=False))
    assert recorder.agent_missed_ids == ["lead-7-1"]
    assert recorder.outcomes == {} and recorder.answered_ids == []
    assert attempt.dialled_at is None and attempt.causes == [19]


@pytest.mark.parametrize(
    ("status", "causes", "expected"),
    [
        ("ANSWER", [16], Disposition.ANSWERED),
        ("CONGESTION", [], Disposition.CONGESTION),
        ("CHANUNAVAIL", [], Disposition.FAILED),
        ("CHANUNAVAIL", [0, 3], Disposition.UNALLOCATED),
        ("BUSY", [21], Disposition.REJECTED),
        ("CANCEL", [16], Disposition.NO_ANSWER),
        (None, [], Disposition.FAILED),  # the agent answered; Dial() never reported
    ],
)
def test_dial_statuses_the_simulator_does_not_play(
    status: str | None, causes: list[int], expected: Disposition
) -> None:
    assert resident_disposition(status, causes) is expected


def _event(**headers: str) -> bytes:
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items()) + b"\r\n"


def test_twenty_thousand_unparsable_causes_are_counted_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # a Clock for the reactor: the client never connects here
    client = AMIClient(AMIConfig(port=1), reactor=Clock())  # type: ignore[arg-type]
    recorder = Recorder()
    tracker = CallTracker(lambda: T0, recorder, client.field_errors)
    client.on_any(tracker.on_event)
    counted: list[str] = []
    client.field_errors.listeners.append(counted.append)
    for call_id in ("busy-1", "noanswer-1"):
        tracker.dialled(Attempt(call_id, 1, 1, "100", False, T0))
    protocol = AMIClientProtocol(client)
    protocol.makeConnection(StringTransport())
    bad = b"".join(
        _event(Event="Hangup", Channel="PJSIP/x", Linkedid=f"9.{n}", Cause="notanumber")
        for n in range(10_000)
    )
    with caplog.at_level(logging.DEBUG, logger="hotline"):
        protocol.dataReceived(b"Asterisk Call Manager/11.0.0\r\n" + bad)
        # Other calls are handled meanwhile, one of them with a bad field of its own.
        protocol.dataReceived(
            _event(Event="OriginateResponse", ActionID="busy-1", Response="Failure", Reason="5")
            + _event(Event="Newchannel", Linkedid="1795.5")
            + _event(
                Event="OriginateResponse",
                ActionID="noanswer-1",
                Response="Failure",
                Reason="3",
                Uniqueid="1795.5",
            )
            + _event(Event="Hangup", Linkedid="1795.5", Cause="19x")
            + bad
        )
    assert client.field_errors.counts == {"Hangup.Cause": 20_001}
    assert len(counted) == 20_001
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(problems) == 1 and "Hangup.Cause" in problems[0].getMessage()
    assert recorder.outcomes == {
        "busy-1": (Disposition.BUSY, []),
        "noanswer-1": (Disposition.NO_ANSWER, [0]),  # the cause unknown, the call still settled
    }


def ami_event(name: str, *headers: tuple[str, str]) -> AMIMessage:
    return AMIMessage((("Event", name), *headers))


def test_a_call_adopted_while_it_rang_ends_once_by_its_hang_up_causes() -> None:
    # Followed again after a restart while ringing: its OriginateResponse may have gone out
    # before, so the last of its two channels' hang-ups decides, and a late one changes nothing.
    recorder = Recorder()
    tracker = CallTracker(lambda: T0, recorder)
    attempt = Attempt("lead-3-1", 3, 1, "100", False, T0, variables={contract.CALL_ID: "lead-3-1"})
    tracker.adopt(attempt, "1796.7", channels=2)
    assert tracker.call_of("1796.7") == "lead-3-1"
    busy = (("Linkedid", "1796.7"), ("Cause", "17"))
    tracker.on_event(ami_event("Hangup", ("Channel", "Local/100@residents-00000001;2"), *busy))
    assert not recorder.outcomes  # one channel still up
    tracker.on_event(ami_event("Hangup", ("Channel", "Local/100@residents-00000001;1"), *busy))
    assert recorder.outcomes == {"lead-3-1": (Disposition.BUSY, [17, 17])}
    assert not tracker.in_flight()
    tracker.on_event(ami_event("OriginateResponse", ("ActionID", "lead-3-1"), ("Reason", "4")))
    assert recorder.outcomes == {"lead-3-1": (Disposition.BUSY, [17, 17])}
    assert not recorder.answered_ids
