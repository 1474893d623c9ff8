"""Every command's arguments, and the handler each one runs, named as `module:function`.

Only the standard library and the vocabulary are imported here: `--help`, `--version` and a
mistyped argument are answered before SQLAlchemy, Alembic or Twisted are loaded, and a command
imports only its own module (hotline.cli.<module>).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import TypeAlias

from hotline.core.ticket_states import ALL_STATES
from hotline.core.vocabulary import (
    CATEGORIES,
    CampaignKind,
    Channel,
    DeliveryStatus,
    DialMode,
    Disposition,
    Kind,
    LeadState,
    Severity,
    UserRole,
    WebhookEventType,
)

Sub: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

# The actions of hotline.core.campaigns.ACTIONS (tests/test_cli_startup.py keeps them equal).
CAMPAIGN_ACTIONS = ("start", "pause", "resume", "stop")
RECORDING_STATES = ("pending", "converting", "archived", "failed")
PAGE = 500  # rows a long list's table shows, as `tickets list` shows its newest 500


def _values(choices: Iterable[str]) -> list[str]:
    return sorted(str(c) for c in choices)


def _group(sub: Sub, name: str, help: str) -> Sub:
    """A command with subcommands; its `--help` lists each of them with its help line."""
    return sub.add_parser(name, help=help, description=help).add_subparsers(
        required=True, metavar="SUBCOMMAND", title="subcommands"
    )


def _command(
    sub: Sub, name: str, handler: str, help: str, parents: list[argparse.ArgumentParser]
) -> argparse.ArgumentParser:
    p = sub.add_parser(name, parents=parents, help=help, description=help)
    p.set_defaults(handler=handler)
    return p


def _paged(p: argparse.ArgumentParser) -> None:
    """A long list's table shows its first page and says how many more there are; `--json`
    gives every one (a program reads the whole list)."""
    page = p.add_mutually_exclusive_group()
    page.add_argument(
        "--limit", type=_count, default=PAGE, metavar="N", help=f"the first N (default {PAGE})"
    )
    page.add_argument(
        "--all", action="store_true", help="every one (--json always gives every one)"
    )


def _count(text: str) -> int:
    """A count of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


