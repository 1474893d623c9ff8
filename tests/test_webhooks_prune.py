"""Pruning the webhook outbox and delivery log: what is past its retention goes, in batches;
pending deliveries, failed ones within their longer retention, and events still referenced stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from webhook_support import SECRET

from hotline.core.db import Database
from hotline.core.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from hotline.core.vocabulary import DeliveryStatus
from hotline.core.webhook_prune import Pruned, Retention, prune, prune_batch
from hotline.settings import SettingsError, load
from hotline.webhooks.pruner import Pruner

from cli_support import Run, jrun

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
KEEP = Retention(timedelta(days=30), timedelta(days=90))


class Log:
    """Outbox events and their deliveries written straight into the tables, aged at will."""

    def __init__(self, db: Database, now: datetime) -> None:
        self.db, self.now = db, now
        with db.session() as s:
            sub = WebhookSubscription(
                url="http://127.0.0.1:9/hook",
                events=["call.ended"],
                secret=SECRET,
                active=True,
                created_at=now - timedelta(days=400),
            )
            s.add(sub)
            s.flush()
            self.subscription = sub.id

    def event(self, days_ago: float) -> int:
        at = self.now - timedelta(days=days_ago)
        with self.db.session() as s:
            event = WebhookEvent(
                uuid=str(uuid.uuid4()),
                type="call.ended",
                payload={"n": 1},
                occurred_at=at,
                recorded_at=at,
                fanned_out=True,
            )
            s.add(event)
            s.flush()
            return event.id

    def delivery(self, status: DeliveryStatus, days_ago: float, event_days_ago: float) -> int:
        """A delivery delivered, or last tried, `days_ago`."""
        at = self.now - timedelta(days=days_ago)
        event_id = self.event(event_days_ago)
        with self.db.session() as s:
            d = WebhookDelivery(
                subscription_id=self.subscription,
                event_id=event_id,
                status=status.value,
                attempts=1,
                created_at=at,
                next_try_at=at,
                give_up_at=at + timedelta(days=1),
                last_try_at=at,
                delivered_at=at if status == DeliveryStatus.DELIVERED else None,
            )
            s.add(d)
            s.flush()
            return d.id

    def ids(self) -> tuple[set[int], set[int]]:
        with self.db.session() as s:
            return (
                set(s.scalars(select(WebhookDelivery.id))),
                set(s.scalars(select(WebhookEvent.id))),
            )


def test_what_is_past_its_retention_goes_and_nothing_else(db: Database) -> None:
    log = Log(db, NOW)
    old_delivered = log.delivery(DeliveryStatus.DELIVERED, 31, 31)
    recent_delivered = log.delivery(DeliveryStatus.DELIVERED, 29, 29)
    failed_in_retention = log.delivery(DeliveryStatus.FAILED, 60, 61)
    old_failed = log.delivery(DeliveryStatus.FAILED, 91, 92)
    # Pending forever (the receiver down for months, retried by hand): never pruned.
    old_pending = log.delivery(DeliveryStatus.PENDING, 200, 200)
    lone_old_event = log.event(31)  # fanned out to nobody
    lone_recent_event = log.event(29)
    with db.session() as s:
        unfanned = s.get(WebhookEvent, log.event(100))
        assert unfanned is not None
        unfanned.fanned_out = False  # not yet fanned out: its deliveries are still to be made
    deliveries, events = log.ids()
    event_of = _events_of(db)

    assert prune(db, NOW, KEEP) == Pruned(deliveries=2, events=3)

    kept_deliveries, kept_events = log.ids()
    assert kept_deliveries == {recent_delivered, failed_in_retention, old_pending}
    assert deliveries - kept_deliveries == {old_delivered, old_failed}
    assert events - kept_events == {
        event_of[old_delivered],
        event_of[old_failed],
        lone_old_event,
    }
    assert lone_recent_event in kept_events and unfanned.id in kept_events
    assert prune(db, NOW, KEEP) == Pruned(0, 0)  # nothing left to do


def _events_of(db: Database) -> dict[int, int]:
    with db.session() as s:
        rows = s.execute(select(WebhookDelivery.id, WebhookDelivery.event_id))
        return {d: e for d, e in rows}


def test_a_batch_deletes_at_most_its_limit_and_prune_goes_on_until_done(db: Database) -> None:
    log = Log(db, NOW)
    for _ in range(5):
        log.delivery(DeliveryStatus.DELIVERED, 40, 40)
    assert prune_batch(db, NOW, KEEP, limit=2) == Pruned(deliveries=2, events=2)
    assert _count(db, WebhookDelivery) == 3
    assert prune(db, NOW, KEEP, limit=2) == Pruned(deliveries=3, events=3)
    assert (_count(db, WebhookDelivery), _count(db, WebhookEvent)) == (0, 0)


def _count(db: Database, model: Any) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_a_retention_keeps_failed_deliveries_at_least_as_long() -> None:
    assert Retention.of(30, 90) == KEEP
    # --older-than 7: delivered after a week, failed still after keep_failed_days.
    assert Retention.of(30, 90, 7) == Retention(timedelta(days=7), timedelta(days=90))
    assert Retention.of(30, 90, 120) == Retention(timedelta(days=120), timedelta(days=120))
    with pytest.raises(ValueError):
        Retention(timedelta(days=30), timedelta(days=10))


def test_settings_refuse_failed_kept_shorter_than_delivered(tmp_path: Path) -> None:
    env = {"HOTLINE_WEBHOOKS_KEEP_DAYS": "30", "HOTLINE_WEBHOOKS_KEEP_FAILED_DAYS": "7"}
    with pytest.raises(SettingsError, match="keep_failed_days at least as long"):
        load(tmp_path, env)
    with pytest.raises(SettingsError, match="keep_days must be above 0"):
        load(tmp_path, {"HOTLINE_WEBHOOKS_KEEP_DAYS": "0"})
    settings = load(tmp_path, {"HOTLINE_WEBHOOKS_KEEP_DAYS": "14"}).webhooks
    assert (settings.keep_days, settings.keep_failed_days) == (14, 90)


def test_the_service_loop_prunes_one_batch_per_trip_to_the_pool(db: Database) -> None:
    log = Log(db, NOW)
    for _ in range(5):
        log.delivery(DeliveryStatus.DELIVERED, 40, 40)
    trips: list[Pruned] = []

    def run(f: Any, *args: Any) -> Deferred[Pruned]:
        pruned = f(*args)
        trips.append(pruned)
        return succeed(pruned)

    clock = Clock()
    ready = [False]
    pruner = Pruner(db, KEEP, run, lambda: NOW, clock, ready=lambda: ready[0], batch=2)
    pruner.start(3600)  # the first tick comes before the database is ready: nothing done
    assert trips == []
    ready[0] = True
    clock.advance(3600)
    assert trips == [Pruned(2, 2), Pruned(2, 2), Pruned(1, 1)]
    pruner.stop()
    assert log.ids() == (set(), set())


def test_cli_prune_uses_the_settings_or_older_than(cli: Run, db: Database) -> None:
    log = Log(db, datetime.now(UTC))
    log.delivery(DeliveryStatus.DELIVERED, 40, 40)
    week_old = log.delivery(DeliveryStatus.DELIVERED, 8, 8)
    failed = log.delivery(DeliveryStatus.FAILED, 8, 8)
    assert jrun(cli, "webhooks", "prune") == {"deliveries": 1, "events": 1}
    code, out, _ = cli("webhooks", "prune", "--older-than", "7")
    assert (code, out) == (0, "pruned 1 deliveries and 1 outbox events\n")
    assert log.ids()[0] == {failed}  # a failed one is kept keep_failed_days (90) all the same
    assert week_old not in log.ids()[0]
    code, _, err = cli("webhooks", "prune", "--older-than", "-1")
    assert code == 2 and "not a number of days above 0" in err
