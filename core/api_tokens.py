"""Bearer tokens for the API: a user's (acting with the user's role) or an integration's (with a
role of its own). The secret is shown once; only its SHA-256 is kept, which is enough for 32
random bytes and fast enough to check on every request."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, selectinload

from .models import ApiToken, User
from .users import Principal, UserRole, check_name, get_user
from .vocabulary import DomainError, NotFound, parse_choice

PREFIX = "hl_"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def add_token(
    session: Session,
    name: str,
    at: datetime,
    *,
    role: str | None = None,
    user: str | None = None,
) -> tuple[ApiToken, str]:
    """A new token and its secret (to show once). Exactly one of ``role`` (an integration) and
    ``user`` (acting as that user)."""
    check_name(name, "token name")
    if (role is None) == (user is None):
        raise DomainError("a token is either an integration's (--role) or a user's (--user)")
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise DomainError(f"token {name} already exists")
    secret = new_secret()
    token = ApiToken(
        name=name,
        token_hash=digest(secret),
        role=parse_choice(UserRole, role, "role").value if role else None,
        user_id=get_user(session, user).id if user else None,
        created_at=at,
    )
    session.add(token)
    session.flush()
    return token, secret


def list_tokens(session: Session) -> list[ApiToken]:
    return list(
        session.scalars(select(ApiToken).options(selectinload(ApiToken.user)).order_by(ApiToken.id))
    )


def revoke_token(session: Session, name: str, at: datetime) -> ApiToken:
    token = session.scalar(select(ApiToken).where(ApiToken.name == name))
    if token is None:
        raise NotFound(f"no token {name}")
    if token.revoked_at is None:
        token.revoked_at = at
    return token


def token_role(token: ApiToken) -> str:
    return token.user.role if token.user else (token.role or "")


# Built once: building a statement costs as much as running this one.
_WHO = (
    select(
        ApiToken.name,
        ApiToken.role,
        ApiToken.revoked_at,
        User.id.label("user_id"),
        User.name.label("user_name"),
        User.role.label("user_role"),
        User.disabled,
        User.extension,
    )
    .outerjoin(User, ApiToken.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("hash"))
)


def principal_for_token(session: Session, secret: str) -> Principal | None:
    """Who the secret speaks for; None when it is unknown, revoked or its user disabled. Read
    on every request: one statement, plain rows (ORM objects cost more than the query)."""
    found = session.execute(_WHO, {"hash": digest(secret)}).first()
    if found is None or found.revoked_at is not None:
        return None
    if found.user_id is not None:
        if found.disabled:
            return None
        return Principal(found.user_name, UserRole(found.user_role), found.user_id, found.extension)
    return Principal(found.name, UserRole(found.role or ""))
