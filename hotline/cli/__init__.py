"""`hotline`: the operator's command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from hotline import __version__
from hotline.app import App
from hotline.core.db import DatabaseUnavailable
from hotline.core.vocabulary import DomainError
from hotline.settings import SettingsError

from . import campaigns, recordings, records, running, tokens, users
from .output import print_json


def init(app: App, args: argparse.Namespace) -> None:
    done = app.init()
    if args.json:
        print_json({"home": str(app.settings.home), "done": done})
    else:
        print("\n".join(done))


def db_upgrade(app: App, args: argparse.Namespace) -> None:
    app.db.upgrade()
    print("database at head")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser = argparse.ArgumentParser(prog="hotline", description=__doc__)
    parser.add_argument("--version", action="version", version=f"hotline {__version__}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    sub.add_parser(
        "init", parents=[common], help="create home, settings and database"
    ).set_defaults(func=init)
    db = sub.add_parser("db", help="database maintenance").add_subparsers(required=True)
    db.add_parser("upgrade", help="apply the migrations").set_defaults(func=db_upgrade)
    records.register(sub, common)
    campaigns.register(sub, common)
    recordings.register(sub, common)
    users.register(sub, common)
    tokens.register(sub, common)
    running.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # `init` reports the migration itself
    try:
        app = App.from_env()
        args.func(app, args)
    except (DomainError, SettingsError, DatabaseUnavailable) as exc:
        print(f"hotline: error: {exc}", file=sys.stderr)
        return 1
    return 0
