"""Preview leads called agent first: `hotline campaign dial`, the service placing the request
through the AMI simulator (agent's phone, then Dial() to the resident), and the outcomes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline.app import App
from hotline.core.campaigns import campaign_action, create_campaign
from hotline.core.db import Database
from hotline.core.dial_requests import claim_dial_requests, request_dial
from hotline.core.events import AgentMissed, AttemptFinished
from hotline.core.leads import generate_leads
from hotline.core.models import CallRecord, DialRequest, Lead, Phone, Resident
from hotline.core.rules import Rules
from hotline.pbxsim.ami_residents import AgentPlan, ResidentPlan

from campaign_factories import CAMPAIGN_RESIDENTS, MORNING, SH, WINDOW, seed
from cli_support import Run, jrun
from dialer_harness import dialer_app, run_dialer
from factories import seed_residents

# ------------------------------------------------------------------ the command line


@pytest.fixture
def cli(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """The command line with the campaign residents, calling allowed all day."""
    monkeypatch.setenv("HOTLINE_DIALER_WINDOW_START", "00:00")
    monkeypatch.setenv("HOTLINE_DIALER_WINDOW_END", "23:59")
    (tmp_path / "r.csv").write_text(CAMPAIGN_RESIDENTS, encoding="utf-8")
    assert cli("residents", "import", str(tmp_path / "r.csv"))[0] == 0
    return cli


def preview_campaign(cli: Run, units: str = "3-1-202,5-2-1101", mode: str = "preview") -> int:
    made = jrun(cli, "campaign", "new", "--kind", "notice", "--units", units,
                "--message", "water-off", "--mode", mode)  # fmt: skip
    jrun(cli, "campaign", "start", str(made["id"]))
    return int(made["id"])


def lead_of(db: Database, campaign: int, resident: str) -> int:
    with db.session() as s:
        return s.scalars(
            select(Lead.id)
            .join(Resident, Resident.id == Lead.resident_id)
            .where(Lead.campaign_id == campaign, Resident.name == resident)
        ).one()


def test_a_dial_request_is_stored_and_shown_with_the_leads(cli: Run, db: Database) -> None:
    campaign = preview_campaign(cli)
    lead = lead_of(db, campaign, "Li Na")
    made = jrun(cli, "campaign", "dial", str(lead), "--agent", "101")
    assert {k: made[k] for k in ("lead", "agent", "state")} == {
        "lead": lead,
        "agent": "101",
        "state": "pending",
    }
    assert isinstance(made["id"], int) and made["requested_at"].endswith("+08:00")
    listed = {x["id"]: x for x in jrun(cli, "campaign", "leads", str(campaign))}
    assert listed[lead]["dial_request"]["id"] == made["id"]
    assert listed[lead]["state"] == "ready"  # the service has not taken it yet
    assert [x["dial_request"] for i, x in listed.items() if i != lead] == [None]
    code, out, _ = cli("campaign", "leads", str(campaign))
    assert code == 0 and f"{made['id']} pending for 101" in out
    code, out, _ = cli("campaign", "dial", str(lead_of(db, campaign, "刘洋")), "--agent", "102")
    assert code == 0 and "pending" in out and "rings 102 first" in out


def _not_preview(cli: Run, db: Database) -> int:
    return lead_of(db, preview_campaign(cli, mode="agentless"), "Li Na")


def _done(cli: Run, db: Database) -> int:
    lead = lead_of(db, preview_campaign(cli), "Li Na")
    with db.session() as s:
        s.get_one(Lead, lead).state = "done"
    return lead


def _do_not_call(cli: Run, db: Database) -> int:
    lead = lead_of(db, preview_campaign(cli), "Li Na")
    with db.session() as s:
        s.scalars(select(Resident).where(Resident.name == "Li Na")).one().do_not_call = True
    return lead


def _in_a_call(cli: Run, db: Database) -> int:
    other = lead_of(db, preview_campaign(cli, units="3-1-202", mode="agentless"), "Li Na")
    with db.session() as s:
        s.get_one(Lead, other).state = "calling"
    return lead_of(db, preview_campaign(cli), "Li Na")


def _pending(cli: Run, db: Database) -> int:
    lead = lead_of(db, preview_campaign(cli), "Li Na")
    jrun(cli, "campaign", "dial", str(lead), "--agent", "101")
    return lead


def _agent_busy(cli: Run, db: Database) -> int:
    campaign = preview_campaign(cli)
    jrun(cli, "campaign", "dial", str(lead_of(db, campaign, "Li Na")), "--agent", "102")
    return lead_of(db, campaign, "刘洋")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda cli, db: 999, "no lead 999"),
        (_agent_busy, "agent 102 already has call request"),
        (_not_preview, "is not a preview lead"),
        (_done, "is done, not ready to be called"),
        (_do_not_call, "Li Na (lead"),
        (_in_a_call, "is already in a call"),
        (_pending, "already has call request"),
    ],
)
def test_refusals_are_one_line_and_change_nothing(
    cli: Run, db: Database, make: Callable[[Run, Database], int], message: str
) -> None:
    lead = make(cli, db)
    with db.session() as s:
        before = s.scalar(select(func.count()).select_from(DialRequest))
    code, out, err = cli("campaign", "dial", str(lead), "--agent", "102")
    assert code == 1 and out == ""
    assert err.startswith("hotline: error: ") and message in err and err.count("\n") == 1
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(DialRequest)) == before
        found = s.get(Lead, lead)
        assert found is None or found.attempts == 0


def test_refused_outside_the_calling_window(
    cli: Run, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead = lead_of(db, preview_campaign(cli), "Li Na")
    hour = datetime.now(SH).hour
    start = 13 if hour < 12 else 1  # a window that does not hold the present hour
    monkeypatch.setenv("HOTLINE_DIALER_WINDOW_START", f"{start:02d}:00")
    monkeypatch.setenv("HOTLINE_DIALER_WINDOW_END", f"{start + 2:02d}:00")
    code, _, err = cli("campaign", "dial", str(lead), "--agent", "101")
    assert code == 1 and "outside the calling window" in err
    code, _, err = cli("campaign", "dial", str(lead), "--agent", "PJSIP/x&PJSIP/y")
    assert code == 1 and "bad extension 'PJSIP/x&PJSIP/y'" in err
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(DialRequest)) == 0


# ------------------------------------------------------------------ claiming


def requested_lead(db: Database, tmp_path: Path) -> tuple[int, int]:
    """A preview campaign's one lead, with a call request for extension 101: (lead, request)."""
    seed(db, tmp_path)
    with db.session() as s:
        campaign = create_campaign(
            s, "notice", "preview", params={"units": ["3-1-202"], "message": "m"}, at=MORNING
        )
        campaign_action(s, campaign.id, "start", MORNING)
        generate_leads(s, Rules(), campaign, MORNING)
        lead = s.scalars(select(Lead.id)).one()
        return lead, request_dial(s, lead, "101", MORNING, WINDOW).id


