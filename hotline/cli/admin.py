"""Setting up: `hotline init` and `hotline db upgrade`."""

from __future__ import annotations

import argparse

from hotline.app import App

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
