"""Each resource over HTTP: the CLI's records and rules, the CLI's one-line errors, JSON checked
against the OpenAPI document on every response (api_support)."""

from __future__ import annotations

import json
import wave
from datetime import datetime
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest

from hotline.core import arrears, tickets
from hotline.core.db import Database, DatabaseUnavailable
from hotline.core.models import CallRecord, RecordingAudit
from hotline.core.rules import Rules
from hotline.recordings import index

from api_support import NOW, ApiClient
from cli_support import Run, jrun

REPAIR = {"kind": "repair", "category": "leak", "unit": "3-1-201", "text": "卫生间漏水"}


def new_ticket(api: ApiClient, **fields: object) -> dict[str, Any]:
    reply = api.post("/tickets", REPAIR | fields, as_="li")
    assert reply.status == 201, reply.body
    ticket: dict[str, Any] = reply.json
    return ticket


def test_residents_and_units(api: ApiClient) -> None:
    everyone = api.get("/residents", as_="li").json["items"]
    assert [(r["unit"], r["name"]) for r in everyone][:2] == [
        ("3-1-201", "张伟"),
        ("3-1-202", "Li Na"),
    ]
    one = api.get("/residents?unit=7-1-101", as_="li").json["items"]
    assert [(r["name"], r["do_not_call"]) for r in one] == [("赵敏", True)]
    unit = api.get("/units/5-2-1101", as_="li").json
    assert unit["code"] == "5-2-1101" and [r["phones"] for r in unit["residents"]] == [
        ["13800138000"]
    ]
    missing = api.get("/units/9-9-999", as_="li")
    assert (missing.status, missing.code) == (404, "not_found")
    assert missing.json["error"]["message"] == "unknown unit 9-9-999 (import its residents first)"
    bad = api.get("/units/nonsense", as_="li")
    assert (bad.status, bad.code) == (422, "rejected")


def test_a_ticket_is_created_read_moved_and_assigned(api: ApiClient) -> None:
    made = new_ticket(api, at="2026-11-25T09:30")
    assert made["received_at"] == "2026-11-25T09:30:00+08:00"  # site time, with its offset
    assert (made["state"], made["emergency"], made["channel"]) == ("new", True, "web")
    tid = made["id"]
    assigned = api.post(f"/tickets/{tid}/assignment", {"technician": "王师傅"}, as_="li").json
    assert assigned["state"] == "dispatched"
    moved = api.post(f"/tickets/{tid}/moves", {"state": "in_progress", "note": "到场"}, as_="li")
    assert moved.status == 200
    history = api.get(f"/tickets/{tid}", as_="li").json["events"]
    assert [(e["from"], e["to"]) for e in history] == [
        (None, "new"),
        ("new", "dispatched"),
        ("dispatched", "in_progress"),
    ]
    assert history[-1]["note"] == "到场"


def test_the_api_refuses_with_the_clis_reason(api: ApiClient, cli: Run) -> None:
    tid = new_ticket(api)["id"]
    reply = api.post(f"/tickets/{tid}/moves", {"state": "closed"}, as_="li")
    code, _out, err = cli("tickets", "move", str(tid), "closed")
    assert (reply.status, reply.code, code) == (422, "rejected", 1)
    assert err.strip() == f"hotline: error: {reply.json['error']['message']}"
    reply = api.post("/tickets", REPAIR | {"category": "noise"}, as_="li")  # a complaint's
    code, _out, err = cli(
        "tickets", "new", "--kind", "repair", "--category", "noise", "--unit", "3-1-201"
    )
    assert err.strip() == f"hotline: error: {reply.json['error']['message']}"
    assert api.get("/tickets/999", as_="li").json["error"] == {
        "code": "not_found",
        "message": "no ticket 999",
    }


def test_the_api_and_the_cli_print_the_same_records(api: ApiClient, cli: Run) -> None:
    new_ticket(api)
    new_ticket(api, kind="complaint", category="noise", severity="major")
    assert api.get("/tickets", as_="li").json["items"] == jrun(cli, "tickets", "list")
    assert api.get("/tickets/2", as_="li").json == jrun(cli, "tickets", "show", "2")
    assert api.get("/residents", as_="li").json["items"] == jrun(cli, "residents", "list")


