from __future__ import annotations

import threading
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from hotline.core.arrears import import_arrears
from hotline.core.calling_window import CallingWindow, in_calling_window
from hotline.core.db import Database
from hotline.core.followups import Answers, record_answers
from hotline.core.leads import LeadClaim, claim_leads, generate_leads, release_stale
from hotline.core.models import Campaign, Lead, Phone, Resident, Unit
from hotline.core.rules import Rules
from hotline.core.tickets import Intake, move_ticket, open_ticket
from hotline.core.vocabulary import DomainError

from campaign_factories import MORNING, SH, WINDOW, claim, done_repair, running_campaign, seed


def test_calling_window_edges_are_read_on_the_site_clock() -> None:
    start, end = time(9), time(20)
    assert not in_calling_window(datetime(2026, 11, 23, 8, 59, 59, tzinfo=SH), SH, start, end)
    assert in_calling_window(datetime(2026, 11, 23, 9, 0, tzinfo=SH), SH, start, end)
    assert in_calling_window(datetime(2026, 11, 23, 19, 59, 59, tzinfo=SH), SH, start, end)
    assert not in_calling_window(datetime(2026, 11, 23, 20, 0, tzinfo=SH), SH, start, end)
    # 01:00 UTC is 09:00 in Shanghai.
    utc = datetime.fromisoformat("2026-11-23T01:00:00+00:00")
    assert in_calling_window(utc, SH, start, end)
    assert not in_calling_window(utc - timedelta(seconds=1), SH, start, end)
    with pytest.raises(DomainError, match="empty"):
        CallingWindow.parse(SH, "20:00", "09:00")


