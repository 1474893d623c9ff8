"""What each webhook event carries: plain dicts with the ids the CLI shows and ISO 8601 times in
the site's offset (docs/api.md, Webhooks). Built from ORM objects or from the Core rows of the
intake's hot path alike, through the same field lists."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .rules import Rules

# A ticket's fields as hotline.serialise.ticket names them (its "caller" is caller_number).
TICKET_FIELDS = (
    "kind",
    "category",
    "severity",
    "channel",
    "state",
    "caller_number",
    "text",
    "emergency",
    "about_staff",
    "incomplete",
    "parent_id",
    "received_at",
    "escalation_due_at",
    "resolution_due_at",
)
CALL_FIELDS = (
    "id",
    "key",
    "direction",
    "caller",
    "callee",
    "arrived_at",
    "answered_at",
    "ended_at",
    "disposition",
    "agent",
    "queue",
    "ticket_id",
    "campaign_id",
    "lead_id",
)


def _times(rules: Rules, values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: rules.local_iso(value) if isinstance(value, datetime) else value
        for name, value in values.items()
    }


def ticket_created(
    rules: Rules, ticket_id: int, values: Mapping[str, Any], unit: str | None
) -> dict[str, Any]:
    """`values`: the ticket's columns (a row, or an ORM ticket through `fields_of`)."""
    data = _times(rules, {name: values.get(name) for name in TICKET_FIELDS})
    data["caller"] = data.pop("caller_number")
    return {"id": ticket_id, "unit": unit, **data}


def ticket_state_changed(
    rules: Rules,
    ticket_id: int,
    kind: str,
    from_state: str | None,
    to_state: str,
    at: datetime,
    by: str | None,
    note: str | None,
) -> dict[str, Any]:
    return {
        "ticket_id": ticket_id,
        "kind": kind,
        "from": from_state,
        "to": to_state,
        "at": rules.local_iso(at),
        "by": by,
        "note": note,
    }


def call_ended(rules: Rules, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values`: the call record's columns (a RETURNING row's mapping, or `fields_of`)."""
    return _times(rules, {name: values.get(name) for name in CALL_FIELDS})


def fields_of(obj: object, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in names}


def followup_recorded(
    rules: Rules,
    followup_id: int,
    ticket_id: int,
    at: datetime,
    satisfaction: int,
    quality: int | None,
    comment: str | None,
    unsatisfied: bool,
) -> dict[str, Any]:
    return {
        "id": followup_id,
        "ticket_id": ticket_id,
        "done_at": rules.local_iso(at),
        "satisfaction": satisfaction,
        "quality": quality,
        "comment": comment,
        "unsatisfied": unsatisfied,
    }


def campaign_attempt(
    rules: Rules,
    campaign_id: int,
    lead_id: int,
    call: Mapping[str, Any],
    attempts: int,
    next_step: str,
    next_step_at: datetime | None,
) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "lead_id": lead_id,
        "call_id": call["id"],
        "call_key": call["key"],
        "disposition": call["disposition"],
        "attempts": attempts,
        "next_step": next_step,
        "next_step_at": rules.local_iso(next_step_at) if next_step_at else None,
    }
