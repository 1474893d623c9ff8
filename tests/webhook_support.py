"""Webhook subscriptions and the outbox's events, for the webhook tests."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from hotline.core.db import Database
from hotline.core.models import WebhookDelivery, WebhookEvent
from hotline.core.webhooks import add_subscription

SECRET = "whsec_test-secret-0123456789"


def subscribe(db: Database, events: str, url: str = "http://127.0.0.1:9/hook") -> int:
    """An active subscription created a moment ago (events written from now on are its)."""
    with db.session() as s:
        return add_subscription(s, url, events, datetime.now(UTC), SECRET).id


def events(db: Database) -> list[tuple[str, dict[str, Any]]]:
    """(type, payload) of every outbox event, oldest first."""
    with db.session() as s:
        rows = s.execute(select(WebhookEvent.type, WebhookEvent.payload).order_by(WebhookEvent.id))
        return [(t, p) for t, p in rows]


def deliveries(db: Database) -> list[WebhookDelivery]:
    with db.session() as s:
        return list(s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def verify(secret: str, header: str, body: bytes) -> bool:
    """What a receiver does with Hotline-Signature (docs/api.md), written here independently of
    hotline.webhooks.signing."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts["v1"])