def test_notice_leads_one_per_resident_never_do_not_call_and_idempotent(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    params = {"units": ["5-2-1101"], "buildings": ["3"], "message": "water-off"}
    campaign_id, made = running_campaign(db, rules, "notice", params)
    assert made == 4  # 张伟, 王芳, Li Na, 刘洋; 陈静 is do-not-call
    with db.session() as s:
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None and campaign.skipped == 1
        assert generate_leads(s, rules, campaign, MORNING + timedelta(hours=1)) == 0
        names = s.scalars(
            select(Resident.name).join(Lead, Lead.resident_id == Resident.id).order_by(Lead.id)
        ).all()
        assert sorted(names) == sorted(["张伟", "王芳", "Li Na", "刘洋"])


def test_a_visitor_campaign_whose_unit_is_gone_fails_clearly(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    campaign_id, made = running_campaign(
        db, rules, "visitor", {"unit": "3-1-201", "visitor": "小李"}
    )
    with db.session() as s:
        s.execute(update(Unit).where(Unit.code == "3-1-201").values(code="3-1-209"))
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None and made > 0
        with pytest.raises(DomainError, match="unknown unit 3-1-201"):
            generate_leads(s, rules, campaign, MORNING + timedelta(hours=1))
        assert s.scalar(select(func.count()).select_from(Lead)) == made


def test_a_resident_whose_numbers_are_all_invalid_is_skipped(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    with db.session() as s:
        s.execute(update(Phone).where(Phone.number == "13300133000").values(invalid_reason="x"))
    _, made = running_campaign(
        db, rules, "notice", {"units": ["5-2-1101"], "buildings": [], "message": "m"}
    )
    assert made == 0


def test_followup_leads_are_due_ones_overdue_first_with_the_assignee(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    # Other repairs: follow-up due 24 h after done; safety: 2 days.
    early = done_repair(db, rules, "3-1-202", "plumbing", MORNING - timedelta(days=3))
    on_time = done_repair(db, rules, "5-2-1101", "other", MORNING - timedelta(hours=24))
    done_repair(db, rules, "3-1-201", "safety", MORNING - timedelta(hours=24))  # due tomorrow
    campaign_id, made = running_campaign(db, rules, "followup")
    assert made == 2
    claims = claim(db, campaign_id)
    assert [c.payload["ticket_id"] for c in claims] == [early, on_time]
    assert claims[0].priority > claims[1].priority  # overdue by two days
    assert claims[0].payload["assignee_role"] == "cs_staff"
    assert claims[0].mode == "progressive"
    with db.session() as s:
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None
        # Two days later the safety repair is due too; the two called ones get no second lead.
        assert generate_leads(s, rules, campaign, MORNING + timedelta(days=2)) == 1


def test_a_major_complaint_follow_up_is_a_preview_lead_for_the_manager(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    at = MORNING - timedelta(days=4)
    with db.session() as s:
        ticket = open_ticket(
            s,
            rules,
            Intake(
                kind="complaint",
                category="service",
                received_at=at,
                unit="3-1-202",
                severity="major",
            ),
        )
        move_ticket(s, rules, ticket.id, "escalated", at)
        move_ticket(s, rules, ticket.id, "resolved", at)
    campaign_id, made = running_campaign(db, rules, "followup")
    assert made == 1
    # The manager makes that call himself: the dialer never claims it.
    assert claim(db, campaign_id) == []
    with db.session() as s:
        lead = s.scalars(select(Lead).where(Lead.campaign_id == campaign_id)).one()
        assert lead.preview and (lead.payload or {})["assignee_role"] == "manager"
        assert lead.state == "ready"
        followup_id = lead.followup_id
        assert followup_id is not None
    # The manager calls and records the answers: the lead owes nothing any more.
    with db.session() as s:
        record_answers(s, rules, followup_id, Answers(4), MORNING)
    with db.session() as s:
        assert s.get_one(Lead, lead.id).state == "done"


def test_arrears_leads_speak_amount_and_months_once_per_stage(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    csv = tmp_path / "arrears.csv"
    csv.write_text("unit,amount,months\n3-1-202,1280.50,2\n3-2-301,99,2\n", encoding="utf-8")
    with db.session() as s:
        import_arrears(s, rules, csv, MORNING)
    campaign_id, made = running_campaign(db, rules, "arrears")
    assert made == 1  # 3-2-301's only resident is do-not-call
    (lead,) = claim(db, campaign_id)
    assert lead.mode == "predictive"
    assert (lead.payload["amount"], lead.payload["months"], lead.payload["stage"]) == (
        str(Decimal("1280.50")),
        2,
        "first",
    )
    with db.session() as s:
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None and campaign.skipped == 1
        # The lead is on a call: no second lead for the account, whatever the moment.
        assert generate_leads(s, rules, campaign, MORNING + timedelta(days=30)) == 0


def test_claims_respect_the_window_the_state_and_due_time(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    with db.session() as s:
        from hotline.core.campaigns import campaign_action, create_campaign

        campaign = create_campaign(
            s, "notice", params={"units": ["3-1-202"], "buildings": [], "message": "m"}, at=MORNING
        )
        generate_leads(s, rules, campaign, MORNING)
        campaign_id = campaign.id
        assert claim_leads(s, campaign_id, 5, MORNING, "d", WINDOW) == []  # not started
        campaign_action(s, campaign_id, "start", MORNING)
    evening = datetime(2026, 11, 23, 20, 0, tzinfo=SH)
    assert claim(db, campaign_id, evening) == []
    assert claim(db, campaign_id, MORNING - timedelta(minutes=1)) == []  # before it was due
    assert len(claim(db, campaign_id, evening - timedelta(seconds=1))) == 1


def test_do_not_call_set_after_generation_is_never_dialled(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    seed(db, tmp_path)
    campaign_id, _ = running_campaign(
        db, rules, "notice", {"units": ["3-1-201"], "buildings": [], "message": "m"}
    )
    with db.session() as s:
        s.execute(update(Resident).where(Resident.name == "王芳").values(do_not_call=True))
    assert [c.resident_name for c in claim(db, campaign_id)] == ["张伟"]


def test_a_resident_is_never_in_two_live_calls(db: Database, tmp_path: Path, rules: Rules) -> None:
    seed(db, tmp_path)
    params = {"units": ["3-1-202"], "buildings": [], "message": "m"}
    first, _ = running_campaign(db, rules, "notice", params)
    second, _ = running_campaign(db, rules, "notice", params)
    (live,) = claim(db, first)
    assert live.resident_name == "Li Na" and live.attempts == 1
    assert live.call_id == f"lead-{live.lead_id}-1"
    assert claim(db, second) == []
    with db.session() as s:
        assert release_stale(s, "dialer-1", MORNING, live_call_ids=[live.call_id]) == []
        assert release_stale(s, "dialer-1", MORNING, live_call_ids=[]) == [live.lead_id]
    # Freed: either campaign may have her now, the first keeps its counted attempt.
    (again,) = claim(db, first)
    assert again.attempts == 2 and again.call_id == f"lead-{live.lead_id}-2"


def test_claim_counts_attempts_per_site_day(db: Database, tmp_path: Path, rules: Rules) -> None:
    seed(db, tmp_path)
    campaign_id, _ = running_campaign(
        db, rules, "notice", {"units": ["3-1-202"], "buildings": [], "message": "m"}
    )
    for day in (0, 0, 1):
        at = MORNING + timedelta(days=day)
        (c,) = claim(db, campaign_id, at)
        with db.session() as s:
            release_stale(s, "dialer-1", at)
    with db.session() as s:
        lead = s.get(Lead, c.lead_id)
        assert lead is not None
        assert (lead.attempts, lead.attempts_today, lead.attempts_day) == (
            3,
            1,
            (MORNING + timedelta(days=1)).date(),
        )


MANY = "unit,name,phone\n" + "".join(
    f"9-1-{100 + i},住户{i},1390000{1000 + i}\n" for i in range(12)
)


def _claim_in_threads(db: Database, campaign_ids: list[int]) -> list[list[LeadClaim]]:
    """Two dialers, each claiming in its own transaction: the first claims and keeps its
    transaction open until the second has claimed too (without SKIP LOCKED the second would wait
    on the first's rows and the barrier would time out)."""
    claimed, second_done = threading.Barrier(2, timeout=20), threading.Barrier(2, timeout=20)
    results: list[list[LeadClaim]] = [[], []]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            with db.session() as s:
                if index:
                    claimed.wait()
                results[index] = claim_leads(
                    s, campaign_ids[index], 5, MORNING, f"dialer-{index}", WINDOW
                )
                if not index:
                    claimed.wait()
                second_done.wait()
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)
            claimed.abort()
            second_done.abort()

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_postgres_dialers_sharing_a_database_claim_disjoint_leads(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED concerns PostgreSQL; SQLite is one process")
    seed(db, tmp_path, MANY)
    campaign_id, made = running_campaign(
        db, rules, "notice", {"units": [], "buildings": ["9"], "message": "m"}
    )
    assert made == 12
    first, second = _claim_in_threads(db, [campaign_id, campaign_id])
    assert len(first) == 5 and len(second) == 5
    assert not {c.lead_id for c in first} & {c.lead_id for c in second}
    with db.session() as s:
        calling = s.scalars(select(Lead.claimed_by).where(Lead.state == "calling")).all()
        assert sorted(c or "" for c in calling) == ["dialer-0"] * 5 + ["dialer-1"] * 5


def test_postgres_dialers_never_call_one_resident_from_two_campaigns(
    db: Database, tmp_path: Path, rules: Rules
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED concerns PostgreSQL; SQLite is one process")
    seed(db, tmp_path)
    params = {"units": ["3-1-202"], "buildings": [], "message": "m"}
    one, _ = running_campaign(db, rules, "notice", params)
    two, _ = running_campaign(db, rules, "notice", params)
    first, second = _claim_in_threads(db, [one, two])
    assert [c.resident_name for c in first] == ["Li Na"] and second == []
