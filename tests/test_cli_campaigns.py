from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hotline.core.db import Database
from hotline.core.leads import claim_leads
from hotline.core.outcomes import record_attempt
from hotline.core.retry import RetryPolicy
from hotline.core.rules import Rules

from campaign_factories import CAMPAIGN_RESIDENTS, WINDOW, outcome
from cli_support import Run, jrun


@pytest.fixture
def cli(cli: Run, tmp_path: Path) -> Run:
    """The command line with the campaign residents imported."""
    (tmp_path / "r.csv").write_text(CAMPAIGN_RESIDENTS, encoding="utf-8")
    assert cli("residents", "import", str(tmp_path / "r.csv"))[0] == 0
    return cli


def test_a_notice_campaign_from_the_command_line(cli: Run, db: Database) -> None:
    made = jrun(
        cli, "campaign", "new", "--kind", "notice", "--units", "3-1-202,5-2-1101",
        "--message", "water-off", "--name", "停水通知",
    )  # fmt: skip
    assert isinstance(made, dict)
    assert {k: made[k] for k in ("kind", "mode", "state", "name")} == {
        "kind": "notice",
        "mode": "agentless",
        "state": "new",
        "name": "停水通知",
    }
    assert made["params"] == {
        "units": ["3-1-202", "5-2-1101"],
        "buildings": [],
        "message": "water-off",
    }
    cid = str(made["id"])
    started = jrun(cli, "campaign", "start", cid)
    assert isinstance(started, dict)
    assert (started["state"], started["leads_made"]) == ("running", 2)
    assert started["started_at"].endswith("+08:00")

    # The dialer's side: one attempt, busy.
    started_at = datetime.fromisoformat(started["started_at"])
    now = (started_at + timedelta(days=1)).replace(hour=10, minute=0, second=0)
    with db.session() as s:
        first, _ = claim_leads(s, int(cid), 5, now, "dialer-1", WINDOW)
        record_attempt(
            s, Rules(), RetryPolicy(), first.lead_id, outcome(first, "busy", now, 17), now
        )

    status = jrun(cli, "campaign", "status", cid)
    assert isinstance(status, dict)
    assert status["leads"] == {"ready": 1, "waiting": 0, "calling": 1, "done": 0, "stopped": 0}
    assert status["attempts"]["busy"] == 1 and status["calls"] == 1
    assert status["abandon_rate"] is None

    calls = jrun(cli, "calls", "list", "--campaign", cid)
    assert isinstance(calls, list)
    (call,) = calls
    assert {k: call[k] for k in ("campaign", "lead", "number", "disposition", "hangup_cause")} == {
        "campaign": int(cid),
        "lead": first.lead_id,
        "number": first.number,
        "disposition": "busy",
        "hangup_cause": 17,
    }
    assert call["next_step"] == "retry: busy"
    assert call["next_step_at"] == (now + timedelta(minutes=15)).isoformat()
    assert call["ended_at"] == now.isoformat() and call["queued_at"].endswith("+08:00")
    assert {"agent", "keypad", "recording", "answered_at", "connected_at"} <= set(call)

    assert jrun(cli, "calls", "list", "--campaign", "999") == []
    paused = jrun(cli, "campaign", "pause", cid)
    assert isinstance(paused, dict) and paused["state"] == "paused"
    code, out, _ = cli("campaign", "list")
    assert code == 0 and "停水通知" in out and "paused" in out
    code, out, _ = cli("campaign", "status", cid)
    assert code == 0 and "busy 1" in out


def test_default_modes_and_kind_parameters(cli: Run) -> None:
    followup = jrun(cli, "campaign", "new", "--kind", "followup")
    arrears = jrun(cli, "campaign", "new", "--kind", "arrears", "--mode", "progressive")
    visitor = jrun(
        cli, "campaign", "new", "--kind", "visitor", "--unit", "3-1-201", "--visitor", "小李"
    )
    assert isinstance(followup, dict) and isinstance(arrears, dict) and isinstance(visitor, dict)
    assert (followup["mode"], arrears["mode"], visitor["mode"]) == (
        "progressive",
        "progressive",
        "agentless",
    )
    assert visitor["params"] == {"unit": "3-1-201", "visitor": "小李", "recording": None}
    campaigns = jrun(cli, "campaign", "list")
    assert isinstance(campaigns, list)
    assert [c["kind"] for c in campaigns] == ["visitor", "arrears", "followup"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("campaign", "new", "--kind", "notice", "--message", "m"), "needs units or buildings"),
        (("campaign", "new", "--kind", "notice", "--units", "9-9-9"), "unknown unit 9-9-9"),
        (("campaign", "new", "--kind", "followup", "--units", "3-1-201"), "take no parameters"),
        (("campaign", "new", "--kind", "visitor", "--unit", "3-1-201"), "'visitor'"),
        (("campaign", "new", "--kind", "appointment", "--ticket", "7"), "no ticket 7"),
        (("campaign", "start", "42"), "no campaign 42"),
        (("campaign", "status", "42"), "no campaign 42"),
    ],
)
def test_mistakes_are_one_line_errors(cli: Run, argv: tuple[str, ...], message: str) -> None:
    code, out, err = cli(*argv)
    assert code == 1 and out == ""
    assert err.startswith("hotline: error: ") and message in err


