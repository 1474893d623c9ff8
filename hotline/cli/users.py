"""`hotline users`: the people who sign in to the API and the console, with their roles."""

from __future__ import annotations

import argparse
import getpass
import sys

from hotline import serialise
from hotline.app import App
from hotline.core import users
from hotline.core.vocabulary import DomainError

from .output import print_json, print_listing


def read_password(args: argparse.Namespace) -> str:
    """From stdin's first line (--password-stdin, for scripts) or asked twice at the terminal."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("password: ")
    if getpass.getpass("again: ") != password:
        raise DomainError("the passwords differ")
    return password


def users_add(app: App, args: argparse.Namespace) -> None:
    password = read_password(args)
    with app.require_db().session() as s:
        user = users.add_user(
            s, args.name, args.role, password, app.now(), args.extension, args.language
        )
        data = serialise.user(user, app.rules.tz)
    if args.json:
        print_json(data)
    else:
        print(f"user {data['name']}: {data['role']}")


def users_list(app: App, args: argparse.Namespace) -> None:
    with app.require_db().session() as s:
        found = [serialise.user(u, app.rules.tz) for u in users.list_users(s)]
    print_listing(
        found,
        args.json,
        ["name", "role", "extension", "created", "flags"],
        lambda u: (
            u["name"],
            u["role"],
            u["extension"],
            u["created_at"],
            "disabled" if u["disabled"] else "",
        ),
    )


def users_disable(app: App, args: argparse.Namespace) -> None:
    with app.require_db().session() as s:
        data = serialise.user(users.disable_user(s, args.name), app.rules.tz)
    if args.json:
        print_json(data)
    else:
        print(f"user {args.name}: disabled (sessions and tokens no longer work)")


def users_passwd(app: App, args: argparse.Namespace) -> None:
    password = read_password(args)
    with app.require_db().session() as s:
        users.set_password(s, args.name, password)
    print(f"user {args.name}: password changed")
