"""The office commands: residents, tickets, follow-ups, arrears and the report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hotline import serialise
from hotline.app import App
from hotline.core import arrears, followups, residents, tickets
from hotline.core.csv_import import BadRow
from hotline.core.overdue import overdue_page
from hotline.core.report import Rate, build_report, report_period
from hotline.core.vocabulary import DomainError
from hotline.recordings.resolve import with_recordings

from .output import cell, iso, parse_at, parse_past, print_json, print_listing, print_table
from .parser import PAGE


def _bad_rows(bad: list[BadRow], skipped: bool) -> None:
    for row in bad:
        print(f"line {row.line}: {row.reason}", file=sys.stderr)
    if bad and not skipped:
        raise DomainError(
            f"{len(bad)} bad row(s); nothing imported (--skip-invalid imports the rest)"
        )


def residents_import(app: App, args: argparse.Namespace) -> None:
    with app.require_db().session() as s:
        result = residents.import_residents(s, Path(args.file), skip_invalid=args.skip_invalid)
        if result.bad and not args.skip_invalid:
            s.rollback()
    _bad_rows(result.bad, args.skip_invalid)
    if args.json:
        print_json({"imported": result.imported, "skipped": [vars(b) for b in result.bad]})
    else:
        print(f"imported {result.imported} resident(s), {len(result.bad)} row(s) skipped")


def residents_list(app: App, args: argparse.Namespace) -> None:
    with app.require_db().session() as s:
        found = [serialise.resident(r) for r in residents.list_residents(s, args.unit)]
    print_listing(
        found,
        args.json,
        ["id", "unit", "name", "phones", "lang", "dnc"],
        lambda r: (
            r["id"],
            r["unit"],
            r["name"],
            " ".join(r["phones"]),
            r["lang"],
            r["do_not_call"],
        ),
    )


def _ticket_rows(found: list[dict[str, object]]) -> None:
    print_table(
        ["id", "kind", "category", "severity", "state", "unit", "received", "flags"],
        [
            (
                t["id"],
                t["kind"],
                t["category"],
                t["severity"],
                t["state"],
                t["unit"],
                t["received_at"],
                " ".join(f for f in ("emergency", "incomplete", "about_staff") if t[f]),
            )
            for t in found
        ],
    )


def tickets_new(app: App, args: argparse.Namespace) -> None:
    tz = app.rules.tz
    intake = tickets.Intake(
        kind=args.kind,
        category=args.category,
        unit=args.unit,
        severity=args.severity,
        channel=args.channel,
        text=args.text,
        received_at=parse_past(args.at, tz, app.now()),
    )
    with app.require_db().session() as s:
        data = serialise.ticket(tickets.open_ticket(s, app.rules, intake), tz)
    if args.json:
        print_json(data)
    else:
        kind = f"{data['kind']}/{data['category']}"
        print(f"ticket {data['id']}: {kind} for {data['unit']}, {data['state']}")


def tickets_list(app: App, args: argparse.Namespace) -> None:
    with app.require_db().session() as s:
        # Plain rows, as the API's page: 500 ORM objects and their units cost more than the rest.
        page = tickets.ticket_page(s, args.state, args.kind, limit=PAGE)
        found = with_recordings(s, serialise.ticket_rows(page, app.rules.tz))
    if args.json:
        print_json(found)
    else:
        _ticket_rows(found)


# tickets show: each part of the history as a titled table, (heading, key) per column.
HISTORY_TABLES: dict[str, list[tuple[str, str]]] = {
    "events": [("from", "from"), ("to", "to"), ("at", "at"), ("by", "by"), ("note", "note")],
    "work_orders": [
        ("order", "id"),
        ("technician", "technician"),
        ("created", "created_at"),
        ("completed", "completed_at"),
        ("signed off by", "accepted_by"),
        ("signed", "accepted_at"),
    ],
    "followups": [
        ("follow-up", "id"),
        ("by role", "assignee_role"),
        ("due", "due_at"),
        ("done", "done_at"),
        ("satisfaction", "satisfaction"),
        ("quality", "quality"),
        ("comment", "comment"),
    ],
    "calls": [
        ("call", "id"),
        ("direction", "direction"),
        ("number", "number"),
        ("arrived", "arrived_at"),
        ("disposition", "disposition"),
        ("agent", "agent"),
        ("queue", "queue"),
    ],
    "recordings": [
        ("recording", "id"),
        ("kind", "kind"),
        ("call", "call_id"),
        ("path", "path"),
        ("state", "state"),
        ("restricted", "restricted"),
    ],
}


def tickets_show(app: App, args: argparse.Namespace) -> None:
    with app.require_db().session() as s:
        data = serialise.history(tickets.ticket_history(s, args.id), app.rules.tz)
        with_recordings(s, [data])
    if args.json:
        print_json(data)
        return
    for key, value in data.items():
        if key not in HISTORY_TABLES and value is not None:
            print(f"{key:18} {cell(value)}")
    for part, columns in HISTORY_TABLES.items():
        print(f"\n{part.replace('_', ' ')}:")
        print_table(
            [heading for heading, _ in columns],
            [[row[key] for _, key in columns] for row in data[part]],
        )


def tickets_move(app: App, args: argparse.Namespace) -> None:
    tz = app.rules.tz
    with app.require_db().session() as s:
        ticket = tickets.move_ticket(
            s,
            app.rules,
            args.id,
            args.state,
            parse_past(args.at, tz, app.now()),
            args.note,
            args.by,
        )
        data = serialise.ticket(ticket, tz, events=True)
        with_recordings(s, [data])
    if args.json:
        print_json(data)
    else:
        print(f"ticket {data['id']}: now {data['state']}")


def followups_due(app: App, args: argparse.Namespace) -> None:
    at = parse_at(args.at, app.rules.tz, app.now())
    with app.require_db().session() as s:
        found = [
            serialise.followup(f, app.rules.tz, app.rules.is_overdue(f.due_at, None, at))
            for f in followups.pending_followups(s)
        ]
    print_listing(
        found,
        args.json,
        ["id", "ticket", "kind", "category", "unit", "assignee", "due", "overdue"],
        lambda f: (
            f["id"],
            f["ticket_id"],
            f["kind"],
            f["category"],
            f["unit"],
            f["assignee_role"],
            f["due_at"],
            "OVERDUE" if f["overdue"] else "",
        ),
    )


def followups_record(app: App, args: argparse.Namespace) -> None:
    answers = followups.Answers(args.satisfaction, args.quality, comment=args.comment)
    at = parse_past(args.at, app.rules.tz, app.now())
    with app.require_db().session() as s:
        complaint = followups.record_answers(s, app.rules, args.id, answers, at)
        reopened = serialise.ticket(complaint, app.rules.tz) if complaint else None
    if args.json:
        print_json(
            {"followup_id": args.id, "satisfaction": args.satisfaction, "complaint": reopened}
        )
    elif reopened:
        print(f"follow-up {args.id} recorded: unsatisfied, handled as complaint {reopened['id']}")
    else:
        print(f"follow-up {args.id} recorded")


def arrears_import(app: App, args: argparse.Namespace) -> None:
    with app.require_db().session() as s:
        result = arrears.import_arrears(
            s, app.rules, Path(args.file), app.now(), skip_invalid=args.skip_invalid
        )
    _bad_rows(result.bad, args.skip_invalid)
    if args.json:
        print_json({"imported": result.imported, "skipped": [vars(b) for b in result.bad]})
    else:
        print(f"imported {result.imported} arrears account(s), {len(result.bad)} row(s) skipped")


def arrears_due(app: App, args: argparse.Namespace) -> None:
    at = parse_at(args.at, app.rules.tz, app.now())
    with app.require_db().session() as s:
        page = arrears.due_reminder_page(s, app.rules, at, _page_limit(args))
        found = [serialise.due_reminder(d, app.rules.tz) for d in page.items]
    print_listing(
        found,
        args.json,
        ["account", "unit", "amount", "months", "stage", "next", "due"],
        lambda d: (
            d["account_id"],
            d["unit"],
            d["amount"],
            d["months"],
            d["stage"],
            d["next_stage"],
            d["due_at"],
        ),
        more=page.more,
    )


def _page_limit(args: argparse.Namespace) -> int | None:
    """How many a list command reads: every one for `--all` and `--json`."""
    return None if args.all or args.json else int(args.limit)


def arrears_paid(app: App, args: argparse.Namespace) -> None:
    amount = arrears.parse_amount(args.amount)
    at = parse_past(args.at, app.rules.tz, app.now())
    with app.require_db().session() as s:
        account = arrears.record_payment(s, args.id, amount, at)
        data = serialise.payment(account, app.rules.tz)
    if args.json:
        print_json(data)
    else:
        print(f"account {data['account_id']}: paid {data['paid_amount']} of {data['amount']}")


def overdue(app: App, args: argparse.Namespace) -> None:
    tz = app.rules.tz
    at = parse_at(args.at, tz, app.now())
    with app.require_db().session() as s:
        page = overdue_page(s, app.rules, at, _page_limit(args))
        found = [serialise.overdue(o, tz) for o in page.items]
    print_listing(
        found,
        args.json,
        ["what", "deadline", "ticket", "unit", "detail"],
        lambda o: (o["what"], o["deadline"], o["ticket_id"] or "", o["unit"] or "", o["detail"]),
        more=page.more,
    )


def _pct(rate: Rate) -> str:
    text = "-" if rate.rate is None else f"{rate.rate:.1%} ({rate.part}/{rate.whole})"
    text += f", {rate.pending} pending" if rate.pending else ""
    return text + (f"  target {rate.target:.0%}" if rate.target is not None else "")


def report(app: App, args: argparse.Namespace) -> None:
    tz, now = app.rules.tz, app.now()
    start, end = report_period(
        parse_at(args.from_, tz, now) if args.from_ else None,
        parse_at(args.to, tz, now) if args.to else None,
        tz,
        now,
    )
    with app.require_db().session() as s:
        result = build_report(s, app.rules, start, end, now)
    if args.json:
        print_json(serialise.report(result, tz))
        return
    print(f"report from {iso(start, tz)} up to {iso(end, tz)}, as of {iso(now, tz)}")
    print("(a matter still inside its deadline is pending: counted neither met nor missed)")
    lines = [
        ("answered within three rings", _pct(result.answered_within_rings)),
        ("repairs dispatched within 5 min", _pct(result.repair_dispatch_in_time)),
        ("complaints escalated within 1 h", _pct(result.complaint_escalated_in_time)),
    ]
    lines += [(f"follow-up rate, {k}", _pct(v)) for k, v in result.followup_rate.items()]
    lines += [
        (f"follow-ups on time, {k}", _pct(v)) for k, v in result.followup_on_time_rate.items()
    ]
    lines.append(("satisfaction", _pct(result.satisfaction)))
    c = result.collection
    lines.append(
        (
            "collection",
            ("-" if c.rate is None else f"{c.rate:.1%} ({c.collected}/{c.due})")
            + f"  target {c.target:.0%}",
        )
    )
    print_table(["figure", "value"], lines)
    print()
    print("repeats (complaint about the same matter ≥ 2, repair of the same kind ≥ 3):")
    print_table(
        ["kind", "unit", "category", "count"],
        [(r.kind, r.unit, r.category, r.count) for r in result.repeats],
    )
