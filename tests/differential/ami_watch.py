"""What a PBX says over AMI, heard by the test's own client, and the part of it hotline reads,
with what differs by nature (uniqueids, channel sequence numbers, seconds) made comparable."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asterisk_pbx import AMI_SECRET, AMI_USER
from twisted.internet.defer import Deferred, succeed

from hotline.core.event_bus import EventBus
from hotline.core.events import Event
from hotline.dialer.ami_client import AMIClient, AMIConfig
from hotline.dialer.ami_fields import FieldErrors
from hotline.dialer.ami_protocol import AMIMessage
from hotline.dialer.queue_events import PUBLISHED, QueueEvents, agent_namer

Match = Callable[[AMIMessage], bool]
# Local/101@test-agents-0000000a;1 -> Local/101@test-agents-<n>;1 (the sequence is the PBX's)
_SEQUENCE = re.compile(r"-[0-9a-f]{8}(?=;[12]$|$)")
_UNIQUEID = re.compile(r"^\d+\.\d+$")


def channel_form(name: str) -> str:
    return _SEQUENCE.sub("-<n>", name)


def value_form(value: str | None) -> str:
    """A uniqueid's form, not its value; other values as they are."""
    if value is None:
        return "<absent>"
    return "<uniqueid>" if _UNIQUEID.match(value) else value


class EventLog:
    """Every event of one PBX from login on; `next()` waits for one to come."""

    def __init__(self, reactor: Any, port: int) -> None:
        self.reactor = reactor
        config = AMIConfig(port=port, username=AMI_USER, secret=AMI_SECRET)
        self.client = AMIClient(config, reactor=reactor)
        self.events: list[AMIMessage] = []
        self._waiting: list[tuple[Match, Deferred[AMIMessage]]] = []
        self.client.on_any(self._heard)

    async def start(self) -> None:
        await self.client.start()

    async def stop(self) -> None:
        await self.client.stop()

    def _heard(self, event: AMIMessage) -> None:
        self.events.append(event)
        for waiting in list(self._waiting):
            match, d = waiting
            if match(event):
                self._waiting.remove(waiting)
                d.callback(event)

    def next(self, match: Match, timeout: float = 30) -> Deferred[AMIMessage]:
        """The next event `match` accepts (from now on)."""
        d: Deferred[AMIMessage] = Deferred()
        self._waiting.append((match, d))
        return d.addTimeout(timeout, self.reactor)

    def first(self, match: Match, timeout: float = 30) -> Deferred[AMIMessage]:
        """The first event `match` accepts, heard already or to come."""
        for heard in self.events:
            if match(heard):
                return succeed(heard)
        return self.next(match, timeout)

    def write(self, path: Path) -> None:
        """Everything heard, for the one who reads a failure."""
        text = "\n\n".join("\n".join(f"{k}: {v}" for k, v in e.headers) for e in self.events)
        path.write_text(text + "\n", encoding="utf-8")


def event(name: str, **fields: str) -> Match:
    """Matches an event by name and exact field values."""
    return lambda e: e.name == name and all(e.get(k) == v for k, v in fields.items())


def queue_view(events: list[AMIMessage], template: str) -> tuple[list[dict[str, Any]], int]:
    """What hotline's QueueEvents publishes from these events (each call's id replaced by the
    order it first appeared in, the time dropped), and how many fields it could not read."""
    bus, fields = EventBus(), FieldErrors()
    published: list[Event] = []
    bus.subscribe(published.append, PUBLISHED)
    translator = QueueEvents(bus, lambda: datetime.now(UTC), agent_namer(template), fields=fields)
    for message in events:
        translator.on_event(message)
    calls: dict[str, str] = {}
    view = []
    for item in published:
        row = {"type": type(item).__name__, **asdict(item)}
        row.pop("at")
        if "call_id" in row:
            row["call_id"] = calls.setdefault(row["call_id"], f"call-{len(calls) + 1}")
        view.append(row)
    return view, sum(fields.counts.values())
