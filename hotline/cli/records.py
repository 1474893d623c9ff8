"""The office commands: residents, tickets, follow-ups, arrears and the report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hotline import serialise
from hotline.app import App
from hotline.core import arrears, followups, residents, tickets
from hotline.core.csv_import import BadRow
from hotline.core.overdue import overdue_now
from hotline.core.report import Rate, build_report
from hotline.core.vocabulary import CATEGORIES, Channel, DomainError, Kind, Severity

from .output import iso, parse_at, print_json, print_listing, print_table


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
            "yes" if r["do_not_call"] else "",
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
        received_at=parse_at(args.at, tz, app.now()),
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
        found = [
            serialise.ticket(t, app.rules.tz)
            for t in tickets.list_tickets(s, args.state, args.kind)
        ]
    if args.json:
        print_json(found)
    else:
        _ticket_rows(found)


def tickets_show(app: App, args: argparse.Namespace) -> None:
    with app.require_db().session() as s:
        data = serialise.ticket(tickets.get_ticket(s, args.id), app.rules.tz, events=True)
    if args.json:
        print_json(data)
        return
    for key, value in data.items():
        if key != "events" and value not in (None, False):
            print(f"{key:18} {value}")
    print_table(
        ["from", "to", "at", "note"],
        [(e["from"], e["to"], e["at"], e["note"]) for e in data["events"]],
    )


def tickets_move(app: App, args: argparse.Namespace) -> None:
    tz = app.rules.tz
    with app.require_db().session() as s:
        ticket = tickets.move_ticket(
            s, app.rules, args.id, args.state, parse_at(args.at, tz, app.now()), args.note, args.by
        )
        data = serialise.ticket(ticket, tz, events=True)
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
    at = parse_at(args.at, app.rules.tz, app.now())
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
        found = [
            serialise.due_reminder(d, app.rules.tz) for d in arrears.due_reminders(s, app.rules, at)
        ]
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
    )


def arrears_paid(app: App, args: argparse.Namespace) -> None:
    amount = arrears.parse_amount(args.amount)
    at = parse_at(args.at, app.rules.tz, app.now())
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
        found = [serialise.overdue(o, tz) for o in overdue_now(s, app.rules, at)]
    print_listing(
        found,
        args.json,
        ["what", "deadline", "ticket", "unit", "detail"],
        lambda o: (o["what"], o["deadline"], o["ticket_id"] or "", o["unit"] or "", o["detail"]),
    )


def _pct(rate: Rate) -> str:
    text = "-" if rate.rate is None else f"{rate.rate:.1%} ({rate.part}/{rate.whole})"
    return text + (f"  target {rate.target:.0%}" if rate.target is not None else "")


def report(app: App, args: argparse.Namespace) -> None:
    tz = app.rules.tz
    end = parse_at(args.to, tz, app.now())
    start = parse_at(args.from_, tz, serialise.quarter_start(end.astimezone(tz)))
    if start >= end:
        raise DomainError(f"--from {start.isoformat()} is not before --to {end.isoformat()}")
    with app.require_db().session() as s:
        result = build_report(s, app.rules, start, end)
    if args.json:
        print_json(serialise.report(result, tz))
        return
    print(f"report {iso(start, tz)} to {iso(end, tz)}")
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


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    res = sub.add_parser("residents", help="residents and their units").add_subparsers(
        required=True
    )
    p = res.add_parser(
        "import", parents=[common], help="import unit,name,phone[,phone2,lang,do_not_call]"
    )
    p.add_argument("file")
    p.add_argument(
        "--skip-invalid", action="store_true", help="import the good rows, report the rest"
    )
    p.set_defaults(func=residents_import)
    p = res.add_parser("list", parents=[common])
    p.add_argument("--unit")
    p.set_defaults(func=residents_list)

    tic = sub.add_parser("tickets", help="repair, complaint and enquiry tickets").add_subparsers(
        required=True
    )
    p = tic.add_parser("new", parents=[common], help="record a walk-in, WeChat or web report")
    p.add_argument("--kind", required=True, choices=[k.value for k in Kind])
    p.add_argument(
        "--category",
        required=True,
        help="; ".join(f"{k}: {', '.join(c)}" for k, c in CATEGORIES.items()),
    )
    p.add_argument("--unit", required=True)
    p.add_argument("--severity", default="general", choices=[s.value for s in Severity])
    p.add_argument("--channel", default="walk_in", choices=[c.value for c in Channel])
    p.add_argument("--text")
    p.add_argument("--at", help="when it was really received (ISO 8601)")
    p.set_defaults(func=tickets_new)
    p = tic.add_parser("list", parents=[common])
    p.add_argument("--state")
    p.add_argument("--kind")
    p.set_defaults(func=tickets_list)
    p = tic.add_parser("show", parents=[common])
    p.add_argument("id", type=int)
    p.set_defaults(func=tickets_show)
    p = tic.add_parser("move", parents=[common], help="change a ticket's state")
    p.add_argument("id", type=int)
    p.add_argument("state")
    p.add_argument("--at")
    p.add_argument("--note")
    p.add_argument("--by", help="technician (dispatched) or who signed the acceptance (accepted)")
    p.set_defaults(func=tickets_move)

    fol = sub.add_parser("followups", help="follow-up calls (回访)").add_subparsers(required=True)
    p = fol.add_parser("due", parents=[common], help="follow-ups owed, oldest first")
    p.add_argument("--at")
    p.set_defaults(func=followups_due)
    p = fol.add_parser("record", parents=[common], help="record a resident's answers")
    p.add_argument("id", type=int)
    p.add_argument("--satisfaction", type=int, required=True, choices=range(1, 6))
    p.add_argument("--quality", type=int, choices=(1, 2), help="1 done properly, 2 not")
    p.add_argument("--comment")
    p.add_argument("--at")
    p.set_defaults(func=followups_record)

    arr = sub.add_parser("arrears", help="fee arrears (催缴)").add_subparsers(required=True)
    p = arr.add_parser("import", parents=[common], help="import unit,amount,months")
    p.add_argument("file")
    p.add_argument("--skip-invalid", action="store_true")
    p.set_defaults(func=arrears_import)
    p = arr.add_parser("due", parents=[common], help="reminders due at or before --at")
    p.add_argument("--at")
    p.set_defaults(func=arrears_due)
    p = arr.add_parser("paid", parents=[common], help="record a payment")
    p.add_argument("id", type=int)
    p.add_argument("--amount", required=True)
    p.add_argument("--at")
    p.set_defaults(func=arrears_paid)

    p = sub.add_parser("overdue", parents=[common], help="every deadline of the rules now missed")
    p.add_argument("--at", help="as of (ISO 8601; default now)")
    p.set_defaults(func=overdue)

    p = sub.add_parser("report", parents=[common], help="the centre's figures for a period")
    p.add_argument("--from", dest="from_", help="start (default: start of this quarter)")
    p.add_argument("--to", help="end (default: now)")
    p.set_defaults(func=report)
