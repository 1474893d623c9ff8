"""Browser sessions: a random cookie secret (kept as its SHA-256), a CSRF token the page echoes
in a header on every write, and an end time."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload

from .api_tokens import digest
from .models import User, WebSession
from .users import Principal, principal


@dataclass(frozen=True)
class SessionGrant:
    """What a sign-in hands the browser: the cookie's secret and the CSRF token."""

    secret: str
    csrf_token: str
    expires_at: datetime


def open_session(session: Session, user: User, at: datetime, hours: float) -> SessionGrant:
    secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = at + timedelta(hours=hours)
    # Expired sessions are deleted as new ones are opened, so the table stays small.
    session.execute(delete(WebSession).where(WebSession.expires_at <= at))
    session.add(
        WebSession(
            token_hash=digest(secret),
            user_id=user.id,
            csrf_token=csrf,
            created_at=at,
            expires_at=expires,
        )
    )
    session.flush()
    return SessionGrant(secret, csrf, expires)


def find_session(session: Session, secret: str, at: datetime) -> WebSession | None:
    """The live session with this secret; None when unknown, expired or the user disabled."""
    row = session.scalar(
        select(WebSession)
        .options(joinedload(WebSession.user))  # one round trip on every request
        .where(WebSession.token_hash == digest(secret))
    )
    if row is None or row.expires_at <= at or row.user.disabled:
        return None
    return row


def session_principal(session: Session, secret: str, at: datetime) -> tuple[Principal, str] | None:
    """The session's user and CSRF token; None when the session is not live."""
    row = find_session(session, secret, at)
    return None if row is None else (principal(row.user), row.csrf_token)


def close_session(session: Session, secret: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == digest(secret)))
