"""The webhook desk: what the service's delivery loop asks of the outbox, blocking, in its thread
pool.

Each tick fans new outbox events out to one delivery per subscriber, then claims the deliveries
due. A claim counts the attempt and moves the delivery's `next_try_at` past the sender's lease in
the claim's own transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so instances sharing a
database never send the same delivery at once, and a delivery whose sender was killed mid-send is
due again, with the same idempotency key, once the lease ends. A delivery is marked delivered only
after its receiver's 2xx: at least once.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .db import Database
from .models import WebhookDelivery, WebhookEvent, WebhookSubscription
from .rules import Rules
from .vocabulary import DeliveryStatus, DomainError
from .webhook_retry import WebhookRetry
from .webhooks import check_url

ERROR_WIDTH = 500
# Events fanned out per round: more than a busy centre writes between two rounds (1 s).
FAN_OUT_BATCH = 1000


@dataclass(frozen=True)
class Send:
    """A claimed delivery: all its sender needs."""

    delivery_id: int
    url: str
    secret: str
    event_type: str
    key: str  # the event's uuid: the receiver's idempotency key
    body: bytes
    attempt: int


@dataclass(frozen=True)
class Tried:
    """What one send of a delivery got."""

    delivery_id: int
    status_code: int | None  # None: no answer (refused, reset, timed out)
    error: str | None  # None: delivered (the receiver answered 2xx)


def envelope(rules: Rules, event: WebhookEvent) -> bytes:
    """The JSON body: the same bytes at every attempt."""
    return json.dumps(
        {
            "id": event.uuid,
            "type": event.type,
            "occurred_at": rules.local_iso(event.occurred_at),
            "data": event.payload,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


class WebhookDesk:
    def __init__(
        self,
        db: Database,
        rules: Rules,
        retry: WebhookRetry,
        lease: timedelta,
        seed: int | None = None,
    ) -> None:
        self.db, self.rules, self.retry, self.lease = db, rules, retry, lease
        self._rng = random.Random(seed)

    def due(self, at: datetime, limit: int) -> list[Send]:
        """Fan out what is new, then claim up to `limit` deliveries due at `at`."""
        self.fan_out(at, FAN_OUT_BATCH)
        return self.claim(at, limit)

    def fan_out(self, at: datetime, limit: int) -> int:
        """One delivery per active subscription that wants each new event and existed when it
        was written; returns the events fanned out."""
        with self.db.session() as s:
            events = list(
                s.scalars(
                    select(WebhookEvent)
                    .where(WebhookEvent.fanned_out.is_(False))
                    .order_by(WebhookEvent.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            if not events:
                return 0
            subscriptions = list(
                s.scalars(select(WebhookSubscription).where(WebhookSubscription.active))
            )
            for event in events:
                s.add_all(
                    WebhookDelivery(
                        subscription_id=sub.id,
                        event_id=event.id,
                        status=DeliveryStatus.PENDING.value,
                        attempts=0,
                        created_at=at,
                        next_try_at=at,
                        give_up_at=event.occurred_at + self.retry.max_age,
                    )
                    for sub in subscriptions
                    if event.type in sub.events and sub.created_at <= event.recorded_at
                )
                event.fanned_out = True
            return len(events)

    def claim(self, at: datetime, limit: int) -> list[Send]:
        with self.db.session() as s:
            deliveries = list(
                s.scalars(
                    select(WebhookDelivery)
                    .join(WebhookSubscription)
                    .where(
                        WebhookDelivery.status == DeliveryStatus.PENDING,
                        WebhookDelivery.next_try_at <= at,
                        WebhookSubscription.active,
                    )
                    .order_by(WebhookDelivery.next_try_at, WebhookDelivery.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True, of=WebhookDelivery)
                    .options(
                        selectinload(WebhookDelivery.subscription),
                        selectinload(WebhookDelivery.event),
                    )
                )
            )
            sends = []
            for d in deliveries:
                d.attempts += 1
                d.last_try_at = at
                try:
                    url = check_url(d.subscription.url)
                except DomainError as exc:
                    d.status, d.last_error = DeliveryStatus.FAILED.value, str(exc)[:ERROR_WIDTH]
                    continue
                d.next_try_at = at + self.lease
                sends.append(
                    Send(
                        d.id,
                        url,
                        d.subscription.secret,
                        d.event.type,
                        d.event.uuid,
                        envelope(self.rules, d.event),
                        d.attempts,
                    )
                )
            return sends

    def record(self, at: datetime, tries: list[Tried]) -> list[int]:
        """The round's outcomes, in one transaction: delivered (a 2xx), due again after the
        backoff, or given up past the event's max age. Returns the ids given up."""
        given_up: list[int] = []
        with self.db.session() as s:
            ids = [t.delivery_id for t in tries]
            found = {
                d.id: d
                for d in s.scalars(select(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
            }
            for t in tries:
                d = found.get(t.delivery_id)
                if d is None:  # removed with its subscription meanwhile
                    continue
                d.last_status_code = t.status_code
                if t.error is None:
                    d.status, d.delivered_at, d.last_error = (
                        DeliveryStatus.DELIVERED.value,
                        at,
                        None,
                    )
                    continue
                d.last_error = t.error[:ERROR_WIDTH]
                if d.status != DeliveryStatus.PENDING:
                    continue
                retry_at = at + self.retry.delay(d.attempts, self._rng)
                if retry_at > d.give_up_at:
                    d.status = DeliveryStatus.FAILED.value
                    given_up.append(d.id)
                else:
                    d.next_try_at = retry_at
        return given_up
