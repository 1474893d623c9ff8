"""PostgreSQL LISTEN/NOTIFY for the live events between service instances: the blocking half
(the service runs it in threads of its own, hotline/live_relay.py).

A NOTIFY payload is at most 8000 bytes: a larger event is stored in `live_event_payloads` and
the NOTIFY carries its row's id (``@<id>``); rows are swept after a few minutes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import psycopg
from sqlalchemy import delete, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from .models import LiveEventPayload

CHANNEL = "hotline_events"
MAX_PAYLOAD = 7900  # bytes; PostgreSQL's limit is 8000, with the channel name's room left
KEEP = timedelta(minutes=5)


def conninfo(url: str) -> str:
    """The libpq connection string of a SQLAlchemy PostgreSQL URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(conninfo(url), autocommit=True, connect_timeout=5)


def store_large(session: Session, payload: str, now: datetime) -> str:
    """Keep a payload too large to notify; what to notify instead."""
    row = LiveEventPayload(payload=payload, created_at=now)
    session.add(row)
    session.flush()
    session.execute(delete(LiveEventPayload).where(LiveEventPayload.created_at < now - KEEP))
    return f"@{row.id}"


def load_large(session: Session, reference: str) -> str | None:
    if not reference[1:].isdigit():
        return None
    return session.scalar(
        select(LiveEventPayload.payload).where(LiveEventPayload.id == int(reference[1:]))
    )


def notify(conn: psycopg.Connection[tuple[object, ...]], payloads: list[str]) -> None:
    """Send the payloads in order, in one transaction (delivered together at its commit)."""
    with conn.transaction():
        for payload in payloads:
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))


def listen(conn: psycopg.Connection[tuple[object, ...]], timeout: float) -> Iterator[str | None]:
    """The payloads NOTIFYed on the channel, and None every ``timeout`` seconds of silence
    (the caller's chance to stop)."""
    conn.execute(f"LISTEN {CHANNEL}")
    while True:
        got = False
        for note in conn.notifies(timeout=timeout):
            got = True
            yield note.payload
        if not got:
            yield None
