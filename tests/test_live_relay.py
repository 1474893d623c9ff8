"""The live events between instances over PostgreSQL LISTEN/NOTIFY, in one process: two relays
on one database, an event from one reaching the other (a large one by reference), the PBX's
own events left to an instance with its own AMI link, and a dropped connection reconnected.
The typed events survive their JSON (core/event_codec.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from hotline.core.db import Database
from hotline.core.event_codec import decode, encode
from hotline.core.events import (
    CallEnded,
    CallerIdentified,
    CallOffered,
    Event,
    QueueMemberState,
    TicketChanged,
)
from hotline.live_relay import LiveRelay
from hotline.live_state import LiveState

from reactor_run import run_on_reactor

AT = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
OFFER = CallOffered(call_id="1790000000.1", agent="101", queue="repairs", caller="5551234", at=AT)


@pytest.mark.parametrize(
    "event",
    [
        OFFER,
        CallerIdentified(
            call_id="1.2",
            unit="3-1-201",
            how="chosen",
            resident_id=4,
            resident_name="张伟",
            units=("3-1-201", "5-2-1101"),
        ),
        CallEnded(
            call_id="1.2",
            direction="in",
            disposition="to_agent",
            seconds=41.5,
            path=("lang", "main:0"),
            ticket_id=None,
        ),
        QueueMemberState(
            agent="101",
            name=None,
            queue="duty",
            device="free",
            paused=True,
            paused_reason="午休",
            wrapup_seconds=10,
            at=AT,
        ),
    ],
)
def test_an_event_survives_its_json(event: Event) -> None:
    assert decode(encode(event)) == event


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "Popen", "args": "sh"}',
        '{"type": "CallOffered", "call_id": "1", "agent": "1", "queue": "q", "caller": null,'
        ' "at": "2026-12-02T02:00:00+00:00", "shell": "x"}',
        '{"type": "CallOffered", "call_id": "1"}',
        "[1, 2]",
    ],
)
def test_what_is_not_an_event_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        decode(text)


def _relay(db: Database, reactor: Any, got: list[Event], own_pbx: bool = False) -> LiveRelay:
    return LiveRelay(db, reactor, got.append, lambda: own_pbx, lambda: AT, LiveState.EVENT_TYPES)


async def _until(reactor: Any, check: Any, seconds: float = 10.0) -> None:
    from twisted.internet.task import deferLater

    waited = 0.0
    while not check():
        assert waited < seconds, "timed out"
        await deferLater(reactor, 0.02, lambda: None)
        waited += 0.02


def test_an_event_reaches_the_other_instance(pg_url: str) -> None:
    db = Database(pg_url)
    big = CallerIdentified(
        call_id="1.3",
        unit="1-1-101",
        how="chosen",
        resident_id=None,
        resident_name=None,
        units=tuple(f"{n}-1-{n:04d}" for n in range(1500)),
    )
    ticket = TicketChanged(
        ticket_id=9, kind="repair", state="new", unit=None, restricted=False, at=AT
    )

    stored_before = _stored(db)

    async def body(reactor: Any) -> dict[str, Any]:
        got_a: list[Event] = []
        got_b: list[Event] = []
        got_c: list[Event] = []
        a = _relay(db, reactor, got_a)
        b = _relay(db, reactor, got_b)
        c = _relay(db, reactor, got_c, own_pbx=True)
        for relay in (a, b, c):
            relay.start()
        try:
            await _until(reactor, lambda: _listening(db) >= 3)
            for event in (OFFER, big, ticket):
                a.publish(event)
            await _until(reactor, lambda: len(got_b) == 3 and len(got_c) == 2)
            # The database drops the listeners' connections: they come back.
            with db.engine.begin() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                    )
                )
            await _until(reactor, lambda: _listening(db) >= 3)
            a.publish(ticket)
            await _until(reactor, lambda: len(got_b) == 4)
            return {"a": got_a, "b": got_b, "c": got_c, "ignored": c.ignored}
        finally:
            for relay in (a, b, c):
                relay.stop()

    out = run_on_reactor(body, timeout=60)
    assert out["a"] == []  # its own events do not come back
    assert out["b"] == [OFFER, big, ticket, ticket]
    assert out["c"] == [big, ticket, ticket]  # c hears the PBX itself
    assert out["ignored"] == 1
    assert _stored(db) == stored_before + 1  # the large one went by reference
    db.dispose()


def _stored(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM live_event_payloads")).scalar() or 0)


def _listening(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                )
            ).scalar()
            or 0
        )
