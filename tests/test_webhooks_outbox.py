"""The webhook outbox: each event written by the domain change that caused it, in its transaction,
and only while a subscription wants its type."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from webhook_support import events, subscribe

from hotline.core import outbox
from hotline.core.db import Database
from hotline.core.followups import Answers, record_answers
from hotline.core.intake import CallSummary, IntakeDesk, PhoneReport
from hotline.core.models import FollowUp, WebhookSubscription
from hotline.core.outcomes import record_attempt
from hotline.core.retry import RetryPolicy
from hotline.core.rules import Rules
from hotline.core.spool import Spool
from hotline.core.tickets import Intake, move_ticket, open_ticket
from hotline.core.webhooks import set_active

from campaign_factories import MORNING, claim, done_repair, outcome, running_campaign, seed

T0 = MORNING
REPAIR = Intake("repair", "plumbing", T0, unit="3-1-201", text="水管漏水")


class Boom(Exception):
    pass


@pytest.fixture
def seeded(db: Database, tmp_path: Path) -> Database:
    seed(db, tmp_path)
    return db


def test_an_event_is_written_with_its_change_and_rolled_back_with_it(
    seeded: Database, rules: Rules
) -> None:
    subscribe(seeded, "ticket.created,ticket.state_changed")
    with pytest.raises(Boom), seeded.session() as s:
        open_ticket(s, rules, REPAIR)
        assert [t for t, _ in events_in(s)] == ["ticket.created"]  # written, not committed
        raise Boom
    assert events(seeded) == []
    with seeded.session() as s:
        ticket = open_ticket(s, rules, REPAIR)
        move_ticket(s, rules, ticket.id, "dispatched", T0 + timedelta(minutes=5), by="老王")
    (created, created_data), (moved, moved_data) = events(seeded)
    assert (created, moved) == ("ticket.created", "ticket.state_changed")
    assert created_data["id"] == ticket.id and created_data["unit"] == "3-1-201"
    assert created_data["text"] == "水管漏水" and created_data["received_at"] == T0.isoformat()
    assert moved_data == {
        "ticket_id": ticket.id,
        "kind": "repair",
        "from": "new",
        "to": "dispatched",
        "at": "2026-11-23T10:05:00+08:00",
        "by": "老王",
        "note": None,
    }


def events_in(s: object) -> list[tuple[str, object]]:
    from sqlalchemy.orm import Session

    from hotline.core.models import WebhookEvent

    assert isinstance(s, Session)
    return [(e.type, e.payload) for e in s.scalars(select(WebhookEvent))]


def test_nothing_is_written_for_a_type_nobody_wants(seeded: Database, rules: Rules) -> None:
    subscribe(seeded, "call.ended")
    with seeded.session() as s:
        open_ticket(s, rules, REPAIR)
    assert events(seeded) == []


def test_a_disabled_subscription_stops_the_writing_at_once(seeded: Database, rules: Rules) -> None:
    sid = subscribe(seeded, "ticket.created")
    with seeded.session() as s:
        open_ticket(s, rules, REPAIR)
        set_active(s, sid, False)
    with seeded.session() as s:
        open_ticket(s, rules, REPAIR)
    assert len(events(seeded)) == 1


def test_another_process_s_subscription_is_seen_within_the_refresh(
    seeded: Database, rules: Rules, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = subscribe(seeded, "ticket.created")
    with seeded.session() as s:
        open_ticket(s, rules, REPAIR)
    with seeded.engine.begin() as c:  # as another process would: no invalidation here
        c.execute(
            update(WebhookSubscription).where(WebhookSubscription.id == sid).values(active=False)
        )
    with seeded.session() as s:
        open_ticket(s, rules, REPAIR)  # the answer cached: still wanted
    later = outbox.monotonic() + outbox.REFRESH_SECONDS
    monkeypatch.setattr(outbox, "monotonic", lambda: later)
    with seeded.session() as s:
        open_ticket(s, rules, REPAIR)  # read again: nobody wants it
    assert len(events(seeded)) == 2


def test_a_phone_report_and_its_call_emit_in_the_intake_transactions(
    seeded: Database, rules: Rules, tmp_path: Path
) -> None:
    subscribe(seeded, "ticket.created,call.ended")
    desk = IntakeDesk(seeded, rules, Spool(tmp_path / "spool.jsonl"))
    key = "in:1700000000.1"
    summary = CallSummary(key=key, direction="in", arrived_at=T0, caller="13800138000")
    desk.arrive(summary)
    report = PhoneReport(key, "repair", "leak", T0, unit="3-1-201", caller_number="13800138000")
    ticket_id = desk.file_report(report, first=True)
    assert [t for t, _ in events(seeded)] == ["ticket.created"]
    ended = CallSummary(
        key=key,
        direction="in",
        arrived_at=T0,
        caller="13800138000",
        answered_at=T0,
        ended_at=T0 + timedelta(minutes=2),
        disposition="answered",
        report_key=key,
    )
    desk.close_call(ended, report)
    (_, created), (kind, call) = events(seeded)
    assert (
        created["id"] == ticket_id and created["kind"] == "repair" and created["unit"] == "3-1-201"
    )
    assert kind == "call.ended"
    assert (call["key"], call["ticket_id"], call["disposition"]) == (key, ticket_id, "answered")
    assert call["ended_at"] == "2026-11-23T10:02:00+08:00"


def test_a_call_settled_interrupted_emits_its_end(
    seeded: Database, rules: Rules, tmp_path: Path
) -> None:
    subscribe(seeded, "call.ended")
    desk = IntakeDesk(seeded, rules, Spool(tmp_path / "spool.jsonl"))
    desk.arrive(CallSummary(key="in:1700000000.2", direction="in", arrived_at=T0))
    desk._open.clear()  # the process that took the call died
    assert desk.settle_interrupted(T0 + timedelta(minutes=1)) == 1
    ((kind, call),) = events(seeded)
    assert (kind, call["key"], call["disposition"]) == (
        "call.ended",
        "in:1700000000.2",
        "interrupted",
    )


def test_an_unsatisfied_followup_emits_the_complaint_it_opens(
    seeded: Database, rules: Rules
) -> None:
    tid = done_repair(seeded, rules, "3-1-201", "electrical", T0)
    subscribe(seeded, "followup.recorded,followup.unsatisfied,ticket.created")
    with seeded.session() as s:
        fid = s.scalars(select(FollowUp.id)).one()
        complaint = record_answers(s, rules, fid, Answers(2, quality=2, comment="还在跳闸"), T0)
        assert complaint is not None
    by_type = dict(events(seeded))
    assert list(by_type) == ["followup.recorded", "ticket.created", "followup.unsatisfied"]
    assert by_type["followup.recorded"]["unsatisfied"] is True
    assert by_type["ticket.created"]["parent_id"] == tid
    assert by_type["followup.unsatisfied"] == {
        "followup_id": fid,
        "ticket_id": tid,
        "satisfaction": 2,
        "complaint_id": complaint.id,
        "reopened": False,
    }


def test_an_attempt_outcome_emits_its_call_and_the_attempt(seeded: Database, rules: Rules) -> None:
    campaign_id, _ = running_campaign(seeded, rules, "notice", {"buildings": ["3"], "message": "m"})
    (first, *_) = claim(seeded, campaign_id)
    subscribe(seeded, "call.ended,campaign.attempt")
    ended = T0 + timedelta(minutes=1)
    with seeded.session() as s:
        record_attempt(s, rules, RetryPolicy(), first.lead_id, outcome(first, "busy", ended), ended)
    with seeded.session() as s:  # the same outcome again changes nothing, emits nothing
        record_attempt(s, rules, RetryPolicy(), first.lead_id, outcome(first, "busy", ended), ended)
    (call_kind, call), (attempt_kind, attempt) = events(seeded)
    assert (call_kind, attempt_kind) == ("call.ended", "campaign.attempt")
    assert (call["key"], call["campaign_id"], call["disposition"]) == (
        first.call_id,
        campaign_id,
        "busy",
    )
    assert (attempt["campaign_id"], attempt["lead_id"]) == (campaign_id, first.lead_id)
    assert attempt["call_id"] == call["id"] and attempt["next_step"].startswith("retry")
    assert attempt["next_step_at"] == "2026-11-23T10:16:00+08:00"
