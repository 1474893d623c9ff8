from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hotline.core.arrears import import_arrears
from hotline.core.campaigns import campaign_action, campaign_status
from hotline.core.db import Database
from hotline.core.dial_requests import request_dial
from hotline.core.flow_answers import (
    appointment_answer,
    arrears_answer,
    flagged_leads,
    followup_answers,
    notice_heard,
    visitor_answer,
    visitor_decision,
)
from hotline.core.leads import CALLBACK_PRIORITY, LeadClaim, release_stale
from hotline.core.models import ArrearsAccount, CallRecord, Lead, Phone, Ticket
from hotline.core.outcomes import list_calls, record_attempt
from hotline.core.retry import NextStep, RetryPolicy, StepKind, plan_retry
from hotline.core.rules import Rules
from hotline.core.vocabulary import Disposition, DomainError
from hotline.dialer.dispositions import disposition

from campaign_factories import (
    MORNING,
    SH,
    WINDOW,
    claim,
    done_repair,
    outcome,
    running_campaign,
    seed,
)
from golden import FROM_ASTERISK, golden_files, load_jsonl

RETRY = RetryPolicy()
LI_NA = {"units": ["3-1-202"], "buildings": [], "message": "water-off"}


def attempt(
    db: Database,
    rules: Rules,
    c: LeadClaim,
    disposition: str,
    at: datetime,
    cause: int | None = None,
) -> NextStep:
    with db.session() as s:
        return record_attempt(s, rules, RETRY, c.lead_id, outcome(c, disposition, at, cause), at)


def lead(db: Database, lead_id: int) -> Lead:
    with db.session() as s:
        found = s.get(Lead, lead_id)
        assert found is not None
        return found


@pytest.mark.parametrize(
    ("disposition", "wait"),
    [
        ("no_answer", timedelta(hours=2)),
        ("busy", timedelta(minutes=15)),
        ("rejected", timedelta(hours=4)),
        ("congestion", timedelta(minutes=15)),
        ("failed", timedelta(minutes=15)),
    ],
)
def test_each_retried_disposition_waits_its_figure(
    db: Database, tmp_path: Path, rules: Rules, disposition: str, wait: timedelta
) -> None:
    seed(db, tmp_path)
    campaign_id, _ = running_campaign(db, rules, "notice", LI_NA)
    (c,) = claim(db, campaign_id)
    ended = MORNING + timedelta(minutes=1)
    step = attempt(db, rules, c, disposition, ended)
    assert step == NextStep(StepKind.RETRY, ended + wait, disposition)
    after = lead(db, c.lead_id)
    assert (after.state, after.next_attempt_at, after.attempts) == ("ready", ended + wait, 1)
    assert claim(db, campaign_id, ended + wait - timedelta(seconds=1)) == []
    (again,) = claim(db, campaign_id, ended + wait)
    assert again.attempts == 2  # every disposition, congestion and failure too, is an attempt