def test_illegal_actions_say_why(cli: Run) -> None:
    made = jrun(cli, "campaign", "new", "--kind", "arrears")
    assert isinstance(made, dict)
    cid = str(made["id"])
    code, _, err = cli("campaign", "resume", cid)
    assert code == 1 and f"campaign {cid} is new: cannot resume it" in err
    assert cli("campaign", "stop", cid)[0] == 0
    code, _, err = cli("campaign", "start", cid)
    assert code == 1 and "is stopped: cannot start it" in err


def test_appointment_slots_without_offset_are_site_time(cli: Run) -> None:
    ticket = jrun(
        cli, "tickets", "new", "--kind", "repair", "--category", "plumbing", "--unit", "3-1-202"
    )
    assert isinstance(ticket, dict)
    made = jrun(
        cli, "campaign", "new", "--kind", "appointment", "--ticket", str(ticket["id"]),
        "--slot", "2026-11-24T10:00", "--slot", "2026-11-24T15:00:00+08:00",
    )  # fmt: skip
    assert isinstance(made, dict)
    assert made["params"]["slots"] == ["2026-11-24T10:00:00+08:00", "2026-11-24T15:00:00+08:00"]
    code, _, err = cli(
        "campaign", "new", "--kind", "appointment", "--ticket", str(ticket["id"]),
        *[a for s in ("09:00", "10:00", "11:00", "12:00") for a in ("--slot", f"2026-11-24T{s}")],
    )  # fmt: skip
    assert code == 1 and "1 to 3 slots, not 4" in err


def test_campaign_leads_lists_what_preview_callers_work_through(cli: Run) -> None:
    made = jrun(cli, "campaign", "new", "--kind", "notice", "--units", "3-1-202,5-2-1101",
                "--message", "water-off", "--mode", "preview")  # fmt: skip
    assert isinstance(made, dict)
    campaign = made["id"]
    jrun(cli, "campaign", "start", str(campaign))
    leads = jrun(cli, "campaign", "leads", str(campaign))
    assert isinstance(leads, list)
    assert sorted(lead["number"] for lead in leads) == ["13300133000", "5551234"]
    assert {lead["state"] for lead in leads} == {"ready"}
    assert {"id", "number", "resident", "attempts", "next_attempt_at", "flag"} <= set(leads[0])
    code, _, err = cli("campaign", "leads", "999")
    assert code == 1 and "no campaign 999" in err
    code, _, err = cli("campaign", "leads", str(campaign), "--state", "asleep")
    assert code == 2 and "invalid choice: 'asleep'" in err and err.count("\n") == 1


def test_a_preview_call_made_by_hand_is_recorded_with_the_retry_rules(cli: Run) -> None:
    made = jrun(cli, "campaign", "new", "--kind", "notice", "--units", "3-1-202",
                "--message", "water-off", "--mode", "preview")  # fmt: skip
    jrun(cli, "campaign", "start", str(made["id"]))
    (lead,) = jrun(cli, "campaign", "leads", str(made["id"]))
    result = jrun(cli, "campaign", "outcome", str(lead["id"]), "--disposition", "busy",
                  "--by", "经理", "--at", "2026-11-23T10:00:00+08:00")  # fmt: skip
    assert result["next_step"] == "retry: busy"
    assert result["next_step_at"] == "2026-11-23T10:15:00+08:00"  # busy: +15 min
    (call,) = jrun(cli, "calls", "list", "--campaign", str(made["id"]))
    assert (call["disposition"], call["agent"], call["lead"]) == ("busy", "经理", lead["id"])
    code, _, err = cli("campaign", "outcome", "999", "--disposition", "answered", "--by", "x")
    assert code == 1 and "no lead 999" in err
