"""Webhook delivery through a receiver that is down and a `hotline serve` killed twice (once with
requests in flight): every event is delivered at least once, with its idempotency key and a valid
signature, none lost (issue 13, Done when)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select
from twisted.internet.defer import DeferredList
from webhook_support import SECRET, Receiver, listen, verify

from hotline.app import App
from hotline.core.models import WebhookDelivery, WebhookEvent
from hotline.core.tickets import move_ticket
from hotline.core.webhooks import add_subscription
from hotline.net.tcp import stop_listening

from pbx import call, estate_csv, heard_confirmed, phone
from reactor_run import run_on_reactor
from service_process import ServiceFactory, free_port, in_thread, until

CALLS = 6
# Quick retries and a short lease (2 x timeout + poll = 2.2 s), so the test takes seconds.
ENV = {
    "HOTLINE_WEBHOOKS_POLL_SECONDS": "0.2",
    "HOTLINE_WEBHOOKS_TIMEOUT_SECONDS": "1",
    "HOTLINE_WEBHOOKS_RETRY_FIRST_SECONDS": "0.3",
    "HOTLINE_WEBHOOKS_RETRY_CAP_SECONDS": "1",
}


def outbox(app: App) -> dict[str, str]:
    """uuid -> type of every event written."""
    with app.db.session() as s:
        return {key: kind for key, kind in s.execute(select(WebhookEvent.uuid, WebhookEvent.type))}


def statuses(app: App) -> Counter[str]:
    with app.db.session() as s:
        return Counter(s.scalars(select(WebhookDelivery.status)))


def tried(app: App) -> int:
    with app.db.session() as s:
        return sum(s.scalars(select(WebhookDelivery.attempts)))


@pytest.mark.slow
def test_receiver_down_and_kill9_lose_no_webhook(
    services: ServiceFactory, db_url: str, backend: str
) -> None:
    service = services(db_url, **ENV)
    app = service.init(estate_csv(CALLS))
    port = free_port()  # the receiver's; nobody listens there at first
    with app.db.session() as s:
        add_subscription(
            s,
            f"http://127.0.0.1:{port}/hook",
            "ticket.created,ticket.state_changed,call.ended",
            app.now(),
            SECRET,
        )
    receiver = Receiver()
    in_flight: list[str] = []

    async def body(reactor: Any) -> None:
        await service.start_ready(reactor)
        calls = [call(reactor, service.fastagi_port, phone(n)) for n in range(CALLS)]
        results = [r for ok, r in await DeferredList(calls, consumeErrors=True) if ok]
        assert len(results) == CALLS and all(heard_confirmed(r) for r in results)
        # Every call's events are tried against the receiver that is down, then the kill.
        await until(
            reactor,
            lambda: in_thread(reactor, tried, app),
            "deliveries tried",
            timeout=30,
        )
        await until(
            reactor,
            lambda: in_thread(reactor, lambda: sum(statuses(app).values()) == 2 * CALLS),
            "a delivery per event",
            timeout=30,
        )
        service.kill9()
        with app.db.session() as s:  # a change while the service is down (the CLI's)
            move_ticket(s, app.rules, 1, "dispatched", app.now(), by="老王")
        # The receiver comes up but holds its first requests: the service is killed mid-send.
        receiver.hold = True
        receiving = listen(reactor, receiver, port)
        await service.start_ready(reactor)
        await until(reactor, lambda: receiver.requests, "a delivery in flight", timeout=30)
        service.kill9()
        in_flight.extend(receiver.keys())
        receiver.hold = False
        await service.start_ready(reactor)

        def all_delivered() -> bool:
            found = statuses(app)
            return found["delivered"] == 2 * CALLS + 1 and sum(found.values()) == 2 * CALLS + 1

        await until(
            reactor,
            lambda: in_thread(reactor, all_delivered),
            "every event delivered",
            timeout=60,
            describe=lambda: (statuses(app), service.log_tail(10)),
        )
        await stop_listening(receiving)

    run_on_reactor(body, timeout=180)
    written = outbox(app)
    assert Counter(written.values()) == {
        "ticket.created": CALLS,
        "call.ended": CALLS,
        "ticket.state_changed": 1,
    }
    received = Counter(receiver.keys())
    assert set(received) == set(written)  # none lost, nothing else
    assert in_flight and all(received[key] >= 2 for key in in_flight)  # sent again, same key
    for got in receiver.requests:
        h = got.headers
        assert h["idempotency-key"] == h["hotline-delivery"] == got.json()["id"]
        assert h["hotline-event"] == written[h["idempotency-key"]] == got.json()["type"]
        assert verify(SECRET, h["hotline-signature"], got.body)
    app.db.dispose()
