"""The live dialer against the AMI simulator: campaigns to outcomes, through the real flows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hotline.app import App
from hotline.core import dialplan as contract
from hotline.core.arrears import import_arrears
from hotline.core.campaigns import campaign_action, create_campaign
from hotline.core.db import Database
from hotline.core.events import AgentConnected, AgentPaused, AgentStateChanged, CallInProgress
from hotline.core.models import ArrearsAccount, CallRecord, FollowUp, Lead, Phone
from hotline.core.tickets import Intake, move_ticket, open_ticket
from hotline.pbxsim.ami_residents import ResidentPlan
from hotline.pbxsim.fastagi import Input, Keys, Speak
from hotline.recordings.resolve import resolve_path
from hotline.recordings.worker import scan

from dialer_harness import DIALER_ENV, Live, dialer_app, run_dialer
from factories import seed_residents
from flow_harness import make_app

ESTATE = (
    "unit,name,phone,lang\n"
    "1-1-101,甲,13000000001,zh\n"
    "1-1-102,乙,13000000002,zh\n"
    "1-1-103,丙,13000000003,zh\n"
    "1-1-104,丁,13000000004,zh\n"
    "1-1-105,戊,13000000005,zh\n"
)
ARREARS = "unit,amount,months\n" + "".join(f"1-1-10{n},{100 * n}.50,{n}\n" for n in range(1, 6))


@pytest.fixture
def app(db: Database, tmp_path: Path) -> App:
    seed_residents(db, tmp_path, ESTATE)
    app = dialer_app(tmp_path / "home", db.url)
    (tmp_path / "arrears.csv").write_text(ARREARS, encoding="utf-8")
    with app.db.session() as s:
        import_arrears(s, app.rules, tmp_path / "arrears.csv", app.now())
    return app


def start(kind: str, mode: str) -> Callable[[App], None]:
    def go(app: App) -> None:
        with app.db.session() as s:
            campaign = create_campaign(s, kind, mode, at=app.now())
            campaign_action(s, campaign.id, "start", app.now())

    return go


def calls(app: App) -> dict[str, list[CallRecord]]:
    with app.db.session() as s:
        found: dict[str, list[CallRecord]] = {}
        for c in s.scalars(select(CallRecord).where(CallRecord.direction == "out")):
            found.setdefault(c.callee or "", []).append(c)
        return found


def test_an_agentless_arrears_campaign_runs_its_flow_and_applies_the_retry_rules(app: App) -> None:
    plans = {
        "13000000001": ResidentPlan("answer", ring_s=5.0),
        "13000000002": ResidentPlan("answer", ring_s=3.0),
        "13000000003": ResidentPlan("busy"),
        "13000000004": ResidentPlan("noanswer"),
        "13000000005": ResidentPlan("unallocated"),
    }
    answers: dict[str, list[Input]] = {"13000000001": [Keys("1")], "13000000002": [Keys("3")]}
    run = run_dialer(app, plans, answers, start("arrears", "agentless"))
    found = calls(app)
    assert {n: [c.disposition for c in cs] for n, cs in found.items()} == {
        "13000000001": ["answered"],
        "13000000002": ["answered"],
        "13000000003": ["busy"],
        "13000000004": ["no_answer"],
        "13000000005": ["unallocated"],
    }
    assert run.flows.count("outbound/arrears") == 2
    # Busy: +15 min; no answer: +2 h; unallocated: the number is flagged and nobody is left.
    assert found["13000000003"][0].next_step == "retry: busy"
    assert found["13000000004"][0].next_step == "retry: no_answer"
    assert found["13000000003"][0].hangup_cause == 17
    assert found["13000000004"][0].hangup_cause == 19
    answered = found["13000000001"][0]
    # Answered calls are recorded by the dialplan under a name the dialer gave it.
    assert answered.recording and answered.recording.endswith(f"/calls/{answered.key}.wav")
    assert found["13000000003"][0].recording is None
    assert answered.keypad == {"arrears-menu": "1"} and "arrears-menu:1" in (answered.path or "")
    with app.db.session() as s:
        accounts = {a.unit.code: a for a in s.scalars(select(ArrearsAccount))}
        assert accounts["1-1-101"].stage == "first"  # "I will pay": the reminder was given
        assert accounts["1-1-102"].cashier_check  # "already paid": the cashier checks
        flagged = s.scalar(select(Phone).where(Phone.number == "13000000005"))
        assert flagged is not None and flagged.invalid_reason
    assert Counter(run.dialled) == Counter({n: 1 for n in plans})


def test_a_predictive_campaign_connects_answered_calls_to_agents(app: App) -> None:
    plans = {f"1300000000{n}": ResidentPlan("answer", ring_s=2.0 + n) for n in range(1, 6)}
    run = run_dialer(app, plans, {}, start("arrears", "predictive"), agents=2, limit=40)
    found = calls(app)
    assert len(found) == 5
    dispositions = Counter(c.disposition for cs in found.values() for c in cs)
    assert set(dispositions) <= {"answered", "abandoned"}
    for cs in found.values():
        for c in cs:
            if c.disposition == "answered":
                assert c.agent in ("101", "102") and c.connected_at is not None
            else:
                assert c.next_step and c.next_step.startswith("callback")
    # Two agents, calls paced to them: nobody rang while both were busy beyond the limit.
    assert dispositions["answered"] >= 4
    assert not run.flows  # agent calls land in the queue, not in a flow
    assert any(isinstance(e, AgentConnected) for e in run.events)
    states = [(e.agent, e.state) for e in run.events if isinstance(e, AgentStateChanged)]
    talked = {agent for agent, state in states if state == "talking"}
    assert talked and talked <= {"PJSIP/agent101", "PJSIP/agent102"}
    for agent in talked:  # told on a change only, though both agent pacers hear the queue
        seen = [state for a, state in states if a == agent]
        assert "wrapup" in seen and all(a != b for a, b in pairwise(seen))


def test_a_dropped_ami_link_loses_no_outcome_and_dials_nobody_twice(app: App) -> None:
    # Long rings: the calls are up when the link drops, and end while it is down. One resident
    # answers meanwhile: the flow, over FastAGI, takes the answer the dialer never hears of.
    plans = {f"1300000000{n}": ResidentPlan("noanswer") for n in range(2, 6)}
    plans["13000000001"] = ResidentPlan("answer", ring_s=20.0)
    answers: dict[str, list[Input]] = {"13000000001": [Keys("1")]}

    async def drop_the_link(live: Live) -> None:
        # Drop it once every call rings at the PBX, however loaded the machine.
        await live.when(lambda: len(live.sim.calls) == len(plans))
        assert live.dialer.tracker.in_flight()
        # Down until every call has ended at the PBX, the answered one's flow included.
        live.drop_link()
        await live.when(lambda: not live.sim.calls)
        live.restore_link()

    run = run_dialer(
        app, plans, answers, start("arrears", "agentless"), during=drop_the_link, limit=40
    )
    found = calls(app)
    assert sorted(found) == sorted(plans)
    # The flow's answer shows the call was answered; the others' Reason was missed while the
    # link was down: recorded as failed, retried by the rules.
    answered = found.pop("13000000001")[0]
    assert (answered.disposition, answered.next_step) == ("answered", "done")
    assert answered.keypad == {"arrears-menu": "1"}
    assert {(cs[0].disposition, cs[0].next_step) for cs in found.values()} == {
        ("failed", "retry: failed")
    }
    assert all(len(cs) == 1 for cs in found.values())  # one outcome per call placed
    assert Counter(run.dialled) == Counter({n: 1 for n in plans})  # nobody dialled twice
    with app.db.session() as s:
        states = Counter(lead.state for lead in s.scalars(select(Lead)))
    assert states["calling"] == 0


def test_a_followup_survey_campaign_records_the_answers_and_closes_the_lead(
    app: App, tmp_path: Path
) -> None:
    done = app.now() - timedelta(days=2)  # the follow-up fell due a day ago
    with app.db.session() as s:
        ticket = open_ticket(s, app.rules, Intake("repair", "plumbing", done, unit="1-1-101"))
        for state in ("dispatched", "in_progress", "done"):
            move_ticket(s, app.rules, ticket.id, state, done)
    plans = {"13000000001": ResidentPlan("answer", ring_s=2.0)}
    answers: dict[str, list[Input]] = {"13000000001": [Keys("4"), Keys("1"), Speak(2.0)]}
    run = run_dialer(app, plans, answers, start("followup", "agentless"))
    assert run.flows == ["outbound/followup"]
    (call,) = calls(app)["13000000001"]
    assert (call.disposition, call.next_step) == ("answered", "done")
    assert call.keypad == {"followup-rate": "4", "followup-work-done": "1"}
    with app.db.session() as s:
        followup = s.scalars(select(FollowUp)).one()
        assert (followup.satisfaction, followup.quality) == (4, 1)
        assert s.scalars(select(Lead)).one().state == "done"


def test_an_agent_who_lets_a_call_ring_out_is_paused_and_nobody_is_redialled(app: App) -> None:
    # The run on a real Asterisk: one queue member who never answers. Each answered
    # resident was abandoned, got a callback lead ready at once, and was dialled again.
    plans = {f"1300000000{n}": ResidentPlan("answer", ring_s=1.0) for n in range(1, 6)}
    seen: dict[str, Any] = {}

    async def watch(live: Live) -> None:
        seen.update(sim=live.sim, service=live.service)
        await live.event(AgentPaused)  # the agent let the first call ring out
        await live.ticks(60)  # then 150 simulated seconds of the dialer's decisions

    run = run_dialer(
        app, plans, {}, start("arrears", "predictive"), agents=1, away_agents=1,
        during=watch, limit=10, done=lambda app: True, mixmonitor=True,
    )  # fmt: skip
    found = calls(app)
    abandoned = [c for cs in found.values() for c in cs if c.disposition == "abandoned"]
    assert abandoned and all((c.next_step or "").startswith("callback") for c in abandoned)
    assert max(Counter(run.dialled).values()) == 1  # nobody dialled twice
    (member,) = seen["sim"].queues[contract.QUEUE_OUTBOUND].members
    assert member.paused and member.paused_reason == "ring-no-answer"
    assert seen["service"].dialer.ring_no_answer.missed == {"PJSIP/agent101": 1}
    with app.db.session() as s:
        callbacks = [
            lead for lead in s.scalars(select(Lead)) if "callback_of" in (lead.payload or {})
        ]
    assert callbacks and all(lead.preview and lead.state == "ready" for lead in callbacks)
    # MixMonitor(,b) left the abandoned call a header-only WAV: no recording, none named.
    (wav,) = (app.settings.recordings_dir / "calls").glob("*.wav")
    assert wav.stat().st_size == 44 and abandoned[0].recording == str(wav)
    later = app.now() + timedelta(hours=1)
    with app.db.session() as s:
        assert scan(s, app.settings.recordings_dir, at=later, settle=timedelta(0)) == []
        assert resolve_path(s, abandoned[0].recording) is None
    assert not wav.exists()


def test_every_originate_has_its_attempt_record_before_it_is_sent(app: App) -> None:
    plans = {f"1300000000{n}": ResidentPlan("noanswer") for n in range(1, 6)}
    written_ahead: list[bool] = []

    async def look_when_sent(live: Live) -> None:
        sim = live.sim
        originate = sim.originate

        def looking(req: Any, respond: Any) -> None:
            call_id = dict(req.variables)[contract.CALL_ID]
            with app.db.session() as s:
                record = s.scalar(select(CallRecord).where(CallRecord.key == call_id))
                written_ahead.append(record is not None and record.ended_at is None)
            originate(req, respond)

        # a stand-in on this one simulator, looking at each originate
        sim.originate = looking  # type: ignore[method-assign]

    run_dialer(app, plans, {}, start("arrears", "agentless"), during=look_when_sent)
    assert written_ahead == [True] * len(plans)
    assert {n: [c.disposition for c in cs] for n, cs in calls(app).items()} == {
        n: ["no_answer"] for n in plans
    }


def test_a_campaign_call_up_across_a_restart_is_followed_again_and_recorded_once(
    db: Database, tmp_path: Path
) -> None:
    # Two agents, two calls: one answered and talking with an agent when the service stops,
    # one ringing that the resident gives up on while the service is down.
    seed_residents(db, tmp_path, ESTATE)
    # The ringing call rings until the resident hangs up.
    ring_long = {**DIALER_ENV, "HOTLINE_DIALER_RING_TIMEOUT_SECONDS": "600"}
    app = make_app(tmp_path / "home", db.url, **ring_long)
    (tmp_path / "arrears.csv").write_text(ARREARS, encoding="utf-8")
    with app.db.session() as s:
        import_arrears(s, app.rules, tmp_path / "arrears.csv", app.now())
    talking, ringing = "13000000001", "13000000002"
    plans = {talking: ResidentPlan("answer", ring_s=1.0), ringing: ResidentPlan("noanswer")}

    async def restart(live: Live) -> None:
        await live.event(AgentConnected)
        await live.when(lambda: len(live.sim.calls) == 2)

        async def resident_gives_up() -> None:
            # as `Action: Hangup` on the resident's half would
            (half,) = [
                c
                for c in live.sim.channels.values()
                if c.name.startswith(f"Local/{ringing}@") and c.name.endswith(";2")
            ]
            live.sim.calls[half.linkedid].hangup_by_request(half)

        await live.restart(resident_gives_up)
        assert live.sim.calls  # the answered call goes on at the PBX

    run = run_dialer(
        app,
        plans,
        {},
        start("arrears", "progressive"),
        agents=2,
        talk_s=(250.0, 250.0),  # 5 s: across the restart
        during=restart,
        limit=60,
    )
    found = calls(app)
    (answered,) = found[talking]  # its end recorded once, by the new service
    assert answered.disposition == "answered" and answered.agent in ("101", "102")
    assert answered.connected_at is not None and answered.hangup_cause is None
    assert answered.ended_at is not None and answered.next_step == "done"
    (gave_up,) = found[ringing]  # ended while the service was down: settled at the start
    assert gave_up.disposition == "interrupted" and (gave_up.next_step or "").startswith("retry")
    dialled = Counter(run.dialled)  # the three others' numbers do not exist: failed, retried later
    assert dialled[talking] == dialled[ringing] == 1 and set(dialled.values()) == {1}
    # The new service's snapshot names the call by its attempt: the agent's screen has its lead.
    found_up = [e for e in run.events if isinstance(e, CallInProgress)]
    assert [(e.call_id, e.agent) for e in found_up] == [(answered.key, answered.agent)]
