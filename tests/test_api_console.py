"""The console's API: the screen pop (inbound and dialer calls, complaints kept confidential),
the wrap-up corrections, pause and supervision handed to the PBX (audited), the rules' clocks,
call-backs. JSON checked against the OpenAPI document on every response (api_support)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from twisted.internet.defer import Deferred, succeed

from hotline.core import arrears, tickets
from hotline.core.campaigns import create_campaign
from hotline.core.db import Database
from hotline.core.leads import act_on_campaign
from hotline.core.models import CallRecord, Lead, SupervisionAudit
from hotline.dialer.agent_actions import AgentActions
from hotline.web.site import web_api

from api_support import NOW, ApiClient, Clock, inline

CALL = "1796198443.42"  # an inbound call's uniqueid


@dataclass
class FakePbx:
    """Stands in for AgentActions: what the API asked of the PBX."""

    asked: list[tuple[Any, ...]] = field(default_factory=list)

    def pause(self, agent: str, paused: bool, reason: str | None) -> Deferred[None]:
        self.asked.append(("pause", agent, paused, reason))
        return succeed(None)

    def supervise(self, supervisor: str, agent: str, mode: str) -> Deferred[None]:
        self.asked.append(("supervise", supervisor, agent, str(mode)))
        return succeed(None)


@pytest.fixture
def pbx(api: ApiClient, clock: Clock) -> FakePbx:
    """The same API with its PBX link up (the fake's)."""
    fake = FakePbx()
    api.api.actions = lambda: cast(AgentActions, fake)
    return fake


def file_call(db: Database, kind: str = "repair", category: str = "leak", **extra: Any) -> int:
    """An inbound call written ahead and the report its voice menu filed (as the intake does)."""
    with db.session() as s:
        s.add(
            CallRecord(
                key=f"in:{CALL}",
                direction="in",
                caller="13800138000",
                arrived_at=NOW,
                uniqueid=CALL,
                path="lang>main:1>repair:1",
            )
        )
        intake = tickets.Intake(
            kind,
            category,
            NOW,
            unit="3-1-201",
            caller_number="13800138000",
            intake_key=f"in:{CALL}",
            incomplete=True,
            **extra,
        )
        return tickets.open_ticket(s, _rules(), intake).id


def _rules() -> Any:
    from hotline.core.rules import Rules

    return Rules()


def test_an_inbound_pop_shows_the_caller_the_menus_ticket_and_the_units_context(
    api: ApiClient, db: Database, tmp_path: Path
) -> None:
    filed = file_call(db)
    with db.session() as s:
        other = tickets.Intake(
            "complaint",
            "noise",
            NOW - timedelta(minutes=50),
            unit="3-1-201",
            text="楼上装修太吵",
            caller_number="13800138000",
        )
        complaint = tickets.open_ticket(s, _rules(), other).id
    (tmp_path / "arrears.csv").write_text("unit,amount,months\n3-1-201,1280.50,3\n")
    with db.session() as s:
        arrears.import_arrears(s, _rules(), tmp_path / "arrears.csv", NOW)

    pop = api.get(f"/screen-pop/{CALL}", as_="li").json
    assert (pop["direction"], pop["caller"], pop["unit"]) == ("in", "13800138000", "3-1-201")
    # The number is 张伟's at two units: the agent is told, and sees both.
    assert pop["several_units"] and {r["unit"] for r in pop["residents"]} == {"3-1-201", "5-2-1101"}
    assert pop["call"]["path"] == "lang>main:1>repair:1"
    assert (pop["ticket"]["id"], pop["ticket"]["incomplete"]) == (filed, True)
    assert pop["arrears"]["amount"] == "1280.50" and pop["arrears"]["months"] == 3
    by_id = {t["id"]: t for t in pop["open_tickets"]}
    assert [c["what"] for c in by_id[filed]["clocks"]] == ["dispatch"]
    # Another call's complaint: its clocks, not its words (§3), for an agent...
    assert by_id[complaint]["restricted"] and by_id[complaint]["text"] is None
    assert {c["what"]: c["state"] for c in by_id[complaint]["clocks"]} == {
        "escalate": "near",
        "resolve": "running",
    }
    # ... and all of it for a supervisor.
    sup = api.get(f"/screen-pop/{CALL}", as_="wang").json
    assert {t["id"]: t["text"] for t in sup["open_tickets"]}[complaint] == "楼上装修太吵"

    missing = api.get("/screen-pop/1796198443.99", as_="li")
    assert (missing.status, missing.code) == (404, "not_found")


def test_a_dialer_calls_pop_says_why_the_resident_is_called(
    api: ApiClient, db: Database, tmp_path: Path
) -> None:
    (tmp_path / "arrears.csv").write_text("unit,amount,months\n3-1-202,455.00,4\n")
    with db.session() as s:
        arrears.import_arrears(s, _rules(), tmp_path / "arrears.csv", NOW)
        campaign = create_campaign(s, "arrears", "preview", at=NOW)
        s.flush()
        act_on_campaign(s, _rules(), campaign.id, "start", NOW)
        lead = s.scalars(select(Lead)).one()
    pop = api.get(f"/screen-pop/lead-{lead.id}-1", as_="li").json
    assert (pop["direction"], pop["unit"], pop["resident"]["name"]) == ("out", "3-1-202", "Li Na")
    assert pop["campaign"]["kind"] == "arrears" and pop["lead"]["preview"]
    assert pop["lead"]["reason"]["amount"] == "455.00" and pop["lead"]["reason"]["stage"]

    later = (NOW + timedelta(days=1)).isoformat()
    back = api.post(f"/leads/{lead.id}/callback", {"at": later}, as_="li").json
    assert (back["state"], back["at"]) == ("ready", "2026-11-26T10:00:00+08:00")
    past = api.post(f"/leads/{lead.id}/callback", {"at": "2026-11-01T10:00"}, as_="li")
    assert (past.status, past.code) == (422, "rejected")


def test_the_wrap_up_completes_and_corrects_the_filed_ticket(api: ApiClient, db: Database) -> None:
    filed = file_call(db)
    fixed = api.call(
        "PATCH",
        f"/tickets/{filed}",
        as_="li",
        body={"category": "plumbing", "severity": "major", "text": "水管爆裂"},
    ).json
    assert (fixed["category"], fixed["severity"], fixed["incomplete"]) == (
        "plumbing",
        "major",
        False,
    )
    assert fixed["emergency"] is False  # plumbing is not an emergency repair
    note = fixed["events"][-1]
    assert note["by"] == "li" and note["from"] == note["to"] == "new"
    assert "category: leak -> plumbing" in note["note"] and "completed" in note["note"]
    staff = api.call("PATCH", f"/tickets/{filed}", as_="li", body={"about_staff": True})
    assert (staff.status, staff.code) == (422, "rejected")  # only a complaint is about staff
    bad = api.call("PATCH", f"/tickets/{filed}", as_="li", body={"category": "noise"})
    assert (bad.status, bad.code) == (422, "rejected")


def test_pause_goes_to_the_pbx_for_ones_own_phone_or_a_supervisors(
    api: ApiClient, pbx: FakePbx
) -> None:
    mine = api.post("/agents/101/pause", {"paused": True, "reason": "lunch"}, as_="li")
    assert mine.json == {"agent": "101", "paused": True, "reason": "lunch"}
    other = api.post("/agents/102/pause", {"paused": True}, as_="li")
    assert (other.status, other.code) == (403, "forbidden")
    assert api.post("/agents/102/pause", {"paused": False}, as_="wang").status == 200
    assert pbx.asked == [("pause", "101", True, "lunch"), ("pause", "102", False, None)]


def test_without_the_pbx_link_nothing_is_asked_or_audited(api: ApiClient, db: Database) -> None:
    down = api.post("/agents/101/pause", {"paused": True}, as_="li")
    assert (down.status, down.code) == (503, "unavailable")
    spy = api.post("/supervision", {"agent": "101", "mode": "listen"}, as_="wang")
    assert (spy.status, spy.code) == (503, "unavailable")
    with db.session() as s:
        assert s.scalars(select(SupervisionAudit)).all() == []


def test_supervision_rings_the_supervisor_and_is_audited_for_good(
    api: ApiClient, pbx: FakePbx, db: Database
) -> None:
    agent = api.post("/supervision", {"agent": "102", "mode": "listen"}, as_="li")
    assert (agent.status, agent.code) == (403, "forbidden")
    spy = api.post("/supervision", {"agent": "101", "mode": "whisper"}, as_="wang")
    assert spy.status == 202 and spy.json["ringing"] == "201"
    assert pbx.asked == [("supervise", "201", "101", "whisper")]
    with db.session() as s:
        row = s.scalars(select(SupervisionAudit)).one()
        assert (row.supervisor, row.agent, row.mode, row.at) == ("wang", "101", "whisper", NOW)
    with pytest.raises(DBAPIError), db.session() as s:  # append-only: the database refuses
        s.execute(update(SupervisionAudit).values(mode="listen"))


def test_the_wallboards_clocks(api: ApiClient, db: Database) -> None:
    with db.session() as s:
        for kind, category, minutes in (("complaint", "noise", 70), ("repair", "plumbing", 10)):
            intake = tickets.Intake(
                kind, category, NOW - timedelta(minutes=minutes), unit="3-1-201"
            )
            tickets.open_ticket(s, _rules(), intake)
    clocks = api.get("/wallboard/clocks", as_="li").json
    assert [
        (r["category"], r["clock"]["what"], r["clock"]["state"]) for r in clocks["complaints"]
    ] == [("noise", "escalate", "overdue")]
    assert [(r["category"], r["clock"]["state"]) for r in clocks["repairs"]] == [
        ("plumbing", "overdue")
    ]
    assert clocks["followups"] == []


def test_an_agents_figures_are_their_own(api: ApiClient, db: Database) -> None:
    new = api.post(
        "/tickets", {"kind": "enquiry", "category": "information", "unit": "3-1-201"}, as_="li"
    )
    assert new.status == 201
    mine = api.get("/agents/101/today", as_="li").json
    assert (mine["calls"], mine["tickets"]) == (0, 1)
    assert api.get("/agents/102/today", as_="li").status == 403


def test_web_api_takes_its_pbx_link_as_a_callable(api: ApiClient) -> None:
    assert web_api(api.api.app, inline, Clock()).actions() is None