def test_tickets_page_by_cursor_with_filters(api: ApiClient) -> None:
    for n in range(5):
        new_ticket(api, kind="complaint" if n % 2 else "repair", category="other")
    seen, cursor = [], None
    while True:
        reply = api.get("/tickets?limit=2" + (f"&cursor={cursor}" if cursor else ""), as_="li").json
        seen += [t["id"] for t in reply["items"]]
        cursor = reply["next_cursor"]
        if cursor is None:
            break
    assert seen == [5, 4, 3, 2, 1]
    complaints = api.get("/tickets?kind=complaint&state=new", as_="li").json["items"]
    assert [t["id"] for t in complaints] == [4, 2]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("cursor=abc", "cursor must be a positive whole number"),
        ("limit=0", "limit must be a positive whole number"),
        ("limit=201", "limit must be at most 200"),
        ("kind=parcel", "kind must be one of: repair, complaint, enquiry"),
        ("colour=red", "unknown query parameter(s): colour"),
    ],
)
def test_bad_query_parameters_are_named(api: ApiClient, query: str, message: str) -> None:
    reply = api.get(f"/tickets?{query}", as_="li")
    assert (reply.status, reply.json["error"]) == (400, {"code": "bad_request", "message": message})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "the request body is not JSON"),
        (b"[1]", "the request body must be a JSON object"),
        (b'{"kind": "repair", "category": "leak"}', "unit is required"),
        (b'{"kind": "repair", "category": "leak", "unit": 3}', "unit must be a JSON string"),
        (
            b'{"kind": "repair", "category": "leak", "unit": "3-1-201", "x": 1}',
            "unknown field(s): x",
        ),
        (b'{"kind": "repair", "category": "leak", "unit": "3-1-201", "at": "soon"}', None),
    ],
)
def test_bad_bodies_are_refused_and_change_nothing(
    api: ApiClient, raw: bytes, message: str | None
) -> None:
    reply = api.call("POST", "/tickets", raw=raw, as_="li")
    assert (reply.status, reply.code) == (400, "bad_request")
    if message:
        assert reply.json["error"]["message"] == message
    else:
        assert reply.json["error"]["message"].startswith("bad timestamp 'soon'")
    assert api.get("/tickets", as_="li").json["items"] == []


def test_a_bad_time_reads_as_the_clis(api: ApiClient, cli: Run) -> None:
    reply = api.get("/overdue?at=yesterday", as_="li")
    _code, _out, err = cli("overdue", "--at", "yesterday")
    assert (reply.status, reply.code) == (400, "bad_request")
    assert err.strip() == f"hotline: error: {reply.json['error']['message']}"


def test_what_happened_is_not_in_the_future(api: ApiClient) -> None:
    reply = api.post("/tickets", REPAIR | {"at": "2026-11-25T10:06"}, as_="li")  # now is 10:00
    assert (reply.status, reply.code) == (422, "rejected")
    assert reply.json["error"]["message"].startswith("--at 2026-11-25T10:06:00+08:00 is in the")
    assert api.post("/tickets", REPAIR | {"at": "2026-11-25T10:04"}, as_="li").status == 201


def test_unknown_paths_and_methods(api: ApiClient) -> None:
    assert api.get("/nowhere", as_="li", check=False).json["error"]["code"] == "not_found"
    reply = api.call("PUT", "/tickets", as_="li", check=False)
    assert (reply.status, reply.code) == (405, "method_not_allowed")


def test_follow_ups_due_and_recorded(api: ApiClient, cli: Run) -> None:
    tid = new_ticket(api, at="2026-11-24T09:00")["id"]
    for state, at in (("dispatched", "09:05"), ("in_progress", "10:00"), ("done", "11:00")):
        body = {"state": state, "at": f"2026-11-24T{at}", "by": "王师傅"}
        assert api.post(f"/tickets/{tid}/moves", body, as_="li").status == 200
    due = api.get("/followups/due?at=2026-11-28T09:00", as_="li").json["items"]
    assert due == jrun(cli, "followups", "due", "--at", "2026-11-28T09:00")
    assert [(f["ticket_id"], f["overdue"]) for f in due] == [(tid, True)]
    out_of_range = api.post(f"/followups/{due[0]['id']}/answers", {"satisfaction": 9}, as_="li")
    assert (out_of_range.status, out_of_range.code) == (422, "rejected")
    reply = api.post(
        f"/followups/{due[0]['id']}/answers", {"satisfaction": 2, "comment": "还在漏"}, as_="li"
    ).json
    assert reply["complaint"]["kind"] == "complaint" and reply["complaint"]["parent_id"] == tid
    again = api.post(f"/followups/{due[0]['id']}/answers", {"satisfaction": 4}, as_="li")
    assert again.code == "rejected" and "already recorded" in again.json["error"]["message"]