def test_no_answer_at_most_three_a_day_and_six_in_all(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    campaign_id, _ = running_campaign(db, rules, "notice", LI_NA)
    at = MORNING
    steps = []
    for _ in range(6):
        (c,) = claim(db, campaign_id, at)
        steps.append(attempt(db, rules, c, "no_answer", at))
        retry_at = steps[-1].at or at
        # The dialer tries again as soon as allowed: at 09:00 when that falls before the window.
        at = retry_at if WINDOW.contains(retry_at) else retry_at.replace(hour=9)
    day2 = datetime(2026, 11, 24, 0, 0, tzinfo=SH)
    assert [s.at for s in steps] == [
        MORNING + timedelta(hours=2),  # 12:00
        MORNING + timedelta(hours=4),  # 14:00
        day2,  # third try of the day: tomorrow
        day2.replace(hour=11),  # claimed at 09:00, +2 h
        day2.replace(hour=13),
        None,
    ]
    assert steps[-1] == NextStep(StepKind.STOPPED, None, "max attempts (6)")
    assert lead(db, c.lead_id).state == "stopped"


def test_plan_retry_figures_are_settings() -> None:
    policy = RetryPolicy(no_answer_minutes=30, max_per_day=1, max_attempts=2)
    assert plan_retry(policy, Disposition.NO_ANSWER, 1, 0, MORNING, SH).at == MORNING + timedelta(
        minutes=30
    )
    assert plan_retry(policy, Disposition.NO_ANSWER, 1, 1, MORNING, SH).at == datetime(
        2026, 11, 24, tzinfo=SH
    )
    assert plan_retry(policy, Disposition.BUSY, 2, 1, MORNING, SH).kind is StepKind.STOPPED
    with pytest.raises(ValueError):
        plan_retry(policy, Disposition.ANSWERED, 1, 1, MORNING, SH)


def test_recording_the_same_outcome_twice_changes_nothing(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    campaign_id, _ = running_campaign(db, rules, "notice", LI_NA)
    (c,) = claim(db, campaign_id)
    ended = MORNING + timedelta(minutes=1)
    first = attempt(db, rules, c, "busy", ended)
    # Replayed later (a spooled outcome): same answer, no second record, the lead untouched.
    assert attempt(db, rules, c, "busy", ended + timedelta(hours=1)) == first
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(CallRecord)) == 1
        (record,) = list_calls(s, campaign_id)
        assert (record.key, record.direction, record.callee) == (c.call_id, "out", "5551234")
        assert (record.next_step, record.next_step_at) == ("retry: busy", first.at)
        assert record.lead_id == c.lead_id and record.campaign_id == campaign_id
    assert lead(db, c.lead_id).next_attempt_at == first.at


def test_answered_is_done(db: Database, tmp_path: Path, rules: Rules) -> None:
    seed(db, tmp_path)
    campaign_id, _ = running_campaign(db, rules, "notice", LI_NA)
    (c,) = claim(db, campaign_id)
    with db.session() as s:
        notice_heard(s, c.lead_id, MORNING, repeats=1)
    assert attempt(db, rules, c, "answered", MORNING) == NextStep(StepKind.DONE)
    done = lead(db, c.lead_id)
    assert (done.state, done.last_disposition, done.claimed_by) == ("done", "answered", None)
    assert done.result == {"heard": True, "repeats": 1, "at": MORNING.isoformat()}


@pytest.mark.parametrize("heard", [True, False])
def test_an_outcome_lost_in_an_ami_outage_is_answered_when_the_flow_took_answers(
    db: Database, tmp_path: Path, rules: Rules, heard: bool
) -> None:
    seed(db, tmp_path)
    campaign_id, _ = running_campaign(db, rules, "notice", LI_NA)
    (c,) = claim(db, campaign_id)
    ended = MORNING + timedelta(minutes=1)
    if heard:  # the notice flow ran over FastAGI while the dialer's AMI link was down
        with db.session() as s:
            notice_heard(s, c.lead_id, MORNING + timedelta(seconds=30), repeats=0)
    lost = replace(outcome(c, "failed", ended), lost=True)
    with db.session() as s:
        step = record_attempt(s, rules, RETRY, c.lead_id, lost, ended)
    with db.session() as s:
        (record,) = list_calls(s, campaign_id)
    if heard:
        assert step == NextStep(StepKind.DONE) and record.disposition == "answered"
        assert lead(db, c.lead_id).state == "done"
    else:
        assert step.kind is StepKind.RETRY and record.disposition == "failed"
        assert lead(db, c.lead_id).state == "ready"  # due again at the retry time


def test_abandoned_resident_gets_a_callback_lead_for_a_person_first_and_now(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    campaign_id, _ = running_campaign(
        db, rules, "notice", {"units": ["3-1-202", "5-2-1101"], "buildings": [], "message": "m"}
    )
    first = claim(db, campaign_id, limit=1)[0]
    step = attempt(db, rules, first, "abandoned", MORNING)
    assert step.kind is StepKind.CALLBACK and step.at == MORNING
    callback_id = int((step.detail or "").removeprefix("lead "))
    callback = lead(db, callback_id)
    assert (callback.priority, callback.state, callback.next_attempt_at) == (
        CALLBACK_PRIORITY,
        "ready",
        MORNING,
    )
    assert callback.resident_id == lead(db, first.lead_id).resident_id
    assert callback.payload is not None and callback.payload["callback_of"] == first.lead_id
    # A person calls back (the abandon message promised it): the dialer never takes the lead,
    # and dials the other resident.
    assert callback.preview
    (next_claim,) = claim(db, campaign_id, limit=5)
    assert next_claim.resident_id != callback.resident_id
    with db.session() as s:
        status = campaign_status(s, campaign_id)
    assert (status["answered"], status["abandoned"], status["abandon_rate"]) == (0, 1, 1.0)


def test_the_dialer_leaves_an_abandoned_resident_alone_for_the_hold(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    (first,) = claim(db, running_campaign(db, rules, "notice", LI_NA)[0])
    step = attempt(db, rules, first, "abandoned", MORNING)
    with db.session() as s:  # a person may ring the callback lead at once
        callback_id = int((step.detail or "").removeprefix("lead "))
        assert request_dial(s, callback_id, "101", MORNING, WINDOW).state == "pending"
    # Another campaign's lead for the same resident waits out the 72 hours too.
    other, made = running_campaign(db, rules, "notice", LI_NA, at=MORNING + timedelta(hours=1))
    assert made == 1
    for hours in (1, 24, 71):
        assert claim(db, other, at=MORNING + timedelta(hours=hours)) == []
    (later,) = claim(db, other, at=MORNING + timedelta(hours=72, minutes=1))
    assert later.resident_id == first.resident_id


def test_unallocated_number_is_flagged_and_the_next_number_used(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    campaign_id, _ = running_campaign(
        db, rules, "notice", {"units": ["3-1-201"], "buildings": [], "message": "m"}
    )
    zhang = next(c for c in claim(db, campaign_id) if c.resident_name == "张伟")
    assert zhang.number == "13800138000"
    step = attempt(db, rules, zhang, "unallocated", MORNING, cause=1)
    assert step == NextStep(StepKind.NEXT_NUMBER, MORNING, "13900139000")
    with db.session() as s:
        reasons = dict(s.execute(select(Phone.number, Phone.invalid_reason)).all())
    assert reasons["13800138000"] == "unallocated (cause 1)"
    assert reasons["13900139000"] is None
    (again,) = [c for c in claim(db, campaign_id) if c.resident_name == "张伟"]
    assert again.number == "13900139000"
    last = attempt(db, rules, again, "unallocated", MORNING, cause=28)
    assert last.kind is StepKind.STOPPED and lead(db, again.lead_id).state == "stopped"


def test_a_number_flagged_by_one_campaign_is_not_dialled_by_another(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    params = {"units": ["3-1-201"], "buildings": [], "message": "m"}
    one, _ = running_campaign(db, rules, "notice", params)
    two, _ = running_campaign(db, rules, "notice", params)
    zhang = next(c for c in claim(db, one) if c.resident_name == "张伟")
    attempt(db, rules, zhang, "unallocated", MORNING, cause=1)
    with db.session() as s:
        release_stale(s, "dialer-1", MORNING)  # frees 王芳's live call in campaign one
    assert {c.resident_name: c.number for c in claim(db, two)} == {
        "张伟": "13900139000",
        "王芳": "13700137000",
    }


def test_a_late_outcome_for_a_reclaimed_lead_is_kept_but_ignored(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    campaign_id, _ = running_campaign(db, rules, "notice", LI_NA)
    (old,) = claim(db, campaign_id)
    with db.session() as s:
        release_stale(s, "dialer-1", MORNING)
    (new,) = claim(db, campaign_id)
    step = attempt(db, rules, old, "no_answer", MORNING)
    assert step.kind is StepKind.IGNORED
    assert lead(db, new.lead_id).state == "calling"
    assert attempt(db, rules, new, "answered", MORNING).kind is StepKind.DONE


def test_outcome_after_the_campaign_stopped_is_not_retried(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    campaign_id, _ = running_campaign(db, rules, "notice", LI_NA)
    (c,) = claim(db, campaign_id)
    with db.session() as s:
        campaign_action(s, campaign_id, "stop", MORNING)
    step = attempt(db, rules, c, "busy", MORNING)
    assert step == NextStep(StepKind.STOPPED, None, "campaign stopped")


def test_visitor_calls_the_unit_residents_in_turn_until_one_answers(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    night = datetime(2026, 11, 23, 21, 30, tzinfo=SH)  # a visitor may come after the window
    campaign_id, made = running_campaign(
        db, rules, "visitor", {"unit": "3-1-201", "visitor": "快递小李"}, at=night
    )
    assert made == 2
    (zhang,) = claim(db, campaign_id, night)
    assert zhang.resident_name == "张伟" and zhang.payload["visitor"] == "快递小李"
    step = attempt(db, rules, zhang, "no_answer", night)
    assert step.kind is StepKind.NEXT_RESIDENT
    with db.session() as s:
        assert visitor_decision(s, campaign_id).state == "pending"
    (wang,) = claim(db, campaign_id, night)
    assert wang.resident_name == "王芳"
    with db.session() as s:
        visitor_answer(s, wang.lead_id, False, night)
        decision = visitor_decision(s, campaign_id)
    assert (decision.state, decision.resident_id, decision.at) == (
        "refuse",
        wang.resident_id,
        night,
    )
    assert attempt(db, rules, wang, "answered", night).kind is StepKind.DONE


def test_a_visitor_nobody_answers_for_is_unreachable(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    campaign_id, _ = running_campaign(db, rules, "visitor", {"unit": "3-1-202", "visitor": "x"})
    (c,) = claim(db, campaign_id)
    assert attempt(db, rules, c, "busy", MORNING) == NextStep(
        StepKind.STOPPED, None, "no one answered"
    )
    with db.session() as s:
        assert visitor_decision(s, campaign_id).state == "unreachable"


def test_followup_answers_reopen_an_unsatisfied_matter_as_a_complaint(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    done_repair(db, rules, "3-1-202", "plumbing", MORNING - timedelta(days=2))
    done_repair(db, rules, "5-2-1101", "plumbing", MORNING - timedelta(days=2))
    campaign_id, _ = running_campaign(db, rules, "followup")
    unhappy, happy = claim(db, campaign_id)
    with db.session() as s:
        complaint_id = followup_answers(s, rules, unhappy.lead_id, 2, 2, "c.wav", MORNING)
        assert followup_answers(s, rules, happy.lead_id, 5, 1, None, MORNING) is None
        assert complaint_id is not None
        complaint = s.get(Ticket, complaint_id)
        assert complaint is not None and complaint.kind == "complaint"
        assert complaint.parent_id == unhappy.payload["ticket_id"]
    with db.session() as s, pytest.raises(DomainError, match="already answered"):
        followup_answers(s, rules, unhappy.lead_id, 5, 1, None, MORNING)


@pytest.mark.parametrize(
    ("choice", "stage", "cashier", "flag"),
    [
        (1, "first", False, None),
        (2, "first", False, "disagrees"),
        (3, "none", True, None),
    ],
)
def test_arrears_answers(
    db: Database,
    tmp_path: Path,
    rules: Rules,
    choice: int,
    stage: str,
    cashier: bool,
    flag: str | None,
) -> None:
    seed(db, tmp_path)
    csv = tmp_path / "a.csv"
    csv.write_text("unit,amount,months\n3-1-202,300,2\n", encoding="utf-8")
    with db.session() as s:
        import_arrears(s, rules, csv, MORNING)
    campaign_id, _ = running_campaign(db, rules, "arrears")
    (c,) = claim(db, campaign_id)
    with db.session() as s:
        arrears_answer(s, rules, c.lead_id, choice, MORNING)
        account = s.scalar(select(ArrearsAccount))
        assert account is not None
        assert (account.stage, account.cashier_check) == (stage, cashier)
        assert [lead.id for lead in flagged_leads(s)] == ([c.lead_id] if flag else [])
        with pytest.raises(DomainError, match="1, 2 or 3"):
            arrears_answer(s, rules, c.lead_id, 4, MORNING)


def test_appointment_slot_is_noted_on_the_ticket(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    ticket_id = done_repair(db, rules, "3-1-202", "plumbing", MORNING - timedelta(days=1))
    slots = ["2026-11-24T10:00:00+08:00", "2026-11-24T15:00:00+08:00"]
    campaign_id, made = running_campaign(
        db, rules, "appointment", {"ticket_id": ticket_id, "slots": slots}
    )
    assert made == 1
    (c,) = claim(db, campaign_id)
    with db.session() as s:
        with pytest.raises(DomainError, match="slot must be 1 to 2"):
            appointment_answer(s, c.lead_id, 3, MORNING)
        chosen = appointment_answer(s, c.lead_id, 2, MORNING)
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        note = ticket.events[-1]
    assert chosen == datetime.fromisoformat(slots[1])
    assert (note.from_state, note.to_state) == ("done", "done")
    assert note.note is not None and slots[1] in note.note
    assert lead(db, c.lead_id).result == {
        "slot": slots[1],
        "slot_index": 2,
        "at": MORNING.isoformat(),
    }


def _originate_results(path: Path) -> list[tuple[str, int, list[int]]]:
    """(ActionID, Reason, hangup causes of its channels) of each OriginateResponse."""
    messages = []
    for chunk in load_jsonl(path):
        if chunk.dir != FROM_ASTERISK:
            continue
        for block in chunk.data.decode().split("\r\n\r\n"):
            headers = dict(line.split(": ", 1) for line in block.split("\r\n") if ": " in line)
            if headers:
                messages.append(headers)
    results = []
    for m in (m for m in messages if m.get("Event") == "OriginateResponse"):
        # A failed originate names the dial string, its channels are `<dial string>-<n>;1/2`.
        causes = [
            int(h["Cause"])
            for h in messages
            if h.get("Event") == "Hangup"
            and (h["Uniqueid"] == m["Uniqueid"] or h["Channel"].startswith(m["Channel"] + "-"))
        ]
        results.append((m["ActionID"], int(m["Reason"]), causes))
    return results


GOLDEN_DISPOSITIONS = {
    "orig-answer-1": ("answered", StepKind.DONE),
    "orig-queue-1": ("answered", StepKind.DONE),
    "orig-ev-call": ("answered", StepKind.DONE),
    "orig-ev-filter": ("answered", StepKind.DONE),
    "orig-fail-noctx": ("failed", StepKind.RETRY),
    "orig-fail-noexten": ("failed", StepKind.RETRY),
    "orig-fail-tech": ("failed", StepKind.RETRY),
    "orig-noanswer-1": ("no_answer", StepKind.RETRY),
    "orig-busy-1": ("busy", StepKind.RETRY),
    "orig-reject-1": ("rejected", StepKind.RETRY),  # Reason 0, cause 21 on the callee leg
}


def test_every_golden_originate_maps_to_its_disposition_and_next_step(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    results = [r for path in golden_files("ami-*.jsonl") for r in _originate_results(path)]
    assert {action for action, _, _ in results} == set(GOLDEN_DISPOSITIONS)
    seed(
        db,
        tmp_path,
        "unit,name,phone\n"
        + "".join(f"9-1-{100 + i},住户{i},1390000{1000 + i}\n" for i in range(len(results))),
    )
    campaign_id, _ = running_campaign(
        db, rules, "notice", {"units": [], "buildings": ["9"], "message": "m"}
    )
    claims = claim(db, campaign_id, limit=len(results))
    for (action, reason, causes), c in zip(results, claims, strict=True):
        expected, step = GOLDEN_DISPOSITIONS[action]
        assert disposition(reason, causes) == expected, action
        assert attempt(db, rules, c, expected, MORNING).kind is step, action
