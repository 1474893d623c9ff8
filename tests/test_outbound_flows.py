"""The outbound call flows, each driven through the PBX simulator with its lead in the database."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hotline.app import App
from hotline.core import dialplan as contract
from hotline.core.db import Database
from hotline.core.events import FollowUpRecorded
from hotline.core.flow_answers import visitor_decision
from hotline.core.models import FollowUp, Lead, Ticket
from hotline.core.rules import Rules
from hotline.pbxsim.fastagi import Input, Keys, Silence, SimCaller, Speak

from campaign_factories import MORNING, done_repair, running_campaign, seed
from flow_harness import assert_prompts_in_order, make_app, place_calls


@pytest.fixture
def app(db: Database, tmp_path: Path) -> App:
    seed(db, tmp_path)
    return make_app(tmp_path / "home", db.url)


def first_lead(app: App, campaign_id: int) -> Lead:
    with app.db.session() as s:
        lead = s.scalars(
            select(Lead).where(Lead.campaign_id == campaign_id).order_by(Lead.id)
        ).first()
        assert lead is not None
        return lead


def call(app: App, kind: str, lead: Lead, inputs: list[Input]) -> Any:
    variables = {
        contract.LEAD_ID: str(lead.id),
        contract.CAMPAIGN_ID: str(lead.campaign_id),
        contract.CAMPAIGN_KIND: kind,
        contract.CALL_ID: f"lead-{lead.id}-1",
    }
    return place_calls(
        app,
        [SimCaller(lead.number, None, inputs)],
        route=f"outbound/{kind}",
        clock=lambda: MORNING,
        variables=variables,
    )


def followup_lead(app: App, rules: Rules) -> Lead:
    done_repair(app.db, rules, "3-1-202", "plumbing", MORNING - timedelta(days=2))
    campaign_id, made = running_campaign(app.db, rules, "followup")
    assert made == 1
    return first_lead(app, campaign_id)


def test_a_satisfied_followup_is_recorded_with_its_comment(app: App, rules: Rules) -> None:
    lead = followup_lead(app, rules)
    out = call(app, "followup", lead, [Keys("5"), Keys("1"), Speak(4.0)])
    commands = out.commands()
    with app.db.session() as s:
        followup = s.scalars(select(FollowUp)).one()
        assert (followup.satisfaction, followup.quality) == (5, 1)
        assert followup.comment_recording and Path(followup.comment_recording).exists()
        assert s.scalars(select(Ticket).where(Ticket.kind == "complaint")).all() == []
        assert (s.get_one(Lead, lead.id).result or {})["keypad"] == {
            "followup-rate": "5",
            "followup-work-done": "1",
        }
    assert_prompts_in_order(commands, ["hotline/followup-intro-repair", "hotline/followup-thanks"])


def test_an_unsatisfied_followup_reopens_the_matter_as_a_complaint(app: App, rules: Rules) -> None:
    lead = followup_lead(app, rules)
    out = call(app, "followup", lead, [Keys("2"), Keys("2"), Speak(6.0)])
    with app.db.session() as s:
        complaint = s.scalars(select(Ticket).where(Ticket.kind == "complaint")).one()
        assert complaint.parent_id == lead.ticket_id
        assert complaint.escalation_due_at == MORNING + timedelta(hours=1)
    (told,) = [e for e in out.events if isinstance(e, FollowUpRecorded)]
    assert (told.lead_id, told.rating, told.done_properly) == (lead.id, 2, False)
    assert told.complaint_ticket_id == complaint.id


def test_zero_in_a_followup_reaches_staff(app: App, rules: Rules) -> None:
    lead = followup_lead(app, rules)
    out = call(app, "followup", lead, [Keys("0")])
    assert out.result.variables[contract.QUEUE] == contract.QUEUE_ENQUIRIES


def test_a_notice_is_played_and_one_repeats_it(app: App, rules: Rules) -> None:
    campaign_id, _ = running_campaign(
        app.db, rules, "notice", {"units": ["3-1-202"], "message": "hotline/notice-water-cut"}
    )
    lead = first_lead(app, campaign_id)
    out = call(app, "notice", lead, [Keys("1"), Silence()])
    assert out.commands().count('STREAM FILE hotline/notice-water-cut ""') == 2
    with app.db.session() as s:
        assert (s.get_one(Lead, lead.id).result or {})["repeats"] == 1


@pytest.mark.parametrize(("key", "decision"), [("1", "admit"), ("2", "refuse")])
def test_the_visitor_answer_reaches_the_gate(
    app: App, rules: Rules, key: str, decision: str
) -> None:
    campaign_id, _ = running_campaign(
        app.db,
        rules,
        "visitor",
        {"unit": "3-1-202", "visitor": "快递员", "recording": "visitors/gate-1"},
    )
    lead = first_lead(app, campaign_id)
    out = call(app, "visitor", lead, [Keys(key)])
    assert 'STREAM FILE visitors/gate-1 ""' in out.commands()
    with app.db.session() as s:
        assert visitor_decision(s, campaign_id).state == decision


def test_an_appointment_offers_dispatchs_slots_and_records_the_choice(
    app: App, rules: Rules
) -> None:
    slots = [datetime(2026, 11, 24, h, 0, tzinfo=MORNING.tzinfo).isoformat() for h in (9, 14)]
    ticket_id = done_repair(app.db, rules, "3-1-202", "door_lock", MORNING)
    campaign_id, _ = running_campaign(
        app.db, rules, "appointment", {"ticket_id": ticket_id, "slots": slots}
    )
    lead = first_lead(app, campaign_id)
    out = call(app, "appointment", lead, [Keys("2")])
    said = [c for c in out.commands() if c.startswith("SAY DATETIME")]
    second = int(datetime.fromisoformat(slots[1]).timestamp())
    assert len(said) == 2 and said[1].startswith(f"SAY DATETIME {second} ")
    assert said[1].endswith("Asia/Shanghai")  # spoken in the site's time
    with app.db.session() as s:
        ticket = s.get_one(Ticket, ticket_id)
        assert any(e.note and slots[1] in e.note for e in ticket.events)
