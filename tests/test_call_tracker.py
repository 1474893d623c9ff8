"""Outbound outcomes read from the real Asterisk transcripts, in the order Asterisk sent them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hotline.core.vocabulary import Disposition
from hotline.dialer.ami_protocol import AMIMessage, AMIParser
from hotline.dialer.call_tracker import Attempt, CallTracker
from hotline.dialer.dispositions import disposition

from golden import golden_dir, stream

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.answered_ids: list[str] = []
        self.connected_ids: list[str] = []
        self.outcomes: dict[str, tuple[Disposition, list[int]]] = {}

    def answered(self, attempt: Attempt) -> None:
        self.answered_ids.append(attempt.call_id)

    def connected(self, attempt: Attempt) -> None:
        self.connected_ids.append(attempt.call_id)

    def finished(self, attempt: Attempt, outcome: Disposition) -> None:
        self.outcomes[attempt.call_id] = (outcome, list(attempt.causes))


def replay(name: str, call_ids: list[str], expect_agent: bool = False) -> Recorder:
    """The transcripts' Originates set LEAD_ID=lead-7 (and CAMPAIGN_ID=camp42)."""
    recorder = Recorder()
    tracker = CallTracker(lambda: T0, recorder)
    for n, call_id in enumerate(call_ids):
        variables = {"LEAD_ID": "lead-7"} if n == 0 else {}
        tracker.dialled(Attempt(call_id, n, 1, "100", expect_agent, T0, variables=variables))
    for msg in AMIParser().feed(stream(golden_dir() / f"{name}.raw", ">>")):
        if msg.kind == "response" and msg.get("Response") == "Error" and msg.action_id in call_ids:
            tracker.refused(msg.action_id)
        tracker.on_event(msg)
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
    # This Originate set no variable, and a failed OriginateResponse names no Uniqueid, so the
    # hang-up causes cannot be tied to it: the Reason alone decides.
    outcome, _ = replay("ami-07-originate-busy", ["orig-busy-1"]).outcomes["orig-busy-1"]
    assert outcome is Disposition.BUSY


def test_hangup_causes_are_tied_through_the_channel_variables() -> None:
    recorder = Recorder()
    tracker = CallTracker(lambda: T0, recorder)
    tracker.dialled(Attempt("c1", 7, 1, "100", False, T0, variables={"CALL_ID": "c1"}))
    events = [
        (("Event", "Newchannel"), ("Uniqueid", "9.1"), ("Linkedid", "9.1")),
        (("Event", "VarSet"), ("Linkedid", "9.1"), ("Variable", "CALL_ID"), ("Value", "c1")),
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
