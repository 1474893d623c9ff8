"""The live stream's fan-out: each event, through the live state, becomes messages numbered in
one sequence, kept in a ring buffer for reconnecting clients and written to every subscriber
allowed to see them (server-sent events, docs/api.md "Live events").

A subscriber that does not read (its socket's buffer full, so Twisted pauses us) gets its
messages queued up to a bound; past it the connection is dropped, and the client reconnects
with Last-Event-ID to a replay, or a reset. A closed connection unsubscribes at once.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import LoopingCall
from twisted.web.server import NOT_DONE_YET, Request
from zope.interface import implementer

from hotline.core.events import CallInProgress, CallOffered, Event
from hotline.core.users import Principal, UserRole
from hotline.net.tcp import connected

from .live_state import CallContext, LiveState, Message

log = logging.getLogger(__name__)

KEEPALIVE_S = 15.0
KEEP_SECONDS = 300.0  # the ring buffer holds at least the last 5 minutes ...
KEEP_COUNT = 10_000  # ... and at least this many messages
HARD_CAP = 200_000  # and never more, however busy the last 5 minutes were
MAX_PENDING = 2_000  # messages queued for a paused subscriber before it is dropped
RESET = b"event: reset\ndata: {}\n\n"
KEEPALIVE = b": keepalive\n\n"
Lookup = Callable[[str], "Deferred[tuple[CallContext, str] | None]"]


# A message as the ring buffer keeps it (up to 200,000): (seq, at, type, agents, restricted,
# wire). Plain values in a plain tuple, which the garbage collector stops tracking after its
# first pass: with the message, its agents' set and its data in a dataclass, at hundreds of
# calls a second they were most of what its full passes walked, console connected or not.
Entry = tuple[int, float, str, tuple[str, ...], bool, bytes]


BOARD = frozenset({"agent.state", "queue.state"})  # the queue board: every agent's


def visible(kind: str, agents: Collection[str], restricted: bool, who: Principal) -> bool:
    """The contract's filter: supervisors and admins see everything; an agent the calls
    offered to or taken by their own extension (`agents`), every agent's and queue's state, and
    tickets and indexed recordings but restricted complaints' (not the campaigns' figures)."""
    if who.role != UserRole.AGENT:
        return True
    if kind.startswith("call."):
        return who.extension is not None and who.extension in agents
    if kind in ("ticket.changed", "recording.indexed"):
        return not restricted
    return kind in BOARD


@implementer(IPushProducer)
@dataclass(eq=False)
class Subscriber:
    request: Request
    who: Principal
    hub: LiveStream
    paused: bool = False
    pending: deque[bytes] = field(default_factory=deque)
    closed: bool = False

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        if not self.paused:
            self.request.write(data)
            return
        self.pending.append(data)
        if len(self.pending) > MAX_PENDING:
            self.hub.dropped += 1
            log.info("live stream: %s reads too slowly; dropped", self.who.name)
            self.close()
            if self.request.channel is not None:  # gone already when None
                connected(self.request.channel).abortConnection()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.pending.clear()
            self.hub.subscribers.discard(self)

    # IPushProducer: Twisted pauses us while the client's socket buffer is full.
    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        while self.pending and not self.paused and not self.closed:
            self.request.write(self.pending.popleft())

    def stopProducing(self) -> None:
        self.close()


class LiveStream:
    def __init__(
        self,
        state: LiveState,
        reactor: Any,
        lookup: Lookup | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.state, self.reactor, self.lookup, self.wall = state, reactor, lookup, wall
        state.emit = self._publish
        # Ids start at the start time in ms x 1000: a restarted service's ids are all above
        # the old ones, so an old Last-Event-ID is too old and gets a reset, never a wrong replay.
        self.seq = int(wall() * 1000) * 1000
        self.first_seq = self.seq + 1
        self.buffer: deque[Entry] = deque()
        self.subscribers: set[Subscriber] = set()
        self.dropped = 0
        self._backlog: deque[Event] | None = None  # events held while a call's context loads
        self._keepalive = LoopingCall(self._ping)
        self._keepalive.clock = reactor

    def start(self) -> None:
        self._keepalive.start(KEEPALIVE_S, now=False)

    def stop(self) -> None:
        if self._keepalive.running:
            self._keepalive.stop()
        for sub in list(self.subscribers):
            sub.close()
            sub.request.finish()

    # --- in: events ---------------------------------------------------------------------------
    def take(self, event: Event) -> None:
        """An event from the bus (or another instance): in order, a screen pop of a call whose
        flow this instance did not see waiting for the call's record from the database."""
        if self._backlog is not None:
            self._backlog.append(event)
            return
        if (
            isinstance(event, (CallOffered, CallInProgress))
            and self.lookup is not None
            and not self.state.knows(event.call_id)
        ):
            self._backlog = deque([event])
            self.lookup(event.call_id).addBoth(self._looked_up, event.call_id)
            return
        self.state.apply(event)

    def _looked_up(self, found: object, call_id: str) -> None:
        if isinstance(found, tuple):
            context, direction = found
            self.state.learn(call_id, context, direction)
        elif found is not None:  # a Failure: the pop goes out without the record
            log.warning("live stream: no call record for %s: %s", call_id, found)
        backlog, self._backlog = self._backlog or deque(), None
        while backlog:
            self.take(backlog.popleft())
            if self._backlog is not None:  # another lookup: the rest waits behind it
                self._backlog.extend(backlog)
                return

    def _publish(self, message: Message) -> None:
        self.seq += 1
        data = json.dumps(message.data, ensure_ascii=False, separators=(",", ":"))
        wire = f"id: {self.seq}\nevent: {message.type}\ndata: {data}\n\n".encode()
        now = self.wall()
        kind, agents, restricted = message.type, tuple(message.agents), message.restricted
        self.buffer.append((self.seq, now, kind, agents, restricted, wire))
        self._trim(now)
        for sub in list(self.subscribers):
            if visible(kind, agents, restricted, sub.who):
                sub.send(wire)

    def _trim(self, now: float) -> None:
        buffer = self.buffer
        while len(buffer) > HARD_CAP or (
            len(buffer) > KEEP_COUNT and buffer[0][1] < now - KEEP_SECONDS
        ):
            buffer.popleft()
        if buffer:
            self.first_seq = buffer[0][0]

    def _ping(self) -> None:
        for sub in list(self.subscribers):
            sub.send(KEEPALIVE)

    # --- out: subscribers ---------------------------------------------------------------------
    def open(self, request: Request, who: Principal, last_id: str | None) -> int:
        """Serve ``request`` as a stream for ``who`` from after ``last_id`` (NOT_DONE_YET)."""
        request.setHeader("Content-Type", "text/event-stream; charset=utf-8")
        request.setHeader("Cache-Control", "no-store")
        request.setHeader("X-Accel-Buffering", "no")  # a proxy in front must not buffer it
        request.setHeader("X-Content-Type-Options", "nosniff")
        sub = Subscriber(request, who, self)
        request.registerProducer(sub, True)
        request.notifyFinish().addBoth(lambda _: sub.close())
        request.write(b"retry: 3000\n\n")
        for wire in self._replay(who, last_id):
            request.write(wire)
        self.subscribers.add(sub)
        return NOT_DONE_YET

    def _replay(self, who: Principal, last_id: str | None) -> list[bytes]:
        if last_id is None or not last_id.strip():
            return []
        text = last_id.strip()
        last = int(text) if text.isascii() and text.isdigit() else -1
        if last < self.first_seq - 1 or last > self.seq:  # too old, or another run's
            return [RESET]
        return [
            wire
            for seq, _at, kind, agents, restricted, wire in self.buffer
            if seq > last and visible(kind, agents, restricted, who)
        ]
