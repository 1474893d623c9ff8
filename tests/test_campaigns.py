from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hotline.core.campaigns import (
    campaign_action,
    campaign_status,
    create_campaign,
    list_campaigns,
)
from hotline.core.db import Database
from hotline.core.outcomes import record_attempt
from hotline.core.retry import RetryPolicy
from hotline.core.rules import Rules
from hotline.core.vocabulary import DomainError
from hotline.settings import load

from campaign_factories import MORNING, claim, done_repair, outcome, running_campaign, seed


@pytest.mark.parametrize(
    ("kind", "mode"),
    [
        ("followup", "progressive"),
        ("arrears", "predictive"),
        ("notice", "agentless"),
        ("visitor", "agentless"),
        ("appointment", "agentless"),
    ],
)
def test_default_mode_per_kind(
    db: Database, tmp_path: Path, rules: Rules, kind: str, mode: str
) -> None:
    seed(db, tmp_path)
    ticket_id = done_repair(db, rules, "3-1-202", "plumbing", MORNING)
    params: dict[str, dict[str, Any]] = {
        "notice": {"buildings": ["3"], "message": "m"},
        "visitor": {"unit": "3-1-201", "visitor": "小李"},
        "appointment": {"ticket_id": ticket_id, "slots": ["2026-11-24T10:00:00+08:00"]},
    }
    with db.session() as s:
        campaign = create_campaign(s, kind, params=params.get(kind), at=MORNING)
        assert (campaign.mode, campaign.state, campaign.created_at) == (mode, "new", MORNING)
        assert create_campaign(s, kind, "preview", params=params.get(kind), at=MORNING).mode == (
            "preview"
        )


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("notice", {"units": ["3-1-202"]}, "'message'"),
        ("notice", {"buildings": ["x"], "message": "m"}, "bad building"),
        ("notice", {"buildings": ["8"], "message": "m"}, "no units known in building 8"),
        ("notice", {"units": "3-1-202", "message": "m"}, "must be a list"),
        ("visitor", {"unit": "3-1-201", "visitor": " "}, "'visitor'"),
        ("visitor", {"unit": "bad", "visitor": "x"}, "bad unit"),
        ("appointment", {"ticket_id": 1, "slots": []}, "1 to 3 slots, not 0"),
        ("appointment", {"ticket_id": 1, "slots": ["2026-11-24T10:00"]}, "needs an offset"),
        ("appointment", {"ticket_id": 1, "slots": ["tomorrow"]}, "bad slot"),
        ("appointment", {"ticket_id": "1", "slots": ["x"]}, "no ticket"),
        ("arrears", {"units": ["3-1-202"]}, "take no parameters"),
        ("survey", None, "unknown campaign kind 'survey'"),
    ],
)
def test_parameters_are_checked_per_kind(
    db: Database, tmp_path: Path, rules: Rules, kind: str, params: dict[str, Any], message: str
) -> None:
    seed(db, tmp_path)
    done_repair(db, rules, "3-1-202", "plumbing", MORNING)
    with db.session() as s, pytest.raises(DomainError, match=message):
        create_campaign(s, kind, params=params, at=MORNING)


def test_unknown_mode_is_refused(db: Database) -> None:
    with db.session() as s, pytest.raises(DomainError, match="unknown dial mode 'robot'"):
        create_campaign(s, "followup", "robot", at=MORNING)


def test_the_campaign_life(db: Database, tmp_path: Path, rules: Rules) -> None:
    seed(db, tmp_path)
    with db.session() as s:
        cid = create_campaign(s, "followup", name="回访", at=MORNING).id
        for action, bad in (("pause", "new"), ("resume", "new")):
            with pytest.raises(DomainError, match=f"is {bad}: cannot {action}"):
                campaign_action(s, cid, action, MORNING)
        with pytest.raises(DomainError, match="unknown campaign action 'go'"):
            campaign_action(s, cid, "go", MORNING)
        assert campaign_action(s, cid, "start", MORNING).started_at == MORNING
        with pytest.raises(DomainError, match="is running: cannot start"):
            campaign_action(s, cid, "start", MORNING)
        assert campaign_action(s, cid, "pause", MORNING).state == "paused"
        assert campaign_action(s, cid, "resume", MORNING).state == "running"
        later = MORNING + timedelta(hours=1)
        stopped = campaign_action(s, cid, "stop", later)
        assert (stopped.state, stopped.finished_at) == ("stopped", later)
        with pytest.raises(DomainError, match="is stopped: cannot resume"):
            campaign_action(s, cid, "resume", later)
        with pytest.raises(DomainError, match="no campaign 99"):
            campaign_action(s, 99, "start", later)
        assert [c.name for c in list_campaigns(s)] == ["回访"]


def test_a_paused_campaign_dials_no_one_and_stop_ends_its_open_leads(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    cid, made = running_campaign(db, rules, "notice", {"buildings": ["3"], "message": "m"})
    assert made == 3
    first = claim(db, cid, limit=1)
    with db.session() as s:
        campaign_action(s, cid, "pause", MORNING)
    assert claim(db, cid) == []
    with db.session() as s:
        campaign_action(s, cid, "stop", MORNING)
        # The call in progress stays until its outcome is recorded; the others are stopped.
        assert campaign_status(s, cid)["leads"] == {
            "ready": 0,
            "waiting": 0,
            "calling": 1,
            "done": 0,
            "stopped": 2,
        }
        record_attempt(
            s,
            rules,
            RetryPolicy(),
            first[0].lead_id,
            outcome(first[0], "answered", MORNING),
            MORNING,
        )
        assert campaign_status(s, cid)["leads"]["done"] == 1


def test_status_counts_attempts_and_the_abandon_rate(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    cid, _ = running_campaign(db, rules, "notice", {"buildings": ["3", "5"], "message": "m"})
    claims = claim(db, cid)
    assert len(claims) == 4
    with db.session() as s:
        for c, disposition in zip(
            claims, ("answered", "answered", "answered", "abandoned"), strict=True
        ):
            record_attempt(
                s, rules, RetryPolicy(), c.lead_id, outcome(c, disposition, MORNING), MORNING
            )
        status = campaign_status(s, cid)
    assert (status["state"], status["kind"], status["mode"]) == ("running", "notice", "agentless")
    assert status["calls"] == 4 and status["skipped"] == 1
    assert status["attempts"]["answered"] == 3 and status["attempts"]["abandoned"] == 1
    assert status["attempts"]["busy"] == 0
    # One abandoned of four residents who picked up.
    assert status["abandon_rate"] == 0.25
    assert status["leads"]["done"] == 4 and status["leads"]["ready"] == 1  # the callback


def test_retry_figures_come_from_the_dialer_settings(tmp_path: Path) -> None:
    settings = load(tmp_path, env={"HOTLINE_DIALER_RETRY_BUSY_MINUTES": "5"})
    assert settings.dialer.retry == RetryPolicy(busy_minutes=5)
    assert RetryPolicy() == RetryPolicy(
        no_answer_minutes=120,
        busy_minutes=15,
        rejected_minutes=240,
        congestion_minutes=15,
        max_per_day=3,
        max_attempts=6,
    )
    window = settings.dialer.calling_window(Rules().tz)
    assert (window.start.isoformat(), window.end.isoformat()) == ("09:00:00", "20:00:00")
