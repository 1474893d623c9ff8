"""The screen pop of a call another instance's flow handled: what its stored record says, and
the live stream holding the pop (and what follows it) until the record is read."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sse_client import kept
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from hotline.core.call_records import call_facts
from hotline.core.db import Database
from hotline.core.events import CallConnected, CallOffered
from hotline.core.intake import CallSummary, IntakeDesk
from hotline.core.rules import Rules
from hotline.core.spool import Spool
from hotline.live_state import CallContext, LiveState
from hotline.live_stream import LiveStream

from factories import seed_residents

AT = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


def test_a_stored_call_names_its_caller(db: Database, tmp_path: Path) -> None:
    seed_residents(db, tmp_path)
    desk = IntakeDesk(db, Rules(), Spool(tmp_path / "intakes.jsonl"))
    desk.arrive(CallSummary(key="1796.7", direction="in", arrived_at=AT, caller="5551234"))
    with db.session() as s:
        facts = call_facts(s, "1796.7")
        assert call_facts(s, "no-such-call") is None
    assert facts is not None
    assert (facts.direction, facts.unit, facts.resident_name) == ("in", "3-1-202", "Li Na")
    assert facts.ticket_id is None and facts.lead_id is None


def test_a_pop_waits_for_the_record_and_keeps_the_order() -> None:
    clock = Clock()
    asked: list[str] = []
    answer: Deferred[tuple[CallContext, str] | None] = Deferred()

    def lookup(call_id: str) -> Deferred[tuple[CallContext, str] | None]:
        asked.append(call_id)
        return answer

    state = LiveState(ZoneInfo("Asia/Shanghai"), 15.0, clock.callLater, lambda: AT)
    live = LiveStream(state, clock, lookup, wall=lambda: 1_800_000_000.0)
    live.take(CallOffered(call_id="1796.7", agent="101", queue="repairs", caller="5551234", at=AT))
    live.take(CallConnected(call_id="1796.7", agent="101", queue="repairs", hold_seconds=3, at=AT))
    assert asked == ["1796.7"] and list(live.buffer) == []  # held until the record is read
    answer.callback((CallContext(unit="3-1-202", resident_id=2, resident_name="Li Na"), "in"))
    types = [e.type for e in kept(live)]
    assert types.index("call.offered") < types.index("call.connected")
    offer = next(e for e in kept(live) if e.type == "call.offered").data
    assert (offer["unit"], offer["resident_name"]) == ("3-1-202", "Li Na")
    live.take(CallOffered(call_id="1796.7", agent="102", queue="repairs", caller=None, at=AT))
    assert asked == ["1796.7"]  # known now: no second read
