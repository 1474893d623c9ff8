"""Webhook subscriptions and their delivery log, as the operator manages them (`hotline
webhooks`). The secret is shared with the receiver: it is kept as given (it signs each delivery),
so the database is as private as for API tokens (0600, docs/operations.md)."""

from __future__ import annotations

import secrets
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import String, delete, select
from sqlalchemy.orm import Session, selectinload

from . import outbox
from .models import WebhookDelivery, WebhookSubscription
from .vocabulary import DeliveryStatus, DomainError, NotFound, WebhookEventType, parse_choice

SECRET_PREFIX = "whsec_"
_URL_TYPE = WebhookSubscription.__table__.c.url.type
URL_WIDTH = _URL_TYPE.length if isinstance(_URL_TYPE, String) else None


def check_url(url: str) -> str:
    """An http(s) URL with a host, or a DomainError saying why not (checked when added and
    again before each send)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise DomainError(f"webhook URL {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise DomainError(f"webhook URL {url!r}: only http and https are delivered to")
    if not parts.hostname:
        raise DomainError(f"webhook URL {url!r}: no host")
    if URL_WIDTH is not None and len(url) > URL_WIDTH:
        raise DomainError(f"webhook URL longer than {URL_WIDTH} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise DomainError(f"webhook URL {url!r}: spaces or control characters")
    return url


def parse_events(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise DomainError("name at least one event (--events ticket.created,...)")
    return sorted({parse_choice(WebhookEventType, name, "event").value for name in names})


def add_subscription(
    session: Session, url: str, events: str, at: datetime, secret: str | None = None
) -> WebhookSubscription:
    """A new active subscription; `secret` generated when not given (shown once by the CLI)."""
    subscription = WebhookSubscription(
        url=check_url(url),
        events=parse_events(events),
        secret=secret or SECRET_PREFIX + secrets.token_urlsafe(32),
        active=True,
        created_at=at,
    )
    if len(subscription.secret) > 128 or len(subscription.secret) < 16:
        raise DomainError("a webhook secret has 16 to 128 characters")
    session.add(subscription)
    session.flush()
    outbox.invalidate()
    return subscription


def list_subscriptions(session: Session) -> list[WebhookSubscription]:
    return list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))


def get_subscription(session: Session, subscription_id: int) -> WebhookSubscription:
    subscription = session.get(WebhookSubscription, subscription_id)
    if subscription is None:
        raise NotFound(f"no webhook subscription {subscription_id}")
    return subscription


def set_active(session: Session, subscription_id: int, active: bool) -> WebhookSubscription:
    """Disabled: no new deliveries are made for it, and its pending ones wait until enabled."""
    subscription = get_subscription(session, subscription_id)
    subscription.active = active
    outbox.invalidate()
    return subscription


def remove_subscription(session: Session, subscription_id: int) -> None:
    """Gone with its delivery log."""
    subscription = get_subscription(session, subscription_id)
    session.execute(
        delete(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    )
    session.delete(subscription)
    session.flush()
    outbox.invalidate()


def list_deliveries(
    session: Session,
    status: str | None = None,
    subscription_id: int | None = None,
    limit: int = 50,
) -> list[WebhookDelivery]:
    """Newest first."""
    query = (
        select(WebhookDelivery)
        .options(selectinload(WebhookDelivery.event))
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(
            WebhookDelivery.status == parse_choice(DeliveryStatus, status, "status").value
        )
    if subscription_id is not None:
        query = query.where(WebhookDelivery.subscription_id == subscription_id)
    return list(session.scalars(query))


def retry_delivery(
    session: Session, delivery_id: int, at: datetime, give_up_at: datetime
) -> WebhookDelivery:
    """Due again now, tried until `give_up_at` at least. A delivered one is refused: its
    receiver has it."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    if delivery.status == DeliveryStatus.DELIVERED:
        raise DomainError(f"webhook delivery {delivery_id} was delivered already")
    delivery.status = DeliveryStatus.PENDING
    delivery.next_try_at = at
    delivery.give_up_at = max(delivery.give_up_at, give_up_at)
    return delivery
