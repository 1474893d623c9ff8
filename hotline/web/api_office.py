"""Residents and units, tickets, follow-ups, arrears, the overdue list and the report: the
office's resources, through the same `core` functions as the CLI's commands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hotline import serialise
from hotline.core import arrears, followups, residents, tickets
from hotline.core.events import TicketChanged
from hotline.core.overdue import overdue_now
from hotline.core.report import build_report, report_period
from hotline.core.ticket_states import ALL_STATES
from hotline.core.users import UserRole
from hotline.core.vocabulary import CATEGORIES, Channel, DomainError, Kind, Severity
from hotline.recordings.resolve import with_recordings

from .declare import API, Body, Param
from .schemas import items, ref
from .server import Call

AGENT = UserRole.AGENT
ID = Param("id", "integer", required=True)
AT = Param("at", "date-time", description="as of (ISO 8601; default now)")
PAGE_LIMIT = 200
LIMIT = Param("limit", "integer", description="rows per page (default 50)", maximum=PAGE_LIMIT)
CURSOR = Param("cursor", description="next_cursor of the page before")
_CURSOR_ID = Param("cursor", "integer")


def ticket_changed(data: Any, at: datetime) -> TicketChanged | None:
    """The live stream's ticket.changed for an answer that is a ticket (or holds a complaint
    one: a follow-up's low score)."""
    if isinstance(data, dict) and isinstance(data.get("complaint"), dict):
        data = data["complaint"]
    if not isinstance(data, dict) or "state" not in data:
        return None
    return TicketChanged(
        ticket_id=data["id"],
        kind=data["kind"],
        state=data["state"],
        unit=data["unit"],
        restricted=bool(data["about_staff"]),
        at=at,
    )


def page_cursor(call: Call) -> int | None:
    """The cursor is the last id of the page before: lists run newest (highest id) first."""
    cursor = call.params["cursor"]
    return None if cursor is None else _CURSOR_ID.parse(cursor, call.tz)


