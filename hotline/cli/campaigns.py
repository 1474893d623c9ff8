"""Outbound campaigns and their calls: `hotline campaign …`, `hotline calls list`."""

from __future__ import annotations

import argparse
from typing import Any

from hotline import serialise
from hotline.app import App
from hotline.core import campaigns, dial_requests, leads, outcomes
from hotline.recordings.resolve import with_recordings

from .output import parse_at, parse_past, print_json, print_listing, print_table


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _params(app: App, args: argparse.Namespace) -> dict[str, Any]:
    """The kind's parameters from the flags given; `create_campaign` checks they fit the kind."""
    given: dict[str, Any] = {}
    if args.units or args.buildings or args.message:
        given.update(
            units=_split(args.units), buildings=_split(args.buildings), message=args.message
        )
    if args.unit or args.visitor or args.recording:
        given.update(unit=args.unit, visitor=args.visitor, recording=args.recording)
    if args.ticket is not None or args.slot:
        tz, now = app.rules.tz, app.now()
        given.update(
            ticket_id=args.ticket, slots=[parse_at(s, tz, now).isoformat() for s in args.slot]
        )
    return given


def campaign_new(app: App, args: argparse.Namespace) -> None:
    with app.require_db().session() as s:
        campaign = campaigns.create_campaign(
            s, args.kind, args.mode, name=args.name, params=_params(app, args), at=app.now()
        )
        data = serialise.campaign(campaign, app.rules.tz)
    if args.json:
        print_json(data)
    else:
        print(f"campaign {data['id']}: {data['kind']}, {data['mode']}, {data['state']}")


def campaign_act(app: App, args: argparse.Namespace) -> None:
    now = app.now()
    with app.require_db().session() as s:
        campaign, made = leads.act_on_campaign(s, app.rules, args.id, args.action, now)
        data = serialise.campaign(campaign, app.rules.tz)
    if args.action == "start":
        data["leads_made"] = made
    if args.json:
        print_json(data)
    else:
        extra = f", {made} lead(s)" if args.action == "start" else ""
        print(f"campaign {data['id']}: {data['state']}{extra}")


def campaign_status(app: App, args: argparse.Namespace) -> None:
    with app.require_db().session() as s:
        data = campaigns.campaign_status(s, args.id)
    if args.json:
        print_json(data)
        return
    rate = data["abandon_rate"]
    print(f"campaign {data['id']}: {data['kind']}, {data['mode']}, {data['state']}")
    print_table(
        ["figure", "value"],
        [
            ("leads", " ".join(f"{k} {v}" for k, v in data["leads"].items())),
            ("skipped", data["skipped"]),
            ("calls", data["calls"]),
            ("dispositions", " ".join(f"{k} {v}" for k, v in data["attempts"].items() if v)),
            ("abandon rate", "-" if rate is None else f"{rate:.1%}"),
        ],
    )


def campaign_list(app: App, args: argparse.Namespace) -> None:
    with app.require_db().session() as s:
        found = [serialise.campaign(c, app.rules.tz) for c in campaigns.list_campaigns(s)]
    print_listing(
        found,
        args.json,
        ["id", "kind", "mode", "state", "name", "created"],
        lambda c: (c["id"], c["kind"], c["mode"], c["state"], c["name"], c["created_at"]),
    )


def campaign_leads(app: App, args: argparse.Namespace) -> None:
    """A campaign's leads: what preview callers work through, and what needs a person."""
    tz = app.rules.tz
    with app.require_db().session() as s:
        found = [
            serialise.lead(lead, request, tz)
            for lead, request in dial_requests.campaign_leads(s, args.id, args.state)
        ]
    print_listing(
        found,
        args.json,
        ["id", "state", "number", "resident", "prio", "tries", "next try", "flag", "call request"],
        lambda x: (
            x["id"],
            x["state"],
            x["number"],
            x["resident"],
            x["priority"],
            x["attempts"],
            x["next_attempt_at"],
            x["flag"] or x["mode"] or "",
            _request_text(x["dial_request"]),
        ),
    )


def _request_text(request: dict[str, Any] | None) -> str:
    return f"{request['id']} {request['state']} for {request['agent']}" if request else ""


def lead_dial(app: App, args: argparse.Namespace) -> None:
    """Ask the running service to ring the agent's phone, then the preview lead's resident."""
    window = app.settings.dialer.calling_window(app.rules.tz)
    with app.require_db().session() as s:
        request = dial_requests.request_dial(s, args.lead, args.agent, app.now(), window)
        data = serialise.dial_request(request, app.rules.tz)
    if args.json:
        print_json(data)
    else:
        print(
            f"lead {data['lead']}: call request {data['id']} {data['state']}; "
            f"the service rings {data['agent']} first"
        )


def lead_outcome(app: App, args: argparse.Namespace) -> None:
    """A preview call a person made from their own phone, and how it went."""
    at = parse_past(args.at, app.rules.tz, app.now())
    retry = app.settings.dialer.retry
    with app.require_db().session() as s:
        step = outcomes.record_call_by_hand(
            s, app.rules, retry, args.lead, args.disposition, at, args.by
        )
    data = serialise.lead_outcome(args.lead, args.disposition, step, app.rules.tz)
    if args.json:
        print_json(data)
    else:
        print(f"lead {args.lead}: {args.disposition}, then {step.text}")


def calls_list(app: App, args: argparse.Namespace) -> None:
    with app.require_db().session() as s:
        found = with_recordings(
            s, [serialise.call(r, app.rules.tz) for r in outcomes.list_calls(s, args.campaign)]
        )
    print_listing(
        found,
        args.json,
        ["id", "campaign", "lead", "number", "disposition", "cause", "ended", "next step"],
        lambda c: (
            c["id"],
            c["campaign"],
            c["lead"],
            c["number"],
            c["disposition"],
            c["hangup_cause"],
            c["ended_at"],
            c["next_step"],
        ),
    )
