"""`hotline recordings`: the index, exports, retention purge, the audit trail and the conversion
worker."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from hotline import serialise
from hotline.app import App
from hotline.recordings import audit, index
from hotline.recordings.export import export
from hotline.recordings.retention import purge
from hotline.recordings.worker import ConversionWorker, scan

from .output import parse_at, print_json, print_listing, print_table


def _by(args: argparse.Namespace) -> str:
    return args.by or getpass.getuser()


def _access(args: argparse.Namespace, restricted: bool) -> index.Access:
    return index.Access(_by(args), args.reason, restricted)


def recordings_list(app: App, args: argparse.Namespace) -> None:
    tz = app.rules.tz
    with app.require_db().session() as s:
        found = [
            serialise.recording(r, tz)
            for r in index.list_recordings(
                s,
                access=_access(args, args.include_restricted),
                ticket_id=args.ticket,
                call_id=args.call,
                state=args.state,
                at=app.now(),
            )
        ]
    print_listing(
        found,
        args.json,
        ["id", "kind", "call", "ticket", "state", "format", "seconds", "retain until", "flags"],
        lambda r: (
            r["id"],
            r["kind"],
            r["call_id"],
            r["ticket_id"],
            r["state"],
            r["format"],
            None if r["duration"] is None else f"{r['duration']:.1f}",
            r["retain_until"],
            "restricted" if r["restricted"] else "",
        ),
    )


def recordings_show(app: App, args: argparse.Namespace) -> None:
    with app.require_db().session() as s:
        access = _access(args, args.allow_restricted)
        rec = index.get_recording(s, args.id, access=access, at=app.now())
        data = serialise.recording(rec, app.rules.tz) | {"verified": index.verify(rec)}
    if args.json:
        print_json(data)
    else:
        print_table(["field", "value"], list(data.items()))


def recordings_export(app: App, args: argparse.Namespace) -> None:
    with app.require_db().session() as s:
        target = export(
            s,
            args.id,
            Path(args.dest),
            access=_access(args, args.allow_restricted),
            at=app.now(),
        )
    if args.json:
        print_json({"id": args.id, "exported_to": str(target)})
    else:
        print(f"recording {args.id} exported to {target}")


def recordings_purge(app: App, args: argparse.Namespace) -> None:
    at = parse_at(args.at, app.rules.tz, app.now()).astimezone(app.rules.tz)
    with app.require_db().session() as s:
        done = purge(s, at, dry_run=args.dry_run, by=_by(args), now=app.now())
    if args.json:
        print_json({"dry_run": args.dry_run, "recordings": [vars(p) for p in done]})
        return
    print_table(
        ["id", "path", "retain until", "deleted", "error"],
        [(p.id, p.path, p.retain_until, p.deleted, p.error) for p in done],
    )


def recordings_audit(app: App, args: argparse.Namespace) -> None:
    tz = app.rules.tz
    with app.require_db().session() as s:
        found = [
            serialise.recording_audit(e, tz)
            for e in audit.entries(s, recording_id=args.recording, by=args.who, limit=args.limit)
        ]
    print_listing(
        found,
        args.json,
        ["at", "action", "recording", "by", "reason", "outcome", "flags"],
        lambda e: (
            e["at"],
            e["action"],
            e["recording_id"],
            e["by"],
            e["reason"],
            e["outcome"] + (f" {e['detail']}" if e["detail"] else ""),
            "restricted" if e["restricted"] else "",
        ),
    )


def recordings_convert(app: App, args: argparse.Namespace) -> None:
    settings = app.settings
    with app.require_db().session() as s:
        found = scan(
            s,
            settings.recordings_dir,
            at=app.now().astimezone(app.rules.tz),
            retention_years=settings.followup.retention_years,
        )
    archived, failed = ConversionWorker(app.db, settings.recordings.conversion()).run_once(
        args.limit
    )
    if args.json:
        print_json({"registered": len(found), "archived": archived, "failed": failed})
    else:
        print(f"registered {len(found)}, archived {archived}, failed {failed}")
