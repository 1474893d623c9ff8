"""`hotline tokens`: bearer tokens for the API, a user's or an integration's; shown once."""

from __future__ import annotations

import argparse

from hotline import serialise
from hotline.app import App
from hotline.core import api_tokens

from .output import print_json, print_listing


def tokens_add(app: App, args: argparse.Namespace) -> None:
    with app.require_db().session() as s:
        token, secret = api_tokens.add_token(
            s, args.name, app.now(), role=args.role, user=args.user
        )
        data = serialise.token(token, app.rules.tz) | {"token": secret}
    if args.json:
        print_json(data)
    else:
        print(f"token {data['name']} ({data['role']}): {secret}")
        print("shown this once: store it now (only its hash is kept)")


def tokens_list(app: App, args: argparse.Namespace) -> None:
    with app.require_db().session() as s:
        found = [serialise.token(t, app.rules.tz) for t in api_tokens.list_tokens(s)]
    print_listing(
        found,
        args.json,
        ["name", "user", "role", "created", "revoked"],
        lambda t: (t["name"], t["user"], t["role"], t["created_at"], t["revoked_at"]),
    )


def tokens_revoke(app: App, args: argparse.Namespace) -> None:
    with app.require_db().session() as s:
        data = serialise.token(api_tokens.revoke_token(s, args.name, app.now()), app.rules.tz)
    if args.json:
        print_json(data)
    else:
        print(f"token {args.name}: revoked")
