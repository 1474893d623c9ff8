"""The JSON shape of each record, the same for the CLI's `--json` and the HTTP API: ids as
stored, times ISO 8601 with the site's offset."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, overload

from hotline.core.vocabulary import DomainError

if TYPE_CHECKING:  # the records' types only: a read command imports just what it reads
    from hotline.core.arrears import DueReminder
    from hotline.core.models import (
        ApiToken,
        ArrearsAccount,
        CallRecord,
        Campaign,
        DialRequest,
        FollowUp,
        Lead,
        Recording,
        RecordingAudit,
        Resident,
        Ticket,
        User,
        WebhookDelivery,
        WebhookSubscription,
    )
    from hotline.core.overdue import Overdue
    from hotline.core.report import Report
    from hotline.core.retry import NextStep
    from hotline.core.tickets import TicketHistory


@overload
def iso(moment: datetime, tz: tzinfo) -> str: ...
@overload
def iso(moment: datetime | None, tz: tzinfo) -> str | None: ...
def iso(moment: datetime | None, tz: tzinfo) -> str | None:
    return moment.astimezone(tz).isoformat(timespec="seconds") if moment else None


def parse_at(text: str | None, tz: tzinfo, default: datetime) -> datetime:
    """ISO 8601; a time without offset is read as site time."""
    if text is None:
        return default
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DomainError(
            f"bad timestamp {text!r}: use ISO 8601, e.g. 2026-11-22T09:30:00+08:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


# How far ahead of this machine's clock another's may be: a report stamped later than that is a
# mistyped time (a year ahead), which would hold every deadline it sets off in the future.
CLOCK_SKEW = timedelta(minutes=5)


def check_past(moment: datetime, tz: tzinfo, now: datetime) -> datetime:
    """When something happened: never later than now, give or take CLOCK_SKEW."""
    if moment > now + CLOCK_SKEW:
        raise DomainError(
            f"--at {iso(moment, tz)} is in the future (now {iso(now, tz)}); "
            f"record what has happened, at most {CLOCK_SKEW.seconds // 60} minutes ahead"
        )
    return moment


def parse_past(text: str | None, tz: tzinfo, now: datetime) -> datetime:
    """When something happened (default now), as check_past allows."""
    return check_past(parse_at(text, tz, now), tz, now)


def ticket(t: Ticket, tz: tzinfo, events: bool = False) -> dict[str, Any]:
    data = _ticket_fields(t, t.unit.code if t.unit else None, tz)
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


def ticket_rows(rows: Iterable[Sequence[Any]], tz: tzinfo) -> list[dict[str, Any]]:
    """Rows of `tickets.ticket_page` (its PAGE_COLUMNS, times naive UTC) as `ticket` shows
    tickets. Unpacked by position in one comprehension: a row's mapping and a call per field
    cost more than the rest of a page together."""

    def local(moment: datetime | None) -> str | None:
        return (
            moment.replace(tzinfo=UTC).astimezone(tz).isoformat("T", "seconds") if moment else None
        )

    return [
        {
            "id": id_,
            "kind": kind,
            "category": category,
            "severity": severity,
            "channel": channel,
            "state": state,
            "unit": unit,
            "caller": caller,
            "text": text,
            "recording": recording,
            "emergency": emergency,
            "about_staff": about_staff,
            "incomplete": incomplete,
            "parent_id": parent_id,
            "received_at": local(received_at),
            "escalation_due_at": local(escalation_due_at),
            "resolution_due_at": local(resolution_due_at),
            "updated_at": local(updated_at),
        }
        for (
            id_,
            kind,
            category,
            severity,
            channel,
            state,
            unit,
            caller,
            text,
            recording,
            emergency,
            about_staff,
            incomplete,
            parent_id,
            received_at,
            escalation_due_at,
            resolution_due_at,
            updated_at,
        ) in rows
    ]


def _ticket_fields(t: Ticket, unit: str | None, tz: tzinfo) -> dict[str, Any]:
    """A ticket's listed fields (tickets.PAGE_COLUMNS), from its object."""
    return {
        "id": t.id,
        "kind": t.kind,
        "category": t.category,
        "severity": t.severity,
        "channel": t.channel,
        "state": t.state,
        "unit": unit,
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
        "unit": a.unit,
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


def payment(a: ArrearsAccount, tz: tzinfo) -> dict[str, Any]:
    return {
        "account_id": a.id,
        "paid_amount": str(a.paid_amount),
        "amount": str(a.amount),
        "paid_at": iso(a.paid_at, tz),
    }


def overdue(o: Overdue, tz: tzinfo) -> dict[str, Any]:
    return {
        "what": o.what,
        "deadline": iso(o.deadline, tz),
        "ticket_id": o.ticket_id,
        "unit": o.unit,
        "detail": o.detail,
    }


def campaign(c: Campaign, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": c.id,
        "kind": c.kind,
        "mode": c.mode,
        "state": c.state,
        "name": c.name,
        "params": c.params,
        "created_at": iso(c.created_at, tz),
        "started_at": iso(c.started_at, tz),
        "finished_at": iso(c.finished_at, tz),
    }


def call(r: CallRecord, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": r.id,
        "direction": r.direction,
        "campaign": r.campaign_id,
        "lead": r.lead_id,
        "number": r.callee if r.direction == "out" else r.caller,
        "disposition": r.disposition,
        "hangup_cause": r.hangup_cause,
        "queued_at": iso(r.arrived_at, tz),
        "dialled_at": iso(r.dialled_at, tz),
        "answered_at": iso(r.answered_at, tz),
        "connected_at": iso(r.connected_at, tz),
        "ended_at": iso(r.ended_at, tz),
        "agent": r.agent,
        "keypad": r.keypad,
        "recording": r.recording,
        "next_step": r.next_step,
        "next_step_at": iso(r.next_step_at, tz),
    }


def dial_request(r: DialRequest, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": r.id,
        "lead": r.lead_id,
        "agent": r.agent,
        "state": r.state,
        "requested_at": iso(r.requested_at, tz),
        "call_id": r.call_id,
        "detail": r.detail,
    }


def lead(lead: Lead, request: DialRequest | None, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": lead.id,
        "state": lead.state,
        "number": lead.number,
        "resident": lead.resident.name if lead.resident else None,
        "priority": lead.priority,
        "attempts": lead.attempts,
        "next_attempt_at": iso(lead.next_attempt_at, tz),
        "mode": (lead.payload or {}).get("mode"),
        "flag": lead.flag,
        "result": lead.result,
        "dial_request": dial_request(request, tz) if request else None,
    }


def lead_outcome(lead_id: int, disposition: str, step: NextStep, tz: tzinfo) -> dict[str, Any]:
    return {
        "lead": lead_id,
        "disposition": disposition,
        "next_step": step.text,
        "next_step_at": iso(step.at, tz),
    }


def recording(r: Recording, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "call_id": r.call_id,
        "ticket_id": r.ticket_id,
        "path": r.path,
        "format": r.format,
        "duration": r.duration,
        "size": r.size,
        "sha256": r.sha256,
        "state": r.state,
        "error": r.error,
        "restricted": r.restricted,
        "retain_until": r.retain_until.isoformat(),
        "created_at": iso(r.created_at, tz),
    }


def recording_audit(e: RecordingAudit, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": iso(e.at, tz),
        "action": e.action,
        "by": e.by,
        "reason": e.reason,
        "recording_id": e.recording_id,
        "path": e.path,
        "restricted": e.restricted,
        "outcome": e.outcome,
        "detail": e.detail,
    }


def user(u: User, tz: tzinfo) -> dict[str, Any]:
    return {
        "name": u.name,
        "role": u.role,
        "extension": u.extension,
        "language": u.language,
        "disabled": u.disabled,
        "created_at": iso(u.created_at, tz),
    }


def token(t: ApiToken, tz: tzinfo) -> dict[str, Any]:
    from hotline.core.api_tokens import token_role  # with the users' module: for tokens only

    return {
        "name": t.name,
        "user": t.user.name if t.user else None,
        "role": token_role(t),
        "created_at": iso(t.created_at, tz),
        "revoked_at": iso(t.revoked_at, tz),
    }


def webhook_subscription(w: WebhookSubscription, tz: tzinfo) -> dict[str, Any]:
    """Without its secret: that is shown once, when the subscription is added."""
    return {
        "id": w.id,
        "url": w.url,
        "events": list(w.events),
        "active": w.active,
        "created_at": iso(w.created_at, tz),
    }


def webhook_delivery(d: WebhookDelivery, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": d.id,
        "subscription_id": d.subscription_id,
        "event": d.event.type,
        "idempotency_key": d.event.uuid,
        "status": d.status,
        "attempts": d.attempts,
        "created_at": iso(d.created_at, tz),
        "next_try_at": iso(d.next_try_at, tz) if d.status == "pending" else None,
        "last_try_at": iso(d.last_try_at, tz),
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "delivered_at": iso(d.delivered_at, tz),
    }
