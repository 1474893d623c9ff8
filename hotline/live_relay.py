"""The live events between service instances sharing a PostgreSQL database: each instance
NOTIFYs the events its live state reads and LISTENs for the others' (core/live_notify.py), so
a console connected to instance B sees the calls instance A's flows and dialer handle. No
other broker. Off on SQLite.

Two threads of its own, each with its own connection: the sender drains a queue (the events of
a reactor turn go in one transaction), the listener blocks on ``notifies()`` and hands each
event to the reactor (``callFromThread``). Either reconnects when the database drops; events
sent while it was away are lost to the other instances (their snapshots catch up from the
next events; the stream does not replay across instances).

The PBX's queue events are every AMI client's own: an instance with its own AMI link takes
them from the PBX, not from another instance (it would see each twice).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from twisted.python.failure import Failure

from hotline.core import live_notify
from hotline.core.db import Database
from hotline.core.event_codec import decode, encode
from hotline.core.events import Event
from hotline.dialer.queue_events import PUBLISHED as PBX_EVENTS
from hotline.log_once import LogOnce

log = logging.getLogger(__name__)

LISTEN_POLL_S = 1.0  # how often a silent listener looks whether it must stop
RECONNECT_S = (0.5, 1.0, 2.0, 5.0)  # waits between reconnects, the last repeated
_STOP = object()


class LiveRelay:
    def __init__(
        self,
        db: Database,
        reactor: Any,
        deliver: Callable[[Event], None],
        has_own_pbx: Callable[[], bool],
        clock: Callable[[], datetime],
        relayed: tuple[type[Event], ...],
    ) -> None:
        self.db, self.reactor, self.deliver = db, reactor, deliver
        self.has_own_pbx, self.clock, self.relayed = has_own_pbx, clock, relayed
        self.origin = uuid.uuid4().hex[:12]
        self._outbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._send_log = LogOnce(log, "NOTIFY of live events")
        self._listen_log = LogOnce(log, "LISTEN for live events")
        self.sent = self.received = self.ignored = 0

    def start(self) -> None:
        for target, name in ((self._send_loop, "send"), (self._listen_loop, "listen")):
            thread = threading.Thread(target=target, name=f"hotline-live-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stopping.set()
        self._outbox.put(_STOP)
        for thread in self._threads:
            thread.join(timeout=LISTEN_POLL_S * 3)
        self._threads.clear()

    # --- out ---------------------------------------------------------------------------------
    def publish(self, event: Event) -> None:
        """A local bus event (reactor thread): queued for the sender."""
        if isinstance(event, self.relayed):
            self._outbox.put(event)

    def _payload(self, event: Event) -> str:
        text = json.dumps({"origin": self.origin, "event": encode(event)}, ensure_ascii=False)
        if len(text.encode()) <= live_notify.MAX_PAYLOAD:
            return text
        with self.db.session() as session:
            reference = live_notify.store_large(session, text, self.clock())
        return json.dumps({"origin": self.origin, "ref": reference})

    def _send_loop(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            try:
                with live_notify.connect(self.db.url) as conn:
                    attempt = 0
                    while True:
                        batch = [self._outbox.get()]
                        while not self._outbox.empty():
                            batch.append(self._outbox.get())
                        if any(item is _STOP for item in batch):
                            return
                        events = [e for e in batch if isinstance(e, Event)]
                        live_notify.notify(conn, [self._payload(e) for e in events])
                        self.sent += len(events)
                        self._send_log.succeeded(None)
            except Exception as exc:  # the database dropped: connect again
                self._send_log.failed(Failure(exc))
                attempt = self._wait(attempt)

    # --- in ----------------------------------------------------------------------------------
    def _listen_loop(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            try:
                with live_notify.connect(self.db.url) as conn:
                    for payload in live_notify.listen(conn, LISTEN_POLL_S):
                        if self._stopping.is_set():
                            return
                        attempt = 0
                        self._listen_log.succeeded(None)
                        if payload is not None:
                            self._received(payload)
            except Exception as exc:
                self._listen_log.failed(Failure(exc))
                attempt = self._wait(attempt)

    def _received(self, payload: str) -> None:
        note = json.loads(payload)
        if not isinstance(note, dict) or note.get("origin") == self.origin:
            return  # our own NOTIFY comes back to us too
        text = note.get("event")
        if text is None and isinstance(note.get("ref"), str):
            with self.db.session() as session:
                stored = live_notify.load_large(session, note["ref"])
            text = json.loads(stored)["event"] if stored else None
        if not isinstance(text, str):
            return
        try:
            event = decode(text)
        except ValueError as exc:
            log.warning("live relay: an event from another instance did not decode: %s", exc)
            return
        self.reactor.callFromThread(self._deliver, event)

    def _deliver(self, event: Event) -> None:
        if isinstance(event, PBX_EVENTS) and self.has_own_pbx():
            self.ignored += 1
            return
        self.received += 1
        self.deliver(event)

    def _wait(self, attempt: int) -> int:
        self._stopping.wait(RECONNECT_S[min(attempt, len(RECONNECT_S) - 1)])
        return attempt + 1