def test_arrears_due_and_paid(api: ApiClient, db: Database, tmp_path: Path, cli: Run) -> None:
    csv = tmp_path / "arrears.csv"
    csv.write_text("unit,amount,months\n3-1-201,1280.50,3\n", encoding="utf-8")
    with db.session() as s:
        assert arrears.import_arrears(s, Rules(), csv, NOW).imported == 1
    due = api.get("/arrears/due?at=2027-03-01T10:00", as_="li").json["items"]
    assert due == jrun(cli, "arrears", "due", "--at", "2027-03-01T10:00")
    assert [(d["unit"], d["amount"]) for d in due] == [("3-1-201", "1280.50")]
    bad = api.post(f"/arrears/{due[0]['account_id']}/payments", {"amount": "lots"}, as_="li")
    assert bad.json["error"] == {"code": "rejected", "message": "bad amount 'lots'"}
    paid = api.post(
        f"/arrears/{due[0]['account_id']}/payments", {"amount": "1280.50"}, as_="li"
    ).json
    assert paid["paid_amount"] == "1280.50" and paid["paid_at"] == "2026-11-25T10:00:00+08:00"


def test_calls_page_and_read(api: ApiClient, db: Database) -> None:
    with db.session() as s:
        for n in range(3):
            s.add(
                CallRecord(
                    key=f"call-{n}",
                    direction="in",
                    caller="13800138000",
                    arrived_at=NOW,
                    rings_before_answer=1,
                    keypad={"menu": str(n)},
                )
            )
    first = api.get("/calls?limit=2", as_="li").json
    assert [c["id"] for c in first["items"]] == [3, 2] and first["next_cursor"] == "2"
    rest = api.get(f"/calls?limit=2&cursor={first['next_cursor']}", as_="li").json
    assert ([c["id"] for c in rest["items"]], rest["next_cursor"]) == ([1], None)
    one = api.get("/calls/1", as_="li").json
    assert (one["number"], one["keypad"], one["queued_at"]) == (
        "13800138000",
        {"menu": "0"},
        "2026-11-25T10:00:00+08:00",
    )
    assert api.get("/calls/9", as_="li").code == "not_found"


def test_campaigns_run_by_a_supervisor_and_worked_by_an_agent(
    api: ApiClient, db: Database, tmp_path: Path
) -> None:
    csv = tmp_path / "arrears.csv"
    csv.write_text("unit,amount,months\n3-1-201,300,3\n", encoding="utf-8")
    with db.session() as s:
        arrears.import_arrears(s, Rules(), csv, datetime(2026, 8, 1, tzinfo=NOW.tzinfo))
    made = api.post("/campaigns", {"kind": "arrears", "mode": "preview"}, as_="wang").json
    cid = made["id"]
    assert (made["state"], made["mode"]) == ("new", "preview")
    assert api.post(f"/campaigns/{cid}/pause", as_="wang").code == "rejected"
    assert api.post(f"/campaigns/{cid}/start", as_="wang").json["state"] == "running"
    assert api.post(f"/campaigns/{cid}/explode", as_="wang").code == "bad_request"
    status = api.get(f"/campaigns/{cid}/status", as_="li").json
    assert status["leads"]["ready"] == 1
    (lead,) = api.get(f"/campaigns/{cid}/leads?state=ready", as_="li").json["items"]
    assert (lead["resident"], lead["dial_request"]) == ("张伟", None)
    request = api.post(f"/leads/{lead['id']}/dial-requests", as_="li")  # li's extension, 101
    assert request.status == 201
    assert (request.json["agent"], request.json["state"]) == ("101", "pending")
    twice = api.post(f"/leads/{lead['id']}/dial-requests", {"agent": "102"}, as_="li")
    assert twice.code == "rejected"
    (listed,) = api.get(f"/campaigns/{cid}/leads", as_="li").json["items"]
    assert listed["dial_request"]["id"] == request.json["id"]
    assert [c["id"] for c in api.get("/campaigns", as_="li").json["items"]] == [cid]
    assert api.get(f"/campaigns/{cid}", as_="li").json["state"] == "running"


