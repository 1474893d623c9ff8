"""The JSON shape of each record the CLI prints (times ISO 8601 with the site's offset)."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from hotline.core.arrears import DueReminder
from hotline.core.models import FollowUp, Resident, Ticket
from hotline.core.report import Report
from hotline.core.tickets import TicketHistory

from .output import iso


def ticket(t: Ticket, tz: tzinfo, events: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": t.id,
        "kind": t.kind,
        "category": t.category,
        "severity": t.severity,
        "channel": t.channel,
        "state": t.state,
        "unit": t.unit.code if t.unit else None,
        "caller": t.caller_number,
        "text": t.text,
        "recording": t.recording,
        "emergency": t.emergency,
        "about_staff": t.about_staff,
        "incomplete": t.incomplete,
        "parent_id": t.parent_id,
        "received_at": iso(t.received_at, tz),
        "escalation_due_at": iso(t.escalation_due_at, tz),
        "resolution_due_at": iso(t.resolution_due_at, tz),
        "updated_at": iso(t.updated_at, tz),
    }
    if events:
        data["events"] = [
            {
                "from": e.from_state,
                "to": e.to_state,
                "at": iso(e.at, tz),
                "by": e.actor,
                "note": e.note,
            }
            for e in t.events
        ]
    return data


def history(h: TicketHistory, tz: tzinfo) -> dict[str, Any]:
    """A ticket with everything done about it: who moved it when, its work orders, follow-ups,
    calls and recordings (as the recordings index names them; a restricted one's path is
    shown by `hotline recordings show --allow-restricted` only)."""
    data = ticket(h.ticket, tz, events=True)
    data["work_orders"] = [
        {
            "id": w.id,
            "technician": w.technician,
            "created_at": iso(w.created_at, tz),
            "completed_at": iso(w.completed_at, tz),
            "accepted_by": w.accepted_by,
            "accepted_at": iso(w.accepted_at, tz),
        }
        for w in h.work_orders
    ]
    data["followups"] = [
        dict(followup(f, tz, False), **followup_answers(f, tz)) for f in h.followups
    ]
    data["calls"] = [
        {
            "id": c.id,
            "direction": c.direction,
            "number": c.callee if c.direction == "out" else c.caller,
            "arrived_at": iso(c.arrived_at, tz),
            "answered_at": iso(c.answered_at, tz),
            "ended_at": iso(c.ended_at, tz),
            "disposition": c.disposition,
            "agent": c.agent,
            "queue": c.queue,
            "campaign_id": c.campaign_id,
        }
        for c in h.calls
    ]
    data["recordings"] = [
        {
            "id": r.id,
            "kind": r.kind,
            "call_id": r.call_id,
            "path": None if r.restricted else r.path,
            "state": r.state,
            "restricted": r.restricted,
        }
        for r in h.recordings
    ]
    return data


def followup_answers(f: FollowUp, tz: tzinfo) -> dict[str, Any]:
    return {
        "done_at": iso(f.done_at, tz),
        "satisfaction": f.satisfaction,
        "quality": f.quality,
        "comment": f.comment,
    }


def resident(r: Resident) -> dict[str, Any]:
    return {
        "id": r.id,
        "unit": r.unit.code,
        "name": r.name,
        "phones": [p.number for p in r.phones],
        "lang": r.lang,
        "do_not_call": r.do_not_call,
    }


def followup(f: FollowUp, tz: tzinfo, now_overdue: bool) -> dict[str, Any]:
    return {
        "id": f.id,
        "ticket_id": f.ticket_id,
        "kind": f.ticket.kind,
        "category": f.ticket.category,
        "unit": f.ticket.unit.code if f.ticket.unit else None,
        "assignee_role": f.assignee_role,
        "due_at": iso(f.due_at, tz),
        "overdue": now_overdue,
    }


def due_reminder(d: DueReminder, tz: tzinfo) -> dict[str, Any]:
    a = d.account
    return {
        "account_id": a.id,
        "unit": a.unit.code,
        "amount": str(a.amount),
        "months": a.months,
        "stage": a.stage,
        "next_stage": d.reminder.stage.value,
        "due_at": iso(d.reminder.due_at, tz),
    }


def report(r: Report, tz: tzinfo) -> dict[str, Any]:
    data = r.to_dict()
    data["start"], data["end"] = iso(r.start, tz), iso(r.end, tz)
    return data
