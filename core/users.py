"""The people who use the API and the console: names, roles, extensions, argon2 password hashes.

Who a request is (``Principal``) is decided by a bearer token (``core/api_tokens.py``) or a
browser session (``core/web_sessions.py``); what each role may do is ``Principal.may``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import User
from .plain_text import has_control_character
from .vocabulary import (
    DomainError,
    Language,
    NotFound,
    UserRole,
    checked_extension,
    parse_choice,
)

MIN_PASSWORD = 10
MAX_NAME = 80
_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 defaults


@cache
def _unknown_user_hash() -> str:
    """Verified against when the name is unknown, so a wrong name costs what a wrong password
    does. Made on first use: a hash costs 0.1-0.3 s of CPU, which every command importing this
    module (any `--json` output) paid at start-up."""
    return _hasher.hash("no such user")


RANK = {role: n for n, role in enumerate(UserRole)}


@dataclass(frozen=True)
class Principal:
    """Who makes a request: a user, or an integration's token (``user_id`` None)."""

    name: str
    role: UserRole
    user_id: int | None = None
    extension: str | None = None  # the user's phone, which preview calls ring first
    language: str = "zh"  # the console's language for this user

    def may(self, needed: UserRole) -> bool:
        return RANK[self.role] >= RANK[needed]


class LoginFailed(DomainError):
    """Wrong name or password, or the user is disabled."""


def check_name(name: str, what: str = "user name") -> str:
    if not name.strip() or len(name) > MAX_NAME or has_control_character(name):
        raise DomainError(f"bad {what} {name!r}: 1-{MAX_NAME} characters, no control characters")
    return name


def _password_hash(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise DomainError(f"the password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def add_user(
    session: Session,
    name: str,
    role: str,
    password: str,
    at: datetime,
    extension: str | None = None,
    language: str = "zh",
) -> User:
    check_name(name)
    parsed = parse_choice(UserRole, role, "role")
    spoken = parse_choice(Language, language, "language")
    if extension is not None:
        checked_extension(extension)
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise DomainError(f"user {name} already exists")
    user = User(
        name=name,
        role=parsed.value,
        extension=extension,
        language=spoken.value,
        password_hash=_password_hash(password),
        disabled=False,
        created_at=at,
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"no user {name}")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name)))


def disable_user(session: Session, name: str) -> User:
    """The user can no longer sign in; their sessions and tokens stop working at once."""
    user = get_user(session, name)
    user.disabled = True
    return user


def set_language(session: Session, name: str, language: str) -> User:
    user = get_user(session, name)
    user.language = parse_choice(Language, language, "language").value
    return user


def set_password(session: Session, name: str, password: str) -> User:
    user = get_user(session, name)
    user.password_hash = _password_hash(password)
    return user


def authenticate(session: Session, name: str, password: str) -> User:
    """The user with this name and password, or LoginFailed (the same one line for a wrong name
    and a wrong password). The hash is brought up to the hasher's current parameters."""
    user = session.scalar(select(User).where(User.name == name))
    try:
        _hasher.verify(user.password_hash if user else _unknown_user_hash(), password)
    except (VerificationError, InvalidHashError):
        raise LoginFailed("wrong name or password") from None
    if user is None:
        raise LoginFailed("wrong name or password")
    if user.disabled:
        raise LoginFailed(f"user {name} is disabled")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def principal(user: User) -> Principal:
    return Principal(user.name, UserRole(user.role), user.id, user.extension, user.language)