def test_report_and_overdue(api: ApiClient, cli: Run) -> None:
    new_ticket(api, at="2026-11-25T08:00")  # an emergency repair, not dispatched after 5 min
    overdue = api.get("/overdue?at=2026-11-25T10:00", as_="li").json["items"]
    assert overdue == jrun(cli, "overdue", "--at", "2026-11-25T10:00")
    assert [o["what"] for o in overdue] == ["dispatch"]
    period = "from=2026-10-01T00:00&to=2026-11-26T00:00"
    report = api.get(f"/report?{period}", as_="li").json
    assert report == jrun(cli, "report", "--from", "2026-10-01T00:00", "--to", "2026-11-26T00:00")
    backwards = api.get("/report?from=2026-11-26T00:00&to=2026-10-01T00:00", as_="li")
    assert backwards.code == "rejected"


def wav(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x01\x00" * 800)
    return path.read_bytes()


def test_recordings_restricted_ones_for_supervisors_with_a_reason(
    api: ApiClient, db: Database
) -> None:
    folder = api.api.app.settings.recordings_dir / "calls"
    repair = new_ticket(api)["id"]
    complaint = new_ticket(api, kind="complaint", category="service")["id"]
    with db.session() as s:
        plain_bytes = wav(folder / "plain.wav")
        plain = index.register(s, folder / "plain.wav", "call", ticket_id=repair, at=NOW).id
        secret_bytes = wav(folder / "secret.wav")
        secret = index.register(s, folder / "secret.wav", "call", ticket_id=complaint, at=NOW).id
    listed = api.get("/recordings", as_="li").json["items"]
    assert [(r["id"], r["restricted"]) for r in listed] == [(plain, False)]
    asked = api.get("/recordings?include_restricted=true&reason=review", as_="li")
    assert (asked.status, asked.code) == (403, "forbidden")
    # The audio itself is streamed over a real socket in test_api_service.py.
    assert (
        api.get(f"/recordings/{plain}", as_="li").json["sha256"] == sha256(plain_bytes).hexdigest()
    )
    refused = api.get(f"/recordings/{secret}/audio", as_="li")
    assert (refused.status, refused.code) == (403, "forbidden")
    assert api.get(f"/recordings/{secret}", as_="li").code == "forbidden"
    no_reason = api.get(f"/recordings/{secret}/audio", as_="wang")
    assert (no_reason.status, no_reason.code) == (403, "restricted")
    heard = api.get(f"/recordings/{secret}?reason=complaint%202%20review", as_="wang")
    assert (heard.status, heard.json["sha256"]) == (200, sha256(secret_bytes).hexdigest())
    both = api.get("/recordings?include_restricted=true&reason=weekly%20check", as_="wang")
    assert [r["id"] for r in both.json["items"]] == [plain, secret]
    with db.session() as s:
        trail = [(e.action, e.by, e.reason, e.recording_id) for e in s.query(RecordingAudit)]
    assert trail == [
        ("listen", "wang", "complaint 2 review", secret),
        ("list", "wang", "weekly check", None),
    ]
    assert json.loads(api.get("/recordings/77", as_="li").body)["error"]["code"] == "not_found"


def test_a_fault_of_the_service_is_a_logged_500_without_a_traceback(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(tickets, "ticket_page", broken)
    reply = api.get("/tickets", as_="li")
    assert reply.status == 500
    assert reply.json == {
        "error": {"code": "internal", "message": "internal error (logged by the service)"}
    }
    assert "disk on fire" not in reply.body.decode()
    assert "disk on fire" in caplog.text and "Traceback" in caplog.text

    def unreachable(*args: object, **kwargs: object) -> None:
        raise DatabaseUnavailable("database unavailable: connection refused")

    monkeypatch.setattr(tickets, "ticket_page", unreachable)
    reply = api.get("/tickets", as_="li")
    assert (reply.status, reply.code) == (503, "unavailable")
