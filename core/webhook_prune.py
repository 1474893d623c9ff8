"""Pruning the webhook outbox and its delivery log, which would otherwise grow forever.

Delivered deliveries go `keep_days` after their delivery; failed ones `keep_failed_days` after
their last try (at least as long, so an operator still finds them with `hotline webhooks
deliveries --status failed`); pending ones never. An outbox event goes once it is
`keep_days` old and no delivery of it is left. Rows go in batches of `BATCH`, each found by a read
and deleted by id in a short transaction of its own, so a prune never holds a long lock while the
calls write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from .db import Database
from .models import WebhookDelivery, WebhookEvent
from .vocabulary import DeliveryStatus

BATCH = 500


@dataclass(frozen=True)
class Retention:
    delivered: timedelta  # a delivered delivery, and an outbox event, after this long
    failed: timedelta  # a failed delivery after its last try this long ago

    def __post_init__(self) -> None:
        if self.delivered <= timedelta(0) or self.failed < self.delivered:
            raise ValueError("delivered retention above 0, failed at least as long")

    @classmethod
    def of(
        cls, keep_days: float, keep_failed_days: float, older_than: float | None = None
    ) -> Retention:
        """The settings' retention; `older_than` days (`hotline webhooks prune --older-than`)
        instead of keep_days, failed deliveries still kept keep_failed_days at least."""
        delivered = keep_days if older_than is None else older_than
        return cls(timedelta(days=delivered), timedelta(days=max(delivered, keep_failed_days)))


@dataclass(frozen=True)
class Pruned:
    deliveries: int
    events: int

    def __add__(self, other: Pruned) -> Pruned:
        return Pruned(self.deliveries + other.deliveries, self.events + other.events)


def _old_deliveries(now: datetime, keep: Retention) -> ColumnElement[bool]:
    d = WebhookDelivery
    return or_(
        and_(d.status == DeliveryStatus.DELIVERED, d.delivered_at < now - keep.delivered),
        and_(
            d.status == DeliveryStatus.FAILED,
            func.coalesce(d.last_try_at, d.created_at) < now - keep.failed,
        ),
    )


def _old_events(now: datetime, keep: Retention) -> ColumnElement[bool]:
    e = WebhookEvent
    return and_(
        e.fanned_out,
        e.recorded_at < now - keep.delivered,
        ~exists().where(WebhookDelivery.event_id == e.id),
    )


def prune_batch(db: Database, now: datetime, keep: Retention, limit: int = BATCH) -> Pruned:
    """At most `limit` deliveries, then at most `limit` events. The ids are found by a read
    first, so the search (a scan of the log) holds no write lock, SQLite's one writer least of
    all; the delete by primary key repeats the condition: a delivery retried meanwhile
    (`hotline webhooks retry`) is pending again and stays."""
    pruned = []
    for model, old in (
        (WebhookDelivery, _old_deliveries(now, keep)),
        (WebhookEvent, _old_events(now, keep)),
    ):
        with db.transaction() as c:
            ids = list(c.scalars(select(model.id).where(old).order_by(model.id).limit(limit)))
        if not ids:
            pruned.append(0)
            continue
        # A transaction of its own: on SQLite a read turned writer fails (SQLITE_BUSY_SNAPSHOT)
        # when a call's write committed in between.
        with db.transaction() as c:
            pruned.append(c.execute(delete(model).where(model.id.in_(ids), old)).rowcount)
    return Pruned(*pruned)


def prune(db: Database, now: datetime, keep: Retention, limit: int = BATCH) -> Pruned:
    """Batch after batch until nothing old is left (`hotline webhooks prune`)."""
    total = Pruned(0, 0)
    while True:
        pruned = prune_batch(db, now, keep, limit)
        total += pruned
        if pruned.deliveries < limit and pruned.events < limit:
            return total