class _Version(argparse.Action):
    """`--version`, the installed version looked up only when asked for."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        import hotline

        print(f"hotline {hotline.__version__}")
        parser.exit()


def build_parser(
    parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser,
) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser = parser_class(prog="hotline", description="`hotline`: the operator's command line.")
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version and exit")
    sub = parser.add_subparsers(required=True, metavar="COMMAND", title="commands")
    _command(sub, "init", "admin:init", "create home, settings and database", [common])
    db = _group(sub, "db", "database maintenance")
    _command(db, "upgrade", "admin:db_upgrade", "apply the migrations", [])
    _records(sub, [common])
    _campaigns(sub, [common])
    _recordings(sub, [common])
    _people(sub, [common])
    _webhooks(sub, [common])
    _running(sub)
    return parser


def _records(sub: Sub, common: list[argparse.ArgumentParser]) -> None:
    res = _group(sub, "residents", "residents and their units")
    p = _command(
        res,
        "import",
        "records:residents_import",
        "import unit,name,phone[,phone2,lang,do_not_call]",
        common,
    )
    p.add_argument("file")
    p.add_argument(
        "--skip-invalid", action="store_true", help="import the good rows, report the rest"
    )
    p = _command(res, "list", "records:residents_list", "residents by unit and name", common)
    p.add_argument("--unit", help="one unit, e.g. 3-1-201")

    tic = _group(sub, "tickets", "repair, complaint and enquiry tickets")
    p = _command(
        tic, "new", "records:tickets_new", "record a walk-in, WeChat or web report", common
    )
    p.add_argument("--kind", required=True, choices=[k.value for k in Kind])
    p.add_argument(
        "--category",
        required=True,
        choices=_values({c for cs in CATEGORIES.values() for c in cs}),
        metavar="CATEGORY",
        help="; ".join(f"{k}: {', '.join(c)}" for k, c in CATEGORIES.items()),
    )
    p.add_argument("--unit", required=True)
    p.add_argument("--severity", default="general", choices=[s.value for s in Severity])
    p.add_argument("--channel", default="walk_in", choices=[c.value for c in Channel])
    p.add_argument("--text")
    p.add_argument("--at", help="when it was really received (ISO 8601; not in the future)")
    p = _command(tic, "list", "records:tickets_list", "the newest 500 tickets", common)
    p.add_argument("--state", choices=_values(ALL_STATES))
    p.add_argument("--kind", choices=[k.value for k in Kind])
    p = _command(
        tic,
        "show",
        "records:tickets_show",
        "one ticket and its whole history: who did what when",
        common,
    )
    p.add_argument("id", type=int)
    p = _command(tic, "move", "records:tickets_move", "change a ticket's state", common)
    p.add_argument("id", type=int)
    p.add_argument("state", choices=_values(ALL_STATES), metavar="STATE")
    p.add_argument("--at", help="when (ISO 8601; default now, not in the future)")
    p.add_argument("--note")
    p.add_argument("--by", help="who: the technician (dispatched), the signer (accepted), …")

    fol = _group(sub, "followups", "follow-up calls (回访)")
    p = _command(fol, "due", "records:followups_due", "follow-ups owed, oldest first", common)
    p.add_argument("--at", help="as of (ISO 8601; default now)")
    p = _command(fol, "record", "records:followups_record", "record a resident's answers", common)
    p.add_argument("id", type=int)
    p.add_argument("--satisfaction", type=int, required=True, choices=range(1, 6))
    p.add_argument("--quality", type=int, choices=(1, 2), help="1 done properly, 2 not")
    p.add_argument("--comment")
    p.add_argument("--at", help="when (ISO 8601; default now, not in the future)")

    arr = _group(sub, "arrears", "fee arrears (催缴)")
    p = _command(arr, "import", "records:arrears_import", "import unit,amount,months", common)
    p.add_argument("file")
    p.add_argument("--skip-invalid", action="store_true")
    p = _command(
        arr, "due", "records:arrears_due", "reminders due at or before --at, oldest first", common
    )
    p.add_argument("--at", help="as of (ISO 8601; default now)")
    _paged(p)
    p = _command(
        arr, "paid", "records:arrears_paid", "record a payment, at most what is owed", common
    )
    p.add_argument("id", type=int)
    p.add_argument("--amount", required=True)
    p.add_argument("--at", help="when (ISO 8601; default now, not in the future)")

    p = _command(
        sub,
        "overdue",
        "records:overdue",
        "every deadline of the rules now missed, oldest first",
        common,
    )
    p.add_argument("--at", help="as of (ISO 8601; default now)")
    _paged(p)

    p = _command(sub, "report", "records:report", "the centre's figures for a period", common)
    p.add_argument(
        "--from", dest="from_", metavar="FROM", help="start (default: start of this quarter)"
    )
    p.add_argument("--to", help="end, exclusive (default: the end of today)")


def _campaigns(sub: Sub, common: list[argparse.ArgumentParser]) -> None:
    cam = _group(sub, "campaign", "outbound campaigns")
    p = _command(cam, "new", "campaigns:campaign_new", "create a campaign (state new)", common)
    p.add_argument("--kind", required=True, choices=[k.value for k in CampaignKind])
    p.add_argument("--mode", choices=[m.value for m in DialMode], help="default: by kind")
    p.add_argument("--name")
    p.add_argument("--units", help="notice: units, comma separated")
    p.add_argument("--buildings", help="notice: whole buildings, comma separated")
    p.add_argument("--message", help="notice: the recording to play")
    p.add_argument("--unit", help="visitor: the unit visited")
    p.add_argument("--visitor", help="visitor: the visitor's name")
    p.add_argument("--recording", help="visitor: the guard's recording of the name")
    p.add_argument("--ticket", type=int, help="appointment: the ticket")
    p.add_argument(
        "--slot", action="append", default=[], help="appointment: a time offered (1 to 3)"
    )
    for action in CAMPAIGN_ACTIONS:
        p = _command(cam, action, "campaigns:campaign_act", f"{action} a campaign", common)
        p.add_argument("id", type=int)
        p.set_defaults(action=action)
    p = _command(
        cam, "status", "campaigns:campaign_status", "leads, calls and abandon rate", common
    )
    p.add_argument("id", type=int)
    _command(cam, "list", "campaigns:campaign_list", "every campaign", common)
    p = _command(cam, "leads", "campaigns:campaign_leads", "a campaign's leads, best first", common)
    p.add_argument("id", type=int)
    p.add_argument("--state", choices=[s.value for s in LeadState])
    p = _command(
        cam,
        "dial",
        "campaigns:lead_dial",
        "preview: the service rings the agent, then the lead",
        common,
    )
    p.add_argument("lead", type=int)
    p.add_argument("--agent", required=True, help="the agent's extension, e.g. 101")
    p = _command(
        cam, "outcome", "campaigns:lead_outcome", "record a preview call made by hand", common
    )
    p.add_argument("lead", type=int)
    # `interrupted` is the service's own word for an attempt a crash left in the air.
    by_hand = [d.value for d in Disposition if d is not Disposition.INTERRUPTED]
    p.add_argument("--disposition", required=True, choices=by_hand)
    p.add_argument("--by", required=True, help="who called (the manager, an agent)")
    p.add_argument("--at", help="when (ISO 8601; default now, not in the future)")

    calls = _group(sub, "calls", "call records")
    p = _command(calls, "list", "campaigns:calls_list", "newest first", common)
    p.add_argument("--campaign", type=int)


def _recordings(sub: Sub, common: list[argparse.ArgumentParser]) -> None:
    rec = _group(sub, "recordings", "call recordings: index, export, retention, audit")
    # Who reads and why: written to the audit trail; a restricted recording needs both.
    reader = argparse.ArgumentParser(add_help=False)
    reader.add_argument("--by", help="the person reading (default: the login name)")
    reader.add_argument("--reason", default="", help="why (required for restricted recordings)")
    readers = [*common, reader]
    p = _command(
        rec, "list", "recordings:recordings_list", "indexed recordings, oldest first", readers
    )
    p.add_argument("--ticket", type=int)
    p.add_argument("--call", type=int)
    p.add_argument("--state", choices=RECORDING_STATES)
    p.add_argument(
        "--include-restricted", action="store_true", help="include confidential (complaint) ones"
    )
    p = _command(
        rec, "show", "recordings:recordings_show", "one recording, its checksum verified", readers
    )
    p.add_argument("id", type=int)
    p.add_argument("--allow-restricted", action="store_true")
    p = _command(
        rec, "export", "recordings:recordings_export", "copy a recording out (audited)", readers
    )
    p.add_argument("id", type=int)
    p.add_argument("dest", help="file or folder")
    p.add_argument("--allow-restricted", action="store_true")
    p = _command(
        rec,
        "purge",
        "recordings:recordings_purge",
        "delete what is past retention (audited)",
        common,
    )
    p.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    p.add_argument("--by", help="who purges (default: the login name)")
    p.add_argument("--at", help="as if on this moment (ISO 8601)")
    p = _command(
        rec,
        "audit",
        "recordings:recordings_audit",
        "who listened, exported or purged, when and why",
        common,
    )
    p.add_argument("--recording", type=int, help="one recording's entries")
    p.add_argument("--who", help="one person's entries")
    p.add_argument("--limit", type=int, help="the last N entries")
    p = _command(
        rec,
        "convert",
        "recordings:recordings_convert",
        "index new WAVs and convert the backlog once",
        common,
    )
    p.add_argument("--limit", type=int, default=100)


def _people(sub: Sub, common: list[argparse.ArgumentParser]) -> None:
    """The HTTP API's users and tokens (hotline.cli.users, hotline.cli.tokens)."""
    roles = [r.value for r in UserRole]
    use = _group(sub, "users", "API and console users")
    secret = argparse.ArgumentParser(add_help=False)
    secret.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin's first line"
    )
    p = _command(use, "add", "users:users_add", "add a user (asks the password)", [*common, secret])
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=roles)
    p.add_argument("--extension", help="the user's extension, e.g. 101 (letters and digits)")
    p.add_argument("--language", default="zh", choices=("zh", "en"), help="the console's")
    _command(use, "list", "users:users_list", "every user", common)
    p = _command(use, "disable", "users:users_disable", "the user can no longer sign in", common)
    p.add_argument("name")
    p = _command(use, "passwd", "users:users_passwd", "set a user's password", [secret])
    p.add_argument("name")
    tok = _group(sub, "tokens", "API tokens")
    p = _command(tok, "add", "tokens:tokens_add", "a new token, shown once", common)
    p.add_argument("name")
    whose = p.add_mutually_exclusive_group(required=True)
    whose.add_argument("--role", choices=roles, help="an integration's token")
    whose.add_argument("--user", help="a token acting as this user")
    _command(tok, "list", "tokens:tokens_list", "every token", common)
    p = _command(tok, "revoke", "tokens:tokens_revoke", "the token stops working", common)
    p.add_argument("name")