def test_two_dialers_never_place_one_request_twice(db: Database, tmp_path: Path) -> None:
    """PostgreSQL: the second dialer skips the row the first holds, then finds it placed."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer at a time")
    lead, request = requested_lead(db, tmp_path)
    with db.session() as first:
        taken = claim_dial_requests(first, 5, MORNING, "dialer-1", WINDOW)
        with db.session() as second:
            assert claim_dial_requests(second, 5, MORNING, "dialer-2", WINDOW) == []
    assert [c.request_id for c in taken] == [request]
    with db.session() as s:
        assert claim_dial_requests(s, 5, MORNING, "dialer-2", WINDOW) == []
        placed = s.get(DialRequest, request)
        assert placed is not None
        assert (placed.state, placed.claimed_by, placed.call_id) == (
            "placing",
            "dialer-1",
            f"lead-{lead}-1",
        )


def test_a_request_no_longer_callable_is_refused_when_claimed(db: Database, tmp_path: Path) -> None:
    lead, request = requested_lead(db, tmp_path)
    evening = MORNING.replace(hour=21)
    with db.session() as s:
        assert claim_dial_requests(s, 5, evening, "dialer-1", WINDOW) == []
        refused = s.get(DialRequest, request)
        assert refused is not None and refused.state == "refused"
        assert refused.detail == "outside the calling window 09:00–20:00"
        assert _lead(s, lead).state == "ready" and _lead(s, lead).attempts == 0


def _lead(s: Session, lead_id: int) -> Lead:
    lead = s.get(Lead, lead_id)
    assert lead is not None
    return lead


# ------------------------------------------------------------------ through the simulator

ESTATE = "unit,name,phone,lang\n" + "".join(
    f"1-1-10{n},住户{n},1300000000{n},zh\n" for n in range(1, 8)
)
# resident's number -> (what the resident does, what the agent's phone does)
SCRIPT = {
    "13000000001": (ResidentPlan("answer", ring_s=10.0, talk_s=5.0), AgentPlan()),
    "13000000002": (ResidentPlan("noanswer"), AgentPlan()),
    "13000000003": (ResidentPlan("busy"), AgentPlan()),
    "13000000004": (ResidentPlan("unallocated"), AgentPlan()),
    "13000000005": (ResidentPlan("answer"), AgentPlan(answer=False)),
    "13000000006": (ResidentPlan("noanswer"), AgentPlan(cancel_after_s=5.0)),
    "13000000007": (ResidentPlan("reject"), AgentPlan(ring_s=2.0)),
}


def agent(number: str) -> str:
    """The extension that calls it; its phone is PJSIP/agent10N, as pjsip.conf ships."""
    return f"10{number[-1]}"


@pytest.fixture
def app(db: Database, tmp_path: Path) -> App:
    seed_residents(db, tmp_path, ESTATE)
    return dialer_app(tmp_path / "home", db.url)


def request_every_lead(app: App) -> None:
    now = app.now()
    window = app.settings.dialer.calling_window(app.rules.tz)
    with app.db.session() as s:
        campaign = create_campaign(
            s, "notice", "preview", params={"buildings": ["1"], "message": "m"}, at=now
        )
        campaign_action(s, campaign.id, "start", now)
        generate_leads(s, app.rules, campaign, now)
        for lead in s.scalars(select(Lead)):
            assert lead.number is not None
            request_dial(s, lead.id, agent(lead.number), now, window)


def no_open_request(app: App) -> bool:
    with app.db.session() as s:
        states = ("pending", "placing")
        return not s.scalar(select(func.count()).where(DialRequest.state.in_(states)))


def test_preview_calls_ring_the_agent_first_and_record_the_resident_leg(app: App) -> None:
    run = run_dialer(
        app,
        {number: resident for number, (resident, _) in SCRIPT.items()},
        {},
        request_every_lead,
        preview_agents={f"PJSIP/agent{agent(n)}": a for n, (_, a) in SCRIPT.items()},
        done=no_open_request,
    )
    assert sorted(run.dialled) == sorted(f"agent10{n}" for n in range(1, 8))
    assert run.flows == []  # the agent talks: no call flow
    with app.db.session() as s:
        leads = {lead.number: lead for lead in s.scalars(select(Lead))}
        records = {r.callee: r for r in s.scalars(select(CallRecord))}
        requests = {r.lead_id: r for r in s.scalars(select(DialRequest))}
        number_of = {lead.id: number for number, lead in leads.items()}
        flagged = s.scalars(select(Phone.number).where(Phone.invalid_reason.is_not(None))).all()

        assert {number_of[r.lead_id]: (r.state, r.detail) for r in requests.values()} == {
            "13000000001": ("done", "answered"),
            "13000000002": ("done", "no_answer"),
            "13000000003": ("done", "busy"),
            "13000000004": ("done", "unallocated"),
            "13000000005": ("agent_missed", "agent did not answer"),
            "13000000006": ("done", "no_answer"),  # the agent gave up while it rang
            "13000000007": ("done", "rejected"),
        }
        assert {n: (r.disposition, r.next_step) for n, r in records.items()} == {
            "13000000001": ("answered", "done"),
            "13000000002": ("no_answer", "retry: no_answer"),
            "13000000003": ("busy", "retry: busy"),
            "13000000004": ("unallocated", "stopped: no valid number after 13000000004"),
            "13000000006": ("no_answer", "retry: no_answer"),
            "13000000007": ("rejected", "retry: rejected"),
        }
        assert {n: lead.state for n, lead in leads.items()} == {
            "13000000001": "done",
            "13000000002": "ready",
            "13000000003": "ready",
            "13000000004": "stopped",
            "13000000005": "ready",
            "13000000006": "ready",
            "13000000007": "ready",
        }
        assert flagged == ["13000000004"]

        answered = records["13000000001"]
        lead = leads["13000000001"]
        key = f"lead-{lead.id}-1"
        assert (answered.agent, answered.key, answered.lead_id) == ("101", key, lead.id)
        assert answered.direction == "out" and answered.campaign_id == lead.campaign_id
        assert answered.arrived_at == requests[lead.id].requested_at  # queued: the agent asked
        assert answered.dialled_at and answered.answered_at and answered.ended_at
        assert answered.arrived_at <= answered.dialled_at < answered.answered_at
        assert answered.connected_at == answered.answered_at < answered.ended_at
        # the resident's 10 s of ringing at the simulator's pace (0.2 s), not the agent's
        assert answered.answered_at - answered.dialled_at >= timedelta(seconds=0.15)
        assert answered.recording and answered.recording.endswith(f"calls/{key}.wav")
        assert answered.channel and answered.channel.startswith("Local/13000000001@residents")
        assert records["13000000002"].answered_at is None
        assert records["13000000004"].hangup_cause == 1
        assert records["13000000007"].hangup_cause == 21
        assert all(n is not None and r.agent == agent(n) for n, r in records.items())

        # the agent who did not answer cost the lead nothing
        missed = leads["13000000005"]
        assert (missed.attempts, missed.attempts_today, missed.claimed_by) == (0, 0, None)
        assert missed.last_disposition is None
        assert leads["13000000002"].attempts == 1
    outcomes = {e.call_id for e in run.events if isinstance(e, AttemptFinished)}
    assert len(outcomes) == 6 and f"lead-{missed.id}-1" not in outcomes  # metrics count these
    assert AgentMissed(call_id=f"lead-{missed.id}-1", agent="105") in run.events
