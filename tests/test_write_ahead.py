"""Nothing lost: call records written ahead, reports stored before "confirmed", crashes settled."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline.app import App
from hotline.core import dialplan as contract
from hotline.core.db import Database
from hotline.core.intake import CallSummary, IntakeDesk
from hotline.core.models import CallRecord, Ticket
from hotline.core.spool import Spool, SpoolFailed
from hotline.metrics import Metrics
from hotline.pbxsim.fastagi import HangUp, Input, Keys, Silence, SimCaller, Speak
from hotline.service import Service

from factories import seed_residents
from flow_harness import OFFICE_HOURS, assert_prompts_in_order, make_app, place_calls, prompts

# A known caller, the unit kept.
REPAIR: list[Input] = [Silence(), Silence(), Keys("1"), Keys("4"), Speak(3.0)]


@pytest.fixture
def app(db: Database, tmp_path: Path) -> App:
    seed_residents(db, tmp_path)
    return make_app(tmp_path / "home", db.url)


def records(app: App) -> tuple[list[Ticket], list[CallRecord]]:
    with app.db.session() as s:
        return (
            list(s.scalars(select(Ticket).order_by(Ticket.id))),
            list(s.scalars(select(CallRecord).order_by(CallRecord.id))),
        )


def crash_before_close(service: Service) -> None:
    """The process dies once the flow is over, before the call's ending is written."""
    # a stand-in on this one desk: the process dies first
    service.desk.close_call = lambda summary, report=None: None  # type: ignore[method-assign]


def test_a_confirmed_report_is_stored_before_the_caller_hears_it(app: App) -> None:
    caller = SimCaller("5551234", None, [*REPAIR, Keys("1")])
    out = place_calls(app, [caller], before=crash_before_close)
    assert_prompts_in_order(
        out.commands(),
        [
            "hotline/repair-category-menu",
            "hotline/record-after-beep",
            "hotline/confirm-or-rerecord",
            "hotline/report-confirmed",
        ],
    )
    (ticket,), (record,) = records(app)
    assert not ticket.incomplete and ticket.category == "plumbing"
    # Written ahead: the record exists, without an ending yet.
    assert record.caller == "5551234" and record.answered_at is not None
    assert record.key == ticket.intake_key and record.ended_at is None

    place_calls(app, [])  # the restart settles it
    (ticket_after,), (record,) = records(app)
    assert record.disposition == "interrupted" and record.ended_at == OFFICE_HOURS
    assert not ticket_after.incomplete and record.ticket_id == ticket.id


def test_an_unconfirmed_report_cut_off_stays_incomplete_with_its_unit(app: App) -> None:
    caller = SimCaller("5551234", None, [*REPAIR, HangUp()])
    place_calls(app, [caller], before=crash_before_close)
    metrics = Metrics()
    place_calls(app, [], metrics=metrics)
    (ticket,), (record,) = records(app)
    assert ticket.incomplete and ticket.unit_id is not None and ticket.recording
    assert record.disposition == "interrupted" and record.ticket_id == ticket.id
    assert metrics.calls_interrupted._value.get() == 1


def test_settling_leaves_the_calls_still_running_alone(app: App, tmp_path: Path) -> None:
    desk = IntakeDesk(app.db, app.rules, Spool(tmp_path / "intakes.jsonl"))
    for key in ("in:dead", "in:live"):
        desk.arrive(CallSummary(key=key, direction="in", arrived_at=OFFICE_HOURS))
    desk._open.discard("in:dead")  # as a fresh process would know it: not one of its calls
    assert desk.settle_interrupted(OFFICE_HOURS) == 1
    with app.db.session() as s:
        endings = {k: d for k, d in s.execute(select(CallRecord.key, CallRecord.disposition))}
    assert endings == {"in:dead": "interrupted", "in:live": None}


def test_nothing_is_confirmed_when_neither_database_nor_spool_keeps_it(
    db: Database, tmp_path: Path
) -> None:
    seed_residents(db, tmp_path)
    down = make_app(tmp_path / "home", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    metrics = Metrics()

    def disk_full(service: Service) -> None:
        def append(kind: str, data: object) -> None:
            raise SpoolFailed(f"{kind} not spooled: No space left on device")

        # a stand-in on this one spool: the disk is full
        service.desk.spool.append = append  # type: ignore[method-assign]

    keyed: list[Input] = [Silence(), Keys("3*1*201#"), Keys("1"), Keys("4"), Speak(3.0), Keys("1")]
    out = place_calls(
        down, [SimCaller("13911112222", None, keyed)], before=disk_full, metrics=metrics
    )
    assert "hotline/report-confirmed" not in prompts(out.commands())
    assert (
        out.result.variables[contract.STATUS] == contract.STATUS_FAILED
    )  # the dialplan's duty queue
    assert metrics.intakes_lost._value.get() >= 1


@pytest.mark.parametrize("length", [80, 200])
def test_a_long_caller_id_never_fails_the_call(app: App, length: int) -> None:
    number = "8" * length
    out = place_calls(
        app, [SimCaller(number, None, [Silence(), Keys("3*1*201#"), *REPAIR[2:], Keys("1")])]
    )
    assert out.result.variables[contract.STATUS] == contract.STATUS_DONE  # finished, not failed
    (ticket,), (record,) = records(app)
    assert record.caller == number[:80] and ticket.caller_number == number[:80]
    assert record.disposition == "completed" and not ticket.incomplete


def test_a_call_cut_off_by_the_service_stopping_is_interrupted_with_what_it_knew(
    app: App,
) -> None:
    def stopping(service: Service) -> None:
        service.desk.stopping = True  # as the reactor's "before shutdown" trigger sets it

    place_calls(app, [SimCaller("5551234", None, [*REPAIR, HangUp()])], before=stopping)
    (ticket,), (record,) = records(app)
    assert record.disposition == "interrupted" and record.ticket_id == ticket.id
    assert ticket.incomplete and ticket.unit_id is not None


def test_replay_sets_refused_and_torn_entries_aside_and_lands_the_rest(
    app: App, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool" / "intakes.jsonl")
    desk = IntakeDesk(app.db, app.rules, spool)
    set_aside: list[int] = []
    spool.on_set_aside = set_aside.append
    good = CallSummary(key="in:1700000000.1", direction="in", arrived_at=OFFICE_HOURS)
    refused = asdict(CallSummary(key="in:1700000000.2", direction="in", arrived_at=OFFICE_HOURS))
    refused["arrived_at"] = None  # NOT NULL: the database refuses it, every time
    spool.append("call", refused)
    with spool.path.open("ab") as f:
        f.write('{"kind": "call", "data": {"caller": "王'.encode()[:-1])  # torn mid-character
    spool.append("call", asdict(good))
    assert desk.replay_spool() == 1
    assert spool.depth() == 0 and set_aside == [1, 1]
    reasons = [json.loads(line)["reason"] for line in spool.bad_path.read_text().splitlines()]
    assert reasons[0].startswith("torn line") and "arrived_at" in reasons[1].lower()
    _, (record,) = records(app)
    assert record.key == good.key
