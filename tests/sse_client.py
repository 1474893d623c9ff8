"""A server-sent events client for tests and benchmarks: one TCP connection to the live
stream, its messages parsed as they arrive (with the time each was read)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, DeferredQueue
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.protocols.basic import LineReceiver

if TYPE_CHECKING:
    from hotline.live_stream import LiveStream


@dataclass(frozen=True)
class SSE:
    id: str | None
    event: str
    data: Any
    received: float  # time.perf_counter() when its last line was read


@dataclass(frozen=True)
class Kept:
    """A message in the live stream's ring buffer, its data read back from its wire form."""

    seq: int
    type: str
    agents: tuple[str, ...]
    data: Any


def kept(live: LiveStream) -> list[Kept]:
    return [
        Kept(seq, kind, agents, json.loads(wire.split(b"\ndata: ", 1)[1]))
        for seq, _at, kind, agents, _restricted, wire in live.buffer
    ]


class SSEClient(LineReceiver):
    """HTTP/1.0, so the body comes unchunked: the stream's lines as they are."""

    delimiter = b"\n"

    def __init__(self, path: str, token: str, last_event_id: str | None = None) -> None:
        self.path, self.token, self.last_event_id = path, token, last_event_id
        self.messages: DeferredQueue[SSE] = DeferredQueue()
        self.status: int | None = None
        self.comments: list[str] = []
        self.closed: Deferred[None] = Deferred()
        self.opened: Deferred[int] = Deferred()  # the response's headers are in: subscribed
        self._in_body = False
        self._fields: dict[str, str] = {}

    def connectionMade(self) -> None:
        extra = f"Last-Event-ID: {self.last_event_id}\r\n" if self.last_event_id else ""
        request = (
            f"GET {self.path} HTTP/1.0\r\nHost: hotline.test\r\n"
            f"Authorization: Bearer {self.token}\r\nAccept: text/event-stream\r\n{extra}\r\n"
        )
        assert self.transport is not None
        self.transport.write(request.encode())

    def lineReceived(self, line: bytes) -> None:
        text = line.decode().removesuffix("\r")
        if not self._in_body:
            if self.status is None:
                self.status = int(text.split()[1])
            elif text == "":
                self._in_body = True
                self.opened.callback(self.status)
            return
        self._body_line(text)

    def _body_line(self, text: str) -> None:
        if text == "":
            if "event" in self._fields or "data" in self._fields:
                f, self._fields = self._fields, {}
                event = SSE(
                    f.get("id"),
                    f.get("event", "message"),
                    json.loads(f.get("data", "null")),
                    time.perf_counter(),
                )
                self.messages.put(event)
            return
        if text.startswith(":"):
            self.comments.append(text[1:].strip())
            return
        key, _, value = text.partition(":")
        self._fields[key] = value.removeprefix(" ")

    def connectionLost(self, reason: Any = None) -> None:
        if not self.opened.called:
            self.opened.errback(ConnectionError("closed before the response"))
        if not self.closed.called:
            self.closed.callback(None)


async def open_stream(
    reactor: Any, port: int, token: str, last_event_id: str | None = None, query: str = ""
) -> SSEClient:
    """A subscribed stream: returns once the response's headers are in."""
    client = SSEClient(f"/api/v1/events/stream{query}", token, last_event_id)
    await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
    await client.opened
    return client


async def next_of(client: SSEClient, event: str) -> SSE:
    """The next message of type ``event`` (others read and dropped)."""
    while True:
        message = await client.messages.get()
        if message.event == event:
            return message