def _webhooks(sub: Sub, common: list[argparse.ArgumentParser]) -> None:
    """Webhook subscriptions and their delivery log (hotline.cli.webhooks)."""
    hooks = _group(sub, "webhooks", "webhook subscriptions and deliveries")
    p = _command(hooks, "add", "webhooks:webhooks_add", "subscribe a URL to events", common)
    p.add_argument("url", help="http:// or https://; redirects are never followed")
    p.add_argument(
        "--events", required=True, help=f"comma-separated: {', '.join(_values(WebhookEventType))}"
    )
    p.add_argument("--secret", help="the shared signing secret (default: generated, shown once)")
    _command(hooks, "list", "webhooks:webhooks_list", "every subscription", common)
    for name, handler, help in (
        ("remove", "webhooks_remove", "delete a subscription and its delivery log"),
        ("disable", "webhooks_disable", "stop delivering to it (its pending deliveries wait)"),
        ("enable", "webhooks_enable", "deliver to it again"),
    ):
        p = _command(hooks, name, f"webhooks:{handler}", help, common)
        p.add_argument("id", type=int)
    p = _command(
        hooks,
        "deliveries",
        "webhooks:webhooks_deliveries",
        "the delivery log, newest first",
        common,
    )
    p.add_argument("--status", choices=_values(DeliveryStatus))
    p.add_argument("--subscription", type=int, help="one subscription's")
    p.add_argument("--limit", type=int, default=50)
    p = _command(
        hooks, "retry", "webhooks:webhooks_retry", "send a failed delivery again now", common
    )
    p.add_argument("delivery_id", type=int)
    p = _command(
        hooks,
        "prune",
        "webhooks:webhooks_prune",
        "delete delivered and failed deliveries, and outbox events, past their retention",
        common,
    )
    p.add_argument(
        "--older-than",
        type=_positive_days,
        metavar="DAYS",
        help="instead of webhooks.keep_days (failed ones kept webhooks.keep_failed_days at least)",
    )


