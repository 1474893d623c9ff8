"""JSON Schemas of what the API answers: the shapes of `hotline/serialise.py`, named once here and
referenced by the route declarations (the OpenAPI document's components)."""

from __future__ import annotations

from typing import Any

from hotline.core.ticket_states import ALL_STATES
from hotline.core.users import UserRole
from hotline.core.vocabulary import (
    CampaignKind,
    CampaignState,
    Channel,
    DeliveryStatus,
    DialMode,
    Disposition,
    Kind,
    Language,
    LeadState,
    Severity,
    WebhookEventType,
)

Schema = dict[str, Any]

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
TIME: Schema = {"type": "string", "format": "date-time"}
DATE: Schema = {"type": "string", "format": "date"}
OBJ: Schema = {"type": "object"}
DECIMAL: Schema = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}


def null(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def enum(values: Any) -> Schema:
    return {"type": "string", "enum": sorted(str(v) for v in values)}


def obj(**props: Schema) -> Schema:
    """An object with exactly these properties, all present (null where optional)."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(props),
        "properties": props,
    }


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def items(name: str, paged: bool = False) -> Schema:
    """A list response: ``items``, and with ``paged`` the cursor of the next page (null: last)."""
    props: dict[str, Schema] = {"items": {"type": "array", "items": ref(name)}}
    if paged:
        props["next_cursor"] = null(STR)
    return obj(**props)


TICKET_EVENT = obj(**{"from": null(STR), "to": STR, "at": TIME, "by": null(STR), "note": null(STR)})
_TICKET = {
    "id": INT,
    "kind": enum(Kind),
    "category": STR,
    "severity": enum(Severity),
    "channel": enum(Channel),
    "state": enum(ALL_STATES),
    "unit": null(STR),
    "caller": null(STR),
    "text": null(STR),
    "recording": null(STR),
    "emergency": BOOL,
    "about_staff": BOOL,
    "incomplete": BOOL,
    "parent_id": null(INT),
    "received_at": TIME,
    "escalation_due_at": null(TIME),
    "resolution_due_at": null(TIME),
    "updated_at": TIME,
}
_FOLLOWUP = {
    "id": INT,
    "ticket_id": INT,
    "kind": enum(Kind),
    "category": STR,
    "unit": null(STR),
    "assignee_role": STR,
    "due_at": TIME,
    "overdue": BOOL,
}
_CAMPAIGN = {
    "id": INT,
    "kind": enum(CampaignKind),
    "mode": enum(DialMode),
    "state": enum(CampaignState),
    "name": null(STR),
    "params": null(OBJ),
}
_TOKEN = {
    "name": STR,
    "user": null(STR),
    "role": enum(UserRole),
    "created_at": TIME,
    "revoked_at": null(TIME),
}
_WEBHOOK = {
    "id": INT,
    "url": STR,
    "events": array(enum(WebhookEventType)),
    "active": BOOL,
    "created_at": TIME,
}
_CALL = {
    "id": INT,
    "direction": enum(("in", "out")),
    "campaign": null(INT),
    "lead": null(INT),
    "number": null(STR),
    "disposition": null(STR),
    "hangup_cause": null(INT),
    "queued_at": TIME,
    "dialled_at": null(TIME),
    "answered_at": null(TIME),
    "connected_at": null(TIME),
    "ended_at": null(TIME),
    "agent": null(STR),
    "keypad": null(OBJ),
    "recording": null(STR),
    "next_step": null(STR),
    "next_step_at": null(TIME),
}
DIAL_REQUEST = obj(
    id=INT,
    lead=INT,
    agent=STR,
    state=STR,
    requested_at=TIME,
    call_id=null(STR),
    detail=null(STR),
)

CLOCK = obj(what=STR, due_at=TIME, state=enum(("running", "near", "overdue")))
BOARD_CLOCK = obj(
    ticket_id=INT,
    kind=enum(Kind),
    category=STR,
    severity=enum(Severity),
    state=enum(ALL_STATES),
    unit=null(STR),
    followup_id=null(INT),
    clock=CLOCK,
)

COMPONENTS: dict[str, Schema] = {
    "Error": obj(error=obj(code=STR, message=STR)),
    "Resident": obj(
        id=INT,
        unit=STR,
        name=STR,
        phones={"type": "array", "items": STR},
        lang=STR,
        do_not_call=BOOL,
    ),
    "Unit": obj(code=STR, residents={"type": "array", "items": ref("Resident")}),
    "Ticket": obj(**_TICKET),
    "TicketWithEvents": obj(**_TICKET, events=array(TICKET_EVENT)),
    # `hotline tickets show --json`: the ticket with everything done about it.
    "TicketHistory": obj(
        **_TICKET,
        events=array(TICKET_EVENT),
        work_orders=array(
            obj(
                id=INT,
                technician=null(STR),
                created_at=TIME,
                completed_at=null(TIME),
                accepted_by=null(STR),
                accepted_at=null(TIME),
            )
        ),
        followups=array(
            obj(
                **_FOLLOWUP,
                done_at=null(TIME),
                satisfaction=null(INT),
                quality=null(INT),
                comment=null(STR),
            )
        ),
        calls=array(
            obj(
                id=INT,
                direction=enum(("in", "out")),
                number=null(STR),
                arrived_at=TIME,
                answered_at=null(TIME),
                ended_at=null(TIME),
                disposition=null(STR),
                agent=null(STR),
                queue=null(STR),
                campaign_id=null(INT),
            )
        ),
        recordings=array(
            obj(
                id=INT,
                kind=STR,
                call_id=null(INT),
                path=null(STR),
                state=STR,
                restricted=BOOL,
            )
        ),
    ),
    "FollowUp": obj(**_FOLLOWUP),
    "FollowUpRecorded": obj(followup_id=INT, satisfaction=INT, complaint=null(ref("Ticket"))),
    "DueReminder": obj(
        account_id=INT,
        unit=STR,
        amount=DECIMAL,
        months=INT,
        stage=STR,
        next_stage=STR,
        due_at=TIME,
    ),
    "Payment": obj(account_id=INT, paid_amount=DECIMAL, amount=DECIMAL, paid_at=null(TIME)),
    "Call": obj(**_CALL),
    "Campaign": obj(**_CAMPAIGN, created_at=TIME, started_at=null(TIME), finished_at=null(TIME)),
    "CampaignStatus": obj(
        **_CAMPAIGN,
        leads=obj(**{s.value: INT for s in LeadState}),
        skipped=INT,
        attempts=obj(**{d.value: INT for d in Disposition}),
        calls=INT,
        answered=INT,
        abandoned=INT,
        abandon_rate=null(NUM),
    ),
    "Lead": obj(
        id=INT,
        state=enum(LeadState),
        number=null(STR),
        resident=null(STR),
        priority=INT,
        attempts=INT,
        next_attempt_at=null(TIME),
        mode=null(STR),
        flag=null(STR),
        result=null(OBJ),
        dial_request=null(DIAL_REQUEST),
    ),
    "DialRequest": DIAL_REQUEST,
    "LeadOutcome": obj(
        lead=INT, disposition=enum(Disposition), next_step=null(STR), next_step_at=null(TIME)
    ),
    "Recording": obj(
        id=INT,
        kind=STR,
        call_id=null(INT),
        ticket_id=null(INT),
        path=STR,
        format=STR,
        duration=null(NUM),
        size=INT,
        sha256=STR,
        state=STR,
        error=null(STR),
        restricted=BOOL,
        retain_until=DATE,
        created_at=TIME,
    ),
    "Overdue": obj(what=STR, deadline=TIME, ticket_id=null(INT), unit=null(STR), detail=STR),
    # The report's figures are many and grow with the rules: their names are documented in
    # docs/api.md; the schema pins the period.
    "Report": {
        "type": "object",
        "required": ["start", "end"],
        "properties": {"start": TIME, "end": TIME},
    },
    "User": obj(
        name=STR,
        role=enum(UserRole),
        extension=null(STR),
        language=enum(Language),
        disabled=BOOL,
        created_at=TIME,
    ),
    "Token": obj(**_TOKEN),
    "NewToken": obj(**_TOKEN, token=STR),
    "Webhook": obj(**_WEBHOOK),
    "NewWebhook": obj(**_WEBHOOK, secret=STR),
    "WebhookDelivery": obj(
        id=INT,
        subscription_id=INT,
        event=enum(WebhookEventType),
        idempotency_key=STR,
        status=enum(DeliveryStatus),
        attempts=INT,
        created_at=TIME,
        next_try_at=null(TIME),
        last_try_at=null(TIME),
        last_status_code=null(INT),
        last_error=null(STR),
        delivered_at=null(TIME),
    ),
    "Session": obj(
        name=STR,
        role=enum(UserRole),
        user=BOOL,
        extension=null(STR),
        language=enum(Language),
        csrf_token=null(STR),
        expires_at=null(TIME),
    ),
    # The console (hotline/web/api_console.py).
    "ScreenPop": obj(
        call_id=STR,
        direction=enum(("in", "out")),
        caller=null(STR),
        call=null(obj(**_CALL, path=null(STR))),
        resident=null(ref("Resident")),
        residents=array(ref("Resident")),
        several_units=BOOL,
        unit=null(STR),
        ticket=null(obj(**_TICKET, restricted=BOOL)),
        recordings=array(
            obj(id=INT, kind=STR, restricted=BOOL, duration=null(NUM), audio=null(STR))
        ),
        recording_pending=BOOL,
        open_tickets=array(obj(**_TICKET, restricted=BOOL, clocks=array(CLOCK))),
        arrears=null(
            obj(
                amount=DECIMAL,
                months=INT,
                stage=STR,
                paid_amount=DECIMAL,
                cashier_check=BOOL,
                last_reminder_at=null(TIME),
            )
        ),
        followups=array(
            obj(
                id=INT,
                ticket_id=INT,
                kind=enum(Kind),
                done_at=null(TIME),
                satisfaction=null(INT),
                quality=null(INT),
                comment=null(STR),
            )
        ),
        lead=null(
            obj(
                id=INT,
                state=STR,
                attempts=INT,
                number=null(STR),
                preview=BOOL,
                flag=null(STR),
                reason=OBJ,
                ticket_id=null(INT),
                arrears_id=null(INT),
                followup_id=null(INT),
            )
        ),
        campaign=null(ref("Campaign")),
    ),
    "Callback": obj(lead=INT, state=STR, at=TIME),
    "Paused": obj(agent=STR, paused=BOOL, reason=null(STR)),
    "Supervision": obj(id=INT, agent=STR, mode=STR, ringing=STR, at=TIME),
    "AgentToday": obj(agent=STR, since=TIME, calls=INT, tickets=INT),
    "Clocks": obj(
        complaints=array(BOARD_CLOCK), repairs=array(BOARD_CLOCK), followups=array(BOARD_CLOCK)
    ),
}
