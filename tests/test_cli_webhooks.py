"""`hotline webhooks`: subscriptions (the secret shown once), and the delivery log."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import update

from hotline.core.db import Database
from hotline.core.models import WebhookDelivery, WebhookSubscription
from hotline.core.rules import Rules
from hotline.core.webhook_desk import Tried, WebhookDesk
from hotline.core.webhook_retry import WebhookRetry

from cli_support import Run, jrun
from factories import seed_residents

URL = "https://erp.example.com/hotline"


def test_add_shows_a_generated_secret_once_and_keeps_it_to_sign(cli: Run, db: Database) -> None:
    code, out, _ = cli("webhooks", "add", URL, "--events", "ticket.created, call.ended")
    assert code == 0
    secret = out.split("secret: ")[1].split()[0]
    assert secret.startswith("whsec_") and "shown this once" in out
    with db.session() as s:
        stored = s.get(WebhookSubscription, 1)
        assert stored is not None
        assert (stored.secret, stored.events) == (secret, ["call.ended", "ticket.created"])
    (listed,) = jrun(cli, "webhooks", "list")
    assert listed == {
        "id": 1,
        "url": URL,
        "events": ["call.ended", "ticket.created"],
        "active": True,
        "created_at": listed["created_at"],
    }
    code, out, _ = cli("webhooks", "list")
    assert secret not in out and URL in out
    given = jrun(cli, "webhooks", "add", URL, "--events", "campaign.attempt", "--secret", "s" * 20)
    assert given["secret"] == "s" * 20


def test_add_refuses_unknown_events_and_other_schemes_in_one_line(cli: Run) -> None:
    code, _, err = cli("webhooks", "add", URL, "--events", "ticket.created,ticket.made")
    assert code == 1
    assert err == (
        "hotline: error: unknown event 'ticket.made' (one of: ticket.created, "
        "ticket.state_changed, call.ended, followup.recorded, followup.unsatisfied, "
        "campaign.attempt)\n"
    )
    code, _, err = cli("webhooks", "add", "file:///etc/passwd", "--events", "call.ended")
    assert (code, err) == (
        1,
        "hotline: error: webhook URL 'file:///etc/passwd': only http and https are delivered to\n",
    )
    code, _, err = cli("webhooks", "add", URL, "--events", "call.ended", "--secret", "short")
    assert (code, err) == (1, "hotline: error: a webhook secret has 16 to 128 characters\n")
    assert jrun(cli, "webhooks", "list") == []


def test_disable_enable_remove(cli: Run) -> None:
    cli("webhooks", "add", URL, "--events", "call.ended")
    assert jrun(cli, "webhooks", "disable", "1")["active"] is False
    assert jrun(cli, "webhooks", "enable", "1")["active"] is True
    assert cli("webhooks", "remove", "1")[1] == "webhook 1: removed\n"
    assert jrun(cli, "webhooks", "list") == []
    assert cli("webhooks", "remove", "1")[2] == "hotline: error: no webhook subscription 1\n"


def test_deliveries_are_listed_filtered_and_a_failed_one_retried(
    cli: Run, db: Database, tmp_path: Path
) -> None:
    seed_residents(db, tmp_path)
    cli("webhooks", "add", "http://127.0.0.1:9/a", "--events", "ticket.created")
    cli("webhooks", "add", "http://127.0.0.1:9/b", "--events", "ticket.created")
    made = jrun(
        cli, "tickets", "new", "--kind", "repair", "--category", "leak", "--unit", "3-1-201"
    )
    desk = WebhookDesk(db, Rules(), WebhookRetry(), WebhookRetry().max_age)
    assert desk.fan_out(datetime.now(UTC), 10) == 1
    with db.engine.begin() as c:
        c.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == 2)
            .values(status="failed", attempts=9, last_error="HTTP 500", last_status_code=500)
        )
    both = jrun(cli, "webhooks", "deliveries")
    assert [(d["id"], d["status"]) for d in both] == [(2, "failed"), (1, "pending")]
    assert both[0]["event"] == "ticket.created" and both[0]["idempotency_key"]
    assert both[0]["idempotency_key"] == both[1]["idempotency_key"]  # one event, two receivers
    failed = jrun(cli, "webhooks", "deliveries", "--status", "failed")
    assert [(d["id"], d["last_error"], d["last_status_code"]) for d in failed] == [
        (2, "HTTP 500", 500)
    ]
    assert [d["id"] for d in jrun(cli, "webhooks", "deliveries", "--subscription", "1")] == [1]
    assert len(jrun(cli, "webhooks", "deliveries", "--limit", "1")) == 1
    retried = jrun(cli, "webhooks", "retry", "2")
    assert (retried["status"], retried["attempts"]) == ("pending", 9)
    assert retried["next_try_at"] is not None
    claimed = desk.claim(datetime.now(UTC), 10)
    assert sorted(send.delivery_id for send in claimed) == [1, 2]
    assert all(f'"id":{made["id"]}' in send.body.decode() for send in claimed)
    code, _, err = cli("webhooks", "retry", "99")
    assert (code, err) == (1, "hotline: error: no webhook delivery 99\n")
    code, out, _ = cli("webhooks", "deliveries")
    assert out.splitlines()[0].split() == [
        "id",
        "webhook",
        "event",
        "status",
        "tries",
        "last",
        "try",
        "code",
        "error",
    ]


def test_a_delivered_delivery_is_not_sent_again_by_hand(
    cli: Run, db: Database, tmp_path: Path
) -> None:
    seed_residents(db, tmp_path)
    cli("webhooks", "add", "http://127.0.0.1:9/a", "--events", "ticket.created")
    cli("tickets", "new", "--kind", "repair", "--category", "leak", "--unit", "3-1-201")
    desk = WebhookDesk(db, Rules(), WebhookRetry(), WebhookRetry().max_age)
    (send,) = desk.due(datetime.now(UTC), 10)
    desk.record(datetime.now(UTC), [Tried(send.delivery_id, 204, None)])
    code, _, err = cli("webhooks", "retry", str(send.delivery_id))
    assert (code, err) == (
        1,
        f"hotline: error: webhook delivery {send.delivery_id} was delivered already\n",
    )
