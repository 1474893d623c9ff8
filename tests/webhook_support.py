"""Webhook subscriptions and the outbox's events, for the webhook tests."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IListeningPort
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from hotline.core.db import Database
from hotline.core.models import WebhookDelivery, WebhookEvent
from hotline.core.webhooks import add_subscription
from hotline.net.tcp import stop_listening

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


class Receiver(Resource):
    """A subscriber's endpoint on the test's reactor: records every POST, answers `code`
    (with `location`, for a redirect), or holds the request unanswered while `hold` is set."""

    isLeaf = True

    def __init__(self, code: int = 200, location: bytes | None = None) -> None:
        super().__init__()
        self.code, self.location = code, location
        self.hold = False
        self.requests: list[Received] = []

    def render_POST(self, request: Request) -> bytes | int:
        headers = {
            name.decode().lower(): values[0].decode()
            for name, values in request.requestHeaders.getAllRawHeaders()
        }
        assert request.content is not None
        self.requests.append(Received(request.path.decode(), headers, request.content.read()))
        if self.hold:
            return NOT_DONE_YET
        request.setResponseCode(self.code)
        if self.location is not None:
            request.setHeader(b"Location", self.location)
        return b"" if self.code == 204 else b"thanks"

    def keys(self) -> list[str]:
        return [r.headers["idempotency-key"] for r in self.requests]


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def listen(reactor: Any, receiver: Resource, port: int = 0) -> IListeningPort:
    listening: IListeningPort = reactor.listenTCP(port, Site(receiver), interface="127.0.0.1")
    return listening


def hook_url(port: IListeningPort | int) -> str:
    """The receiver's URL on this port."""
    if not isinstance(port, int):
        address = port.getHost()
        assert isinstance(address, IPv4Address)
        port = address.port
    return f"http://127.0.0.1:{port}/hook"


async def closed_port(reactor: Any) -> int:
    """A loopback port nobody listens on (yet): connections to it are refused."""
    probe = listen(reactor, Resource())
    url = hook_url(probe)
    await stop_listening(probe)
    return int(url.rsplit(":", 1)[1].split("/")[0])
