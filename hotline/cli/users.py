"""`hotline users`: the people who sign in to the API and the console, with their roles."""

from __future__ import annotations

import argparse
import getpass
import sys

from hotline import serialise
from hotline.app import App
from hotline.core import users
from hotline.core.users import UserRole
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
        user = users.add_user(s, args.name, args.role, password, app.now(), args.extension)
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


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    use = sub.add_parser("users", help="API and console users").add_subparsers(required=True)
    secret = argparse.ArgumentParser(add_help=False)
    secret.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin's first line"
    )
    p = use.add_parser("add", parents=[common, secret], help="add a user (asks the password)")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=[r.value for r in UserRole])
    p.add_argument("--extension", help="the user's phone (PJSIP endpoint), e.g. 101")
    p.set_defaults(func=users_add)
    use.add_parser("list", parents=[common]).set_defaults(func=users_list)
    p = use.add_parser("disable", parents=[common], help="the user can no longer sign in")
    p.add_argument("name")
    p.set_defaults(func=users_disable)
    p = use.add_parser("passwd", parents=[secret], help="set a user's password")
    p.add_argument("name")
    p.set_defaults(func=users_passwd)