def _positive_days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        days = 0.0
    if not days > 0 or days == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days above 0")
    return days


def _running(sub: Sub) -> None:
    serve = "run the FastAGI server (and dialer) in one reactor"
    _command(sub, "serve", "running:serve", serve, [])
    p = _command(sub, "agi", "running:agi", "classic AGI: run a call flow over stdin/stdout", [])
    p.add_argument("route", help="e.g. inbound, or inbound?site=demo")
    p = _command(
        sub, "demo", "running:demo", "the service and the PBX simulator on SQLite, shown live", []
    )
    p.add_argument("--speed", type=float, default=10.0, help="simulated time runs this much faster")
    p.add_argument("--home", help="demo home (default: $HOTLINE_HOME/demo, made afresh)")
    p.add_argument("--keep", action="store_true", help="keep the demo home's earlier data")
    p.add_argument(
        "--linger",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="then keep the service up this long, residents calling, for the console",
    )
    prompts = _group(sub, "prompts", "the recorded prompts")
    p = _command(
        prompts,
        "build",
        "running:prompts_build",
        "generate sounds/<lang>/hotline/*.wav (espeak-ng, sox)",
        [],
    )
    p.add_argument(
        "--out", default="sounds", help="Asterisk's sounds directory, e.g. /var/lib/asterisk/sounds"
    )
    p.add_argument("--lang", action="append", choices=("zh", "en"))
