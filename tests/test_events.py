"""The event bus, and the typed events the call flows publish on it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline.app import App
from hotline.core import dialplan as contract
from hotline.core.db import Database
from hotline.core.event_bus import EventBus
from hotline.core.events import (
    AgentPaused,
    AttemptFinished,
    CallAnswered,
    CallArrived,
    CallEnded,
    CallerIdentified,
    CallEvent,
    Event,
    HandedToQueue,
    MenuChoice,
    ReportFiled,
    StepTaken,
)
from hotline.core.models import Resident, Ticket
from hotline.metrics import Metrics
from hotline.pbxsim.fastagi import Keys, Silence, SimCaller, Speak

from factories import seed_residents
from flow_harness import make_app, place_calls


def step(call_id: str, name: str) -> StepTaken:
    return StepTaken(call_id=call_id, step=name)


def test_subscribers_get_the_types_they_asked_for_in_order() -> None:
    bus, heard = EventBus(), list[tuple[str, Event]]()
    bus.subscribe(lambda e: heard.append(("all", e)), (Event,))
    bus.subscribe(lambda e: heard.append(("calls", e)), (CallEvent,))
    bus.subscribe(lambda e: heard.append(("menus", e)), (MenuChoice,))
    paused = AgentPaused(
        agent="PJSIP/agent101", queue=contract.QUEUE_OUTBOUND, reason="ring-no-answer"
    )
    choice = MenuChoice(call_id="c1", menu="main-menu", choice="1")
    bus.publish(paused)
    bus.publish(choice)
    assert heard == [("all", paused), ("all", choice), ("calls", choice), ("menus", choice)]


def test_an_unsubscribed_handler_hears_nothing_more() -> None:
    bus, heard = EventBus(), list[StepTaken]()
    unsubscribe = bus.subscribe(heard.append, (StepTaken,))
    bus.publish(step("c1", "record"))
    unsubscribe()
    bus.publish(step("c1", "queue:repairs"))
    assert heard == [step("c1", "record")]


def test_a_failing_subscriber_is_logged_once_per_type_and_breaks_nobody(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus, heard = EventBus(), list[Event]()

    def broken(event: Event) -> None:
        raise RuntimeError("boom")

    bus.subscribe(broken, (Event,))
    bus.subscribe(heard.append, (Event,))
    choice = MenuChoice(call_id="c1", menu="main-menu", choice="1")
    with caplog.at_level(logging.ERROR, logger="hotline.core.event_bus"):
        for _ in range(3):
            bus.publish(step("c1", "record"))  # the publisher never sees the error
        bus.publish(choice)
    assert heard == [step("c1", "record")] * 3 + [choice]
    assert bus.failures == 4
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 2  # once for StepTaken, once for MenuChoice
    assert "StepTaken" in logged[0] and "MenuChoice" in logged[1]
    assert all(r.exc_info for r in caplog.records)


def test_metrics_count_typed_events_and_never_read_the_steps() -> None:
    bus, metrics = EventBus(), Metrics()
    metrics.subscribe(bus)
    value = metrics.registry.get_sample_value
    at = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    bus.publish(
        CallArrived(
            call_id="c1",
            direction="out",
            route="outbound/followup",
            caller="13000000001",
            callee="s",
            uniqueid="c1",
            arrived_at=at,
            arrival_known=True,
        )
    )
    bus.publish(step("c1", "lead:5"))  # a path step, not a keypad choice
    bus.publish(step("c1", "main-menu:1"))
    bus.publish(MenuChoice(call_id="c1", menu="followup-score", choice="5"))
    for complete in (False, True):
        bus.publish(
            ReportFiled(
                call_id="c1",
                ticket_id=7,
                kind="repair",
                category="plumbing",
                unit="3-1-202",
                resident_id=1,
                complete=complete,
                recording=None,
            )
        )
    bus.publish(
        CallEnded(
            call_id="c1", direction="out", disposition="done", seconds=9.0, path=(), ticket_id=7
        )
    )
    bus.publish(AttemptFinished(call_id="lead-1-1", disposition="answered", next_step="done"))
    choices = {
        tuple(s.labels.values()): s.value
        for family in metrics.registry.collect()
        if family.name == "hotline_menu_choices"
        for s in family.samples
        if s.name.endswith("_total")
    }
    assert choices == {("followup-score", "5"): 1.0}
    assert value("hotline_tickets_total", {"kind": "repair", "category": "plumbing"}) == 1
    # The outbound flow's end is the dialer's attempt: counted once, by its disposition.
    assert value("hotline_calls_total", {"direction": "out", "disposition": "answered"}) == 1
    assert value("hotline_calls_total", {"direction": "out", "disposition": "done"}) is None


# --- what the inbound flow publishes, through the PBX simulator and the real service ---


@pytest.fixture
def app(db: Database, tmp_path: Path) -> App:
    seed_residents(db, tmp_path)
    return make_app(tmp_path / "home", db.url)


def test_a_repair_call_is_told_as_typed_events(app: App) -> None:
    caller = SimCaller(
        "5551234", None, [Silence(), Silence(), Keys("1"), Keys("4"), Speak(4.0), Keys("1")]
    )
    out = place_calls(app, [caller])
    events = out.events
    with app.db.session() as s:
        (ticket,) = s.scalars(select(Ticket))
        resident = s.scalars(select(Resident).where(Resident.name == "Li Na")).one()
        ticket_id, resident_id = ticket.id, resident.id
    arrived, answered, ended = events[0], events[1], events[-1]
    assert isinstance(arrived, CallArrived) and arrived.direction == "in"
    assert (arrived.route, arrived.caller, arrived.call_id) == (
        "inbound",
        "5551234",
        arrived.uniqueid,
    )
    assert isinstance(answered, CallAnswered) and answered.rings is not None
    assert answered.arrived_at == arrived.arrived_at
    assert {e.call_id for e in events if isinstance(e, CallEvent)} == {arrived.call_id}

    (identified,) = [e for e in events if isinstance(e, CallerIdentified)]
    assert (identified.unit, identified.how, identified.units) == (
        "3-1-202",
        "caller-id",
        ("3-1-202",),
    )
    assert (identified.resident_id, identified.resident_name) == (resident_id, "Li Na")

    choices = [(e.menu, e.choice) for e in events if isinstance(e, MenuChoice)]
    assert choices == [
        ("unit-confirm", "none"),
        ("main-menu", "1"),
        ("repair-category-menu", "4"),
        ("confirm-or-rerecord", "1"),
    ]
    # Each keypad answer is one step of the path; the other steps are not menu choices.
    path = [e.step for e in events if isinstance(e, StepTaken)]
    assert [p for p in path if p.split(":")[0] in dict(choices)] == [f"{m}:{c}" for m, c in choices]
    assert {"unit:caller-id", "record"} <= set(path)

    filed = [e for e in events if isinstance(e, ReportFiled)]
    assert [f.complete for f in filed] == [False, True]  # recorded, then confirmed at the end
    assert all(f.recording and f.recording.endswith(".wav") for f in filed)
    assert {(f.ticket_id, f.kind, f.category, f.unit, f.resident_id) for f in filed} == {
        (ticket_id, "repair", "plumbing", "3-1-202", resident_id)
    }
    assert not any(isinstance(e, HandedToQueue) for e in events)
    assert isinstance(ended, CallEnded)
    assert (ended.disposition, ended.direction, ended.ticket_id) == ("completed", "in", ticket_id)
    assert list(ended.path) == path and ended.seconds >= 0


def test_a_keyed_unit_and_a_queue_hand_off_are_told(app: App) -> None:
    caller = SimCaller(None, None, [Silence(), Silence(), Keys("3*1*201#"), Keys("0")])
    events = place_calls(app, [caller]).events
    choices = [(e.menu, e.choice) for e in events if isinstance(e, MenuChoice)]
    assert choices == [("unit", "none"), ("main-menu", "0")]  # no keys at the first unit prompt
    (identified,) = [e for e in events if isinstance(e, CallerIdentified)]
    assert (identified.unit, identified.how, identified.resident_id, identified.units) == (
        "3-1-201",
        "keyed",
        None,
        (),
    )
    (queued,) = [e for e in events if isinstance(e, HandedToQueue)]
    assert (queued.queue, queued.unit, queued.ticket_id) == (
        contract.QUEUE_ENQUIRIES,
        "3-1-201",
        None,
    )
    ended = events[-1]
    assert isinstance(ended, CallEnded) and ended.disposition == "to_agent"
