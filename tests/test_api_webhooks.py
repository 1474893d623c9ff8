"""Webhook subscriptions and deliveries over the API: an admin's, with the CLI's rules and
one-line refusals (the refusals for other roles: tests/test_api_auth.py, for every route)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from hotline.core.db import Database
from hotline.core.models import WebhookDelivery
from hotline.core.rules import Rules
from hotline.core.webhook_desk import WebhookDesk
from hotline.core.webhook_retry import WebhookRetry

from api_support import ApiClient

URL = "https://erp.example.com/hotline"


def test_an_admin_subscribes_lists_disables_and_removes(api: ApiClient) -> None:
    made = api.post(
        "/webhooks", {"url": URL, "events": ["ticket.created", "call.ended"]}, as_="zhao"
    )
    assert made.status == 201
    listed = made.json
    assert listed.pop("secret").startswith("whsec_")
    assert listed == {
        "id": 1,
        "url": URL,
        "events": ["call.ended", "ticket.created"],
        "active": True,
        "created_at": "2026-11-25T10:00:00+08:00",
    }
    assert api.get("/webhooks", as_="zhao").json["items"] == [listed]  # never the secret
    given = api.post(
        "/webhooks", {"url": URL, "events": ["call.ended"], "secret": "s" * 16}, as_="zhao"
    )
    assert given.json["secret"] == "s" * 16
    assert api.post("/webhooks/1/disable", as_="zhao").json["active"] is False
    assert api.post("/webhooks/1/enable", as_="zhao").json["active"] is True
    assert api.call("DELETE", "/webhooks/1", as_="zhao").status == 204
    assert [w["id"] for w in api.get("/webhooks", as_="zhao").json["items"]] == [2]
    gone = api.call("DELETE", "/webhooks/1", as_="zhao")
    assert (gone.status, gone.json["error"]["message"]) == (404, "no webhook subscription 1")


def test_bad_subscriptions_are_refused_with_the_cli_s_reasons(api: ApiClient) -> None:
    cases = [
        ({"url": "ftp://x/y", "events": ["call.ended"]}, "only http and https are delivered to"),
        ({"url": URL, "events": ["call.made"]}, "unknown event 'call.made' (one of: "),
        ({"url": URL, "events": []}, "name at least one event"),
        ({"url": URL, "events": [1]}, "events must be a list of event type names"),
        ({"url": URL, "events": ["call.ended,ticket.created"]}, "events must be a list"),
        ({"url": URL, "events": ["call.ended"], "secret": "short"}, "16 to 128 characters"),
    ]
    for body, reason in cases:
        reply = api.post("/webhooks", body, as_="zhao")
        assert (reply.status, reply.code) == (422, "rejected"), body
        assert reason in reply.json["error"]["message"], reply.json
    assert api.post("/webhooks", {"url": URL}, as_="zhao").status == 400
    assert api.get("/webhooks", as_="zhao").json["items"] == []


def test_the_delivery_log_and_a_retry(api: ApiClient, db: Database) -> None:
    api.post("/webhooks", {"url": URL, "events": ["ticket.created"]}, as_="zhao")
    body = {"kind": "repair", "category": "leak", "unit": "3-1-201", "channel": "web"}
    assert api.post("/tickets", body, as_="li").status == 201
    desk = WebhookDesk(db, Rules(), WebhookRetry(), WebhookRetry().max_age)
    assert desk.fan_out(datetime.now(UTC), 10) == 1
    (pending,) = api.get("/webhooks/deliveries?status=pending", as_="zhao").json["items"]
    assert (pending["event"], pending["attempts"], pending["status"]) == (
        "ticket.created",
        0,
        "pending",
    )
    assert api.get("/webhooks/deliveries?status=failed", as_="zhao").json["items"] == []
    assert api.get("/webhooks/deliveries?subscription=9", as_="zhao").json["items"] == []
    with db.engine.begin() as c:
        c.execute(
            update(WebhookDelivery).values(status="failed", attempts=12, last_error="HTTP 410")
        )
    retried = api.post(f"/webhooks/deliveries/{pending['id']}/retry", as_="zhao").json
    assert (retried["status"], retried["attempts"], retried["last_error"]) == (
        "pending",
        12,
        "HTTP 410",
    )
    missing = api.post("/webhooks/deliveries/99/retry", as_="zhao")
    assert (missing.status, missing.json["error"]["message"]) == (404, "no webhook delivery 99")