def page(rows: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    return {"items": rows, "next_cursor": str(rows[-1]["id"]) if len(rows) == limit else None}


@API.route(
    "GET",
    "/residents",
    "Residents, by unit and name",
    role=AGENT,
    query=(Param("unit", description="one unit, e.g. 3-1-201"),),
    response=items("Resident"),
    tag="residents",
    apart=True,
)
def list_residents(call: Call) -> dict[str, Any]:
    found = residents.list_residents(call.session, call.params["unit"])
    return {"items": [serialise.resident(r) for r in found]}


@API.route(
    "GET",
    "/units/{code}",
    "A unit and its residents",
    role=AGENT,
    path_params=(Param("code", required=True, description="building-entrance-room"),),
    response=ref("Unit"),
    tag="residents",
    apart=True,
)
def get_unit(call: Call) -> dict[str, Any]:
    unit = residents.require_unit(call.session, call.params["code"])
    found = residents.list_residents(call.session, unit.code)
    return {"code": unit.code, "residents": [serialise.resident(r) for r in found]}


@API.route(
    "GET",
    "/tickets",
    "Tickets, newest first, a page at a time",
    role=AGENT,
    query=(
        Param("state", enum=tuple(sorted(ALL_STATES))),
        Param("kind", enum=tuple(Kind)),
        LIMIT,
        CURSOR,
    ),
    response=items("Ticket", paged=True),
    tag="tickets",
    apart=True,
)
def list_tickets(call: Call) -> dict[str, Any]:
    limit = call.params["limit"] or 50
    found = tickets.ticket_page(
        call.session, call.params["state"], call.params["kind"], limit, page_cursor(call)
    )
    rows = serialise.ticket_rows(found, call.tz)
    return page(with_recordings(call.session, rows), limit)


@API.route(
    "GET",
    "/tickets/{id}",
    "A ticket with its history: moves, work orders, follow-ups, calls, recordings",
    role=AGENT,
    path_params=(ID,),
    response=ref("TicketHistory"),
    tag="tickets",
    apart=True,
)
def get_ticket(call: Call) -> dict[str, Any]:
    history = serialise.history(tickets.ticket_history(call.session, call.params["id"]), call.tz)
    return with_recordings(call.session, [history])[0]


@API.route(
    "POST",
    "/tickets",
    "Record a walk-in, WeChat or web report",
    role=AGENT,
    body=Body(
        (
            Param("kind", required=True, enum=tuple(Kind)),
            Param(
                "category",
                required=True,
                description="; ".join(f"{k}: {', '.join(c)}" for k, c in CATEGORIES.items()),
            ),
            Param("unit", required=True),
            Param("severity", enum=tuple(Severity)),
            Param("channel", enum=tuple(Channel)),
            Param("text"),
            Param("at", "date-time", description="when it was really received"),
        )
    ),
    response=ref("Ticket"),
    status=201,
    tag="tickets",
    event=ticket_changed,
)
def create_ticket(call: Call) -> dict[str, Any]:
    b = call.body
    intake = tickets.Intake(
        kind=b["kind"],
        category=b["category"],
        unit=b["unit"],
        severity=b["severity"] or Severity.GENERAL.value,
        channel=b["channel"] or Channel.WEB.value,
        text=b["text"],
        received_at=call.happened(),
    )
    ticket = tickets.open_ticket(call.session, call.app.rules, intake, call.who.name)
    return serialise.ticket(ticket, call.tz)


def _move(call: Call, state: str, by: str | None) -> dict[str, Any]:
    b = call.body
    ticket = tickets.move_ticket(
        call.session, call.app.rules, call.params["id"], state, call.happened(), b["note"], by
    )
    return with_recordings(call.session, [serialise.ticket(ticket, call.tz, True)])[0]


@API.route(
    "POST",
    "/tickets/{id}/moves",
    "Change a ticket's state",
    role=AGENT,
    path_params=(ID,),
    body=Body(
        (
            Param("state", required=True),
            Param("by", description="technician (dispatched) or who signed off (accepted)"),
            Param("note"),
            Param("at", "date-time"),
        )
    ),
    response=ref("TicketWithEvents"),
    tag="tickets",
    event=ticket_changed,
)
def move_ticket(call: Call) -> dict[str, Any]:
    return _move(call, call.body["state"], call.body["by"])


@API.route(
    "POST",
    "/tickets/{id}/assignment",
    "Dispatch a repair to a technician",
    role=AGENT,
    path_params=(ID,),
    body=Body((Param("technician", required=True), Param("note"), Param("at", "date-time"))),
    response=ref("TicketWithEvents"),
    tag="tickets",
    event=ticket_changed,
)
def assign_ticket(call: Call) -> dict[str, Any]:
    return _move(call, "dispatched", call.body["technician"])


@API.route(
    "GET",
    "/followups/due",
    "Follow-ups owed, oldest first",
    role=AGENT,
    query=(AT,),
    response=items("FollowUp"),
    tag="follow-ups",
    apart=True,
)
def followups_due(call: Call) -> dict[str, Any]:
    at, rules = call.params["at"] or call.now, call.app.rules
    found = followups.pending_followups(call.session)
    return {
        "items": [
            serialise.followup(f, call.tz, rules.is_overdue(f.due_at, None, at)) for f in found
        ]
    }


@API.route(
    "POST",
    "/followups/{id}/answers",
    "Record a resident's answers (≤ 2: handled as a complaint)",
    role=AGENT,
    path_params=(ID,),
    body=Body(
        (
            Param("satisfaction", "integer", required=True, description="1 to 5"),
            Param("quality", "integer", description="1 done properly, 2 not"),
            Param("comment"),
            Param("at", "date-time"),
        )
    ),
    response=ref("FollowUpRecorded"),
    tag="follow-ups",
    event=ticket_changed,
)
def record_followup(call: Call) -> dict[str, Any]:
    b = call.body
    if not 1 <= b["satisfaction"] <= 5:
        raise DomainError(f"satisfaction must be 1 to 5, not {b['satisfaction']}")
    answers = followups.Answers(b["satisfaction"], b["quality"], comment=b["comment"])
    complaint = followups.record_answers(
        call.session, call.app.rules, call.params["id"], answers, call.happened()
    )
    return {
        "followup_id": call.params["id"],
        "satisfaction": b["satisfaction"],
        "complaint": serialise.ticket(complaint, call.tz) if complaint else None,
    }


@API.route(
    "GET",
    "/arrears/due",
    "Fee reminders due",
    role=AGENT,
    query=(AT,),
    response=items("DueReminder"),
    tag="arrears",
    apart=True,
)
def arrears_due(call: Call) -> dict[str, Any]:
    found = arrears.due_reminders(call.session, call.app.rules, call.params["at"] or call.now)
    return {"items": [serialise.due_reminder(d, call.tz) for d in found]}


@API.route(
    "POST",
    "/arrears/{id}/payments",
    "Record a payment",
    role=AGENT,
    path_params=(ID,),
    body=Body(
        (
            Param("amount", required=True, description="a decimal string, e.g. 1280.50"),
            Param("at", "date-time"),
        )
    ),
    response=ref("Payment"),
    tag="arrears",
)
def arrears_paid(call: Call) -> dict[str, Any]:
    amount = arrears.parse_amount(call.body["amount"])
    account = arrears.record_payment(call.session, call.params["id"], amount, call.happened())
    return serialise.payment(account, call.tz)


@API.route(
    "GET",
    "/overdue",
    "Every deadline of the rules missed now, oldest first",
    role=AGENT,
    query=(AT,),
    response=items("Overdue"),
    tag="report",
    apart=True,
)
def overdue(call: Call) -> dict[str, Any]:
    found = overdue_now(call.session, call.app.rules, call.params["at"] or call.now)
    return {"items": [serialise.overdue(o, call.tz) for o in found]}


@API.route(
    "GET",
    "/report",
    "The centre's figures for a period (default: this quarter to the end of today)",
    role=AGENT,
    query=(Param("from", "date-time"), Param("to", "date-time")),
    response=ref("Report"),
    tag="report",
    apart=True,
)
def report(call: Call) -> dict[str, Any]:
    start, end = report_period(call.params["from"], call.params["to"], call.tz, call.now)
    result = build_report(call.session, call.app.rules, start, end, call.now)
    return serialise.report(result, call.tz)
