"""The webhook outbox: an event row written in the transaction of the change that caused it, so
a change rolled back leaves no event and a committed one is never lost (the service delivers it,
hotline.webhooks).

Nothing is written unless an active subscription wants the event's type. The types wanted are
read at most once per `REFRESH_SECONDS` per database, and at once after a change made in this
process (`invalidate`), so a call's intake pays a dictionary lookup, not a query, when nobody
subscribed. A subscription added by another process (the CLI beside the service) is therefore
seen by the service within `REFRESH_SECONDS`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from time import monotonic
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.orm import Session

from .models import WebhookEvent, WebhookSubscription

REFRESH_SECONDS = 5.0

INSERT_EVENT = insert(WebhookEvent)
WANTED = select(WebhookSubscription.events).where(WebhookSubscription.active)

# Per engine: (monotonic time the cached set expires, the event types some subscription wants).
_wanted: WeakKeyDictionary[Engine, tuple[float, frozenset[str]]] = WeakKeyDictionary()


def _engine(target: Session | Connection) -> Engine:
    bind = target.get_bind() if isinstance(target, Session) else target
    return bind if isinstance(bind, Engine) else bind.engine


def wants(target: Session | Connection, event_type: str) -> bool:
    """Whether an active subscription wants `event_type` (read in `target`'s transaction when
    the cached answer is stale)."""
    engine = _engine(target)
    now = monotonic()
    cached = _wanted.get(engine)
    if cached is None or now >= cached[0]:
        found = frozenset(t for events in target.execute(WANTED).scalars() for t in events)
        cached = (now + REFRESH_SECONDS, found)
        _wanted[engine] = cached
    return event_type in cached[1]


def invalidate() -> None:
    """Subscriptions changed: the next `wants` reads them again."""
    _wanted.clear()


def emit(
    target: Session | Connection, event_type: str, occurred_at: datetime, payload: dict[str, Any]
) -> str | None:
    """Write the event in `target`'s transaction; its uuid (the idempotency key), or None when
    nobody wants the type."""
    if not wants(target, event_type):
        return None
    key = str(uuid.uuid4())
    target.execute(
        INSERT_EVENT,
        {
            "uuid": key,
            "type": event_type,
            "payload": payload,
            "occurred_at": occurred_at,
            # The wall clock, as subscriptions' created_at: one added later does not get it.
            "recorded_at": datetime.now(UTC),
            "fanned_out": False,
        },
    )
    return key
