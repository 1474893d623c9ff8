"""Webhook subscriptions and their delivery log, for an admin (as `hotline webhooks`)."""

from __future__ import annotations

from typing import Any

from hotline import serialise
from hotline.core import webhooks
from hotline.core.users import UserRole
from hotline.core.vocabulary import DeliveryStatus, DomainError

from .declare import API, Body, Param
from .schemas import items, ref
from .server import Call, Reply

ADMIN = UserRole.ADMIN
ID = Param("id", "integer", required=True)


@API.route(
    "GET",
    "/webhooks",
    "Webhook subscriptions",
    role=ADMIN,
    response=items("Webhook"),
    tag="webhooks",
)
def list_webhooks(call: Call) -> dict[str, Any]:
    found = webhooks.list_subscriptions(call.session)
    return {"items": [serialise.webhook_subscription(w, call.tz) for w in found]}


@API.route(
    "POST",
    "/webhooks",
    "Subscribe a URL to events; the signing secret (generated when not given) is shown this once",
    role=ADMIN,
    body=Body(
        (
            Param("url", required=True, description="http:// or https://"),
            Param("events", "array", required=True, description="event types, e.g. call.ended"),
            Param("secret", description="16 to 128 characters (default: generated)"),
        )
    ),
    response=ref("NewWebhook"),
    status=201,
    tag="webhooks",
)
def add_webhook(call: Call) -> dict[str, Any]:
    b = call.body
    if not all(isinstance(name, str) and "," not in name for name in b["events"]):
        raise DomainError("events must be a list of event type names")
    subscription = webhooks.add_subscription(
        call.session, b["url"], ",".join(b["events"]), call.now, b["secret"]
    )
    return serialise.webhook_subscription(subscription, call.tz) | {"secret": subscription.secret}


def _set_active(call: Call, active: bool) -> dict[str, Any]:
    subscription = webhooks.set_active(call.session, call.params["id"], active)
    return serialise.webhook_subscription(subscription, call.tz)


@API.route(
    "POST",
    "/webhooks/{id}/disable",
    "Stop delivering to a subscription (its pending deliveries wait)",
    role=ADMIN,
    path_params=(ID,),
    response=ref("Webhook"),
    tag="webhooks",
)
def disable_webhook(call: Call) -> dict[str, Any]:
    return _set_active(call, False)


@API.route(
    "POST",
    "/webhooks/{id}/enable",
    "Deliver to a subscription again",
    role=ADMIN,
    path_params=(ID,),
    response=ref("Webhook"),
    tag="webhooks",
)
def enable_webhook(call: Call) -> dict[str, Any]:
    return _set_active(call, True)


@API.route(
    "DELETE",
    "/webhooks/{id}",
    "Remove a subscription and its delivery log",
    role=ADMIN,
    path_params=(ID,),
    status=204,
    tag="webhooks",
)
def remove_webhook(call: Call) -> Reply:
    webhooks.remove_subscription(call.session, call.params["id"])
    return Reply(None)


@API.route(
    "GET",
    "/webhooks/deliveries",
    "The delivery log, newest first",
    role=ADMIN,
    query=(
        Param("status", enum=tuple(DeliveryStatus)),
        Param("subscription", "integer"),
        Param("limit", "integer", description="rows (default 50)", maximum=500),
    ),
    response=items("WebhookDelivery"),
    tag="webhooks",
)
def list_deliveries(call: Call) -> dict[str, Any]:
    p = call.params
    found = webhooks.list_deliveries(call.session, p["status"], p["subscription"], p["limit"] or 50)
    return {"items": [serialise.webhook_delivery(d, call.tz) for d in found]}


@API.route(
    "POST",
    "/webhooks/deliveries/{id}/retry",
    "Send a failed delivery again now",
    role=ADMIN,
    path_params=(ID,),
    response=ref("WebhookDelivery"),
    tag="webhooks",
)
def retry_delivery(call: Call) -> dict[str, Any]:
    give_up_at = call.now + call.app.settings.webhooks.retry.max_age
    delivery = webhooks.retry_delivery(call.session, call.params["id"], call.now, give_up_at)
    return serialise.webhook_delivery(delivery, call.tz)
