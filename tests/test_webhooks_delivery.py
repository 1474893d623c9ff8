"""Webhook delivery: the desk's claims and backoff, and the service's loop POSTing to a real
twisted.web receiver on a local port (the test's reactor; the loop's clock is the test's)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

import pytest
from sqlalchemy import update
from twisted.internet.threads import deferToThreadPool
from webhook_support import (
    SECRET,
    Receiver,
    closed_port,
    deliveries,
    hook_url,
    listen,
    subscribe,
    verify,
)

from hotline.core.db import Database
from hotline.core.models import WebhookDelivery, WebhookSubscription
from hotline.core.rules import Rules
from hotline.core.tickets import Intake, open_ticket
from hotline.core.vocabulary import DomainError
from hotline.core.webhook_desk import WebhookDesk
from hotline.core.webhook_retry import WebhookRetry
from hotline.core.webhooks import add_subscription, set_active
from hotline.net.tcp import stop_listening
from hotline.webhooks.deliverer import Deliverer
from hotline.webhooks.sender import Sender

from campaign_factories import MORNING, seed
from reactor_run import run_on_reactor

T0 = MORNING
RETRY = WebhookRetry(first_seconds=10, cap_seconds=60, max_age_hours=1, jitter=0.2)
LEASE = timedelta(seconds=30)


@pytest.fixture
def seeded(db: Database, tmp_path: Path) -> Database:
    seed(db, tmp_path)
    return db


def new_ticket(db: Database, rules: Rules, at: datetime = T0) -> int:
    with db.session() as s:
        return open_ticket(s, rules, Intake("repair", "leak", at, unit="3-1-201")).id


class Loop:
    """The service's delivery loop on the test's reactor, its clock set by the test."""

    def __init__(
        self, db: Database, rules: Rules, reactor: Any, timeout: float = 5.0, batch: int = 10
    ) -> None:
        self.now = T0
        self.desk = WebhookDesk(db, rules, RETRY, LEASE, seed=1)

        def run(fn: Any, *args: Any) -> Any:
            return deferToThreadPool(reactor, reactor.getThreadPool(), fn, *args)

        sender = Sender(reactor, timeout)
        self.deliverer = Deliverer(self.desk, sender, run, lambda: self.now, reactor, batch)

    async def tick(self, at: datetime | None = None) -> None:
        self.now = at or self.now
        await self.deliverer.tick()


def only(db: Database) -> WebhookDelivery:
    (delivery,) = deliveries(db)
    return delivery


# the desk ---------------------------------------------------------------------------------------
def test_the_backoff_doubles_to_its_cap_with_jitter() -> None:
    rng = Random(7)
    for attempts, base in [(1, 10), (2, 20), (3, 40), (4, 60), (9, 60)]:
        waits = [RETRY.delay(attempts, rng).total_seconds() for _ in range(50)]
        assert base * 0.8 <= min(waits) and max(waits) <= base * 1.2
        assert max(waits) - min(waits) > base * 0.1  # jittered, not all at once


def test_a_claimed_delivery_is_due_again_once_its_sender_s_lease_ends(
    seeded: Database, rules: Rules
) -> None:
    subscribe(seeded, "ticket.created")
    new_ticket(seeded, rules)
    desk = WebhookDesk(seeded, rules, RETRY, LEASE)
    (first,) = desk.due(T0, 10)
    assert desk.due(T0 + LEASE - timedelta(seconds=1), 10) == []  # its sender has it
    (again,) = desk.due(T0 + LEASE, 10)  # the sender was killed mid-send
    assert (again.key, again.body, again.attempt) == (first.key, first.body, 2)
    assert json.loads(first.body)["id"] == first.key


def test_only_active_subscriptions_that_existed_get_an_event(
    seeded: Database, rules: Rules
) -> None:
    early = subscribe(seeded, "ticket.created")
    subscribe(seeded, "call.ended")  # another type
    new_ticket(seeded, rules)
    subscribe(seeded, "ticket.created")  # too late for it
    desk = WebhookDesk(seeded, rules, RETRY, LEASE)
    assert desk.fan_out(T0, 10) == 1
    assert [d.subscription_id for d in deliveries(seeded)] == [early]
    with seeded.session() as s:
        set_active(s, early, False)
    assert desk.claim(T0, 10) == []  # its delivery waits while it is disabled
    with seeded.session() as s:
        set_active(s, early, True)
    assert len(desk.claim(T0, 10)) == 1


def test_urls_other_than_http_are_refused_when_added(seeded: Database) -> None:
    for url in ("ftp://example.com/x", "file:///etc/passwd", "javascript:alert(1)", "http:///x"):
        with seeded.session() as s, pytest.raises(DomainError, match="webhook URL"):
            add_subscription(s, url, "ticket.created", T0)


def test_a_url_no_longer_http_fails_before_any_send(seeded: Database, rules: Rules) -> None:
    sid = subscribe(seeded, "ticket.created")
    new_ticket(seeded, rules)
    with seeded.engine.begin() as c:  # changed behind the CLI's back
        c.execute(
            update(WebhookSubscription)
            .where(WebhookSubscription.id == sid)
            .values(url="gopher://127.0.0.1/x")
        )
    assert WebhookDesk(seeded, rules, RETRY, LEASE).due(T0, 10) == []
    delivery = only(seeded)
    assert delivery.status == "failed" and "only http and https" in (delivery.last_error or "")


# over the network -------------------------------------------------------------------------------
def test_a_delivery_is_signed_and_carries_its_idempotency_key(
    seeded: Database, rules: Rules
) -> None:
    receiver = Receiver(204)  # any 2xx; this one without a body

    async def body(reactor: Any) -> None:
        port = listen(reactor, receiver)
        subscribe(seeded, "ticket.created", hook_url(port))
        ticket_id = new_ticket(seeded, rules)
        await Loop(seeded, rules, reactor).tick()
        await stop_listening(port)
        (got,) = receiver.requests
        h = got.headers
        assert h["hotline-event"] == "ticket.created" and h["content-type"] == "application/json"
        assert h["idempotency-key"] == h["hotline-delivery"] == got.json()["id"]
        assert got.json()["data"]["id"] == ticket_id and got.json()["type"] == "ticket.created"
        assert h["hotline-signature"].startswith(f"t={h['hotline-timestamp']},v1=")
        assert int(h["hotline-timestamp"]) == int(T0.timestamp())
        assert verify(SECRET, h["hotline-signature"], got.body)
        assert not verify(SECRET + "x", h["hotline-signature"], got.body)
        assert not verify(SECRET, h["hotline-signature"], got.body.replace(b"leak", b"fire"))

    run_on_reactor(body)
    delivery = only(seeded)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 204)
    assert delivery.delivered_at == T0


def test_a_receiver_down_is_retried_with_backoff_until_it_answers(
    seeded: Database, rules: Rules
) -> None:
    receiver = Receiver()

    async def body(reactor: Any) -> None:
        port_number = await closed_port(reactor)  # connections are refused
        subscribe(seeded, "ticket.created", hook_url(port_number))
        new_ticket(seeded, rules)
        loop = Loop(seeded, rules, reactor)
        await loop.tick()
        first = only(seeded)
        assert (first.status, first.attempts, first.last_status_code) == ("pending", 1, None)
        assert "refused" in (first.last_error or "").lower()
        wait = first.next_try_at - T0
        assert timedelta(seconds=8) <= wait <= timedelta(seconds=12)
        await loop.tick(first.next_try_at - timedelta(seconds=1))  # not due: nothing sent
        assert only(seeded).attempts == 1
        await loop.tick(first.next_try_at)
        second = only(seeded)
        assert second.attempts == 2
        assert timedelta(seconds=16) <= second.next_try_at - loop.now <= timedelta(seconds=24)
        port = listen(reactor, receiver, port_number)  # the receiver is back
        await loop.tick(second.next_try_at)
        await stop_listening(port)

    run_on_reactor(body)
    delivered = only(seeded)
    assert (delivered.status, delivered.attempts, delivered.last_error) == ("delivered", 3, None)
    (got,) = receiver.requests
    assert got.json()["type"] == "ticket.created"


def test_a_delivery_failing_past_its_event_s_max_age_is_given_up(
    seeded: Database, rules: Rules
) -> None:
    async def body(reactor: Any) -> None:
        subscribe(seeded, "ticket.created", hook_url(await closed_port(reactor)))
        new_ticket(seeded, rules)
        loop = Loop(seeded, rules, reactor)
        await loop.tick(T0 + RETRY.max_age - timedelta(seconds=5))

    run_on_reactor(body)
    delivery = only(seeded)
    assert (delivery.status, delivery.attempts) == ("failed", 1)


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed(seeded: Database, rules: Rules, code: int) -> None:
    receiver = Receiver(code, location=b"/elsewhere")

    async def body(reactor: Any) -> None:
        port = listen(reactor, receiver)
        subscribe(seeded, "ticket.created", hook_url(port))
        new_ticket(seeded, rules)
        await Loop(seeded, rules, reactor).tick()
        await stop_listening(port)

    run_on_reactor(body)
    assert [r.path for r in receiver.requests] == ["/hook"]  # never /elsewhere
    delivery = only(seeded)
    assert (delivery.status, delivery.last_status_code) == ("pending", code)
    assert delivery.last_error == f"HTTP {code}: redirects are not followed"


def test_a_receiver_that_does_not_answer_fails_the_try_at_the_timeout(
    seeded: Database, rules: Rules
) -> None:
    receiver = Receiver()
    receiver.hold = True

    async def body(reactor: Any) -> None:
        port = listen(reactor, receiver)
        subscribe(seeded, "ticket.created", hook_url(port))
        new_ticket(seeded, rules)
        await Loop(seeded, rules, reactor, timeout=0.3).tick()
        await stop_listening(port)

    run_on_reactor(body)
    delivery = only(seeded)
    assert (delivery.status, delivery.last_error) == ("pending", "no answer within 0.3 s")
    assert len(receiver.requests) == 1


def test_a_round_sends_batch_after_batch_until_none_is_left(seeded: Database, rules: Rules) -> None:
    receiver = Receiver()

    async def body(reactor: Any) -> None:
        port = listen(reactor, receiver)
        subscribe(seeded, "ticket.created", hook_url(port))
        for _ in range(5):
            new_ticket(seeded, rules)
        await Loop(seeded, rules, reactor, batch=2).tick()
        await stop_listening(port)

    run_on_reactor(body)
    assert len(set(receiver.keys())) == 5
    assert [d.status for d in deliveries(seeded)] == ["delivered"] * 5
