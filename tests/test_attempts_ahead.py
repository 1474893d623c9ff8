"""Outbound attempts written before the Originate, and settled when a crash left them in the air."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from hotline.core.db import Database
from hotline.core.leads import claim_leads, release_stale
from hotline.core.models import CallRecord, Lead
from hotline.core.outcomes import open_attempts, record_attempt, settle_in_the_air
from hotline.core.retry import RetryPolicy, StepKind
from hotline.core.rules import Rules

from campaign_factories import MORNING, WINDOW, outcome, running_campaign, seed

RETRY = RetryPolicy()
LI_NA = {"units": ["3-1-202"], "buildings": [], "message": "water-off"}


def test_an_attempt_in_the_air_at_a_crash_is_settled_and_waits_its_interval(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    campaign_id, _ = running_campaign(db, rules, "notice", LI_NA)
    with db.session() as s:  # the dialer's claim: the record is committed with it
        (c,) = claim_leads(s, campaign_id, 1, MORNING, "dialer-1", WINDOW)
        open_attempts(s, [c], MORNING)
    with db.session() as s:
        (record,) = s.scalars(select(CallRecord))
        assert (record.key, record.lead_id, record.ended_at) == (c.call_id, c.lead_id, None)

    # The service was killed while it rang; it is back 6 s later.
    restart = MORNING + timedelta(seconds=6)
    with db.session() as s:
        assert settle_in_the_air(s, rules, RETRY, "dialer-1", restart) == [c.lead_id]
        assert release_stale(s, "dialer-1", restart) == []  # nothing left to redial now
    with db.session() as s:
        (record,) = s.scalars(select(CallRecord))
        lead = s.get(Lead, c.lead_id)
        assert lead is not None
        assert (record.disposition, record.ended_at) == ("interrupted", restart)
        assert lead.state == "ready" and lead.attempts == 1
        assert lead.next_attempt_at == restart + timedelta(minutes=RETRY.no_answer_minutes)
        # A late word on that call changes nothing: it has its ending.
        late = record_attempt(s, rules, RETRY, c.lead_id, outcome(c, "answered", restart), restart)
        assert late.kind is StepKind.RETRY
    with db.session() as s:
        assert s.scalar(select(CallRecord.disposition)) == "interrupted"


def test_a_written_ahead_attempt_gets_its_outcome_in_place(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    campaign_id, _ = running_campaign(db, rules, "notice", LI_NA)
    with db.session() as s:
        (c,) = claim_leads(s, campaign_id, 1, MORNING, "dialer-1", WINDOW)
        open_attempts(s, [c], MORNING)
    at = MORNING + timedelta(minutes=1)
    with db.session() as s:
        record_attempt(s, rules, RETRY, c.lead_id, outcome(c, "no_answer", at), at)
    with db.session() as s:
        (record,) = s.scalars(select(CallRecord))
        assert (record.disposition, record.ended_at, record.campaign_id) == (
            "no_answer",
            at,
            campaign_id,
        )
