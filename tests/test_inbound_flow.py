"""The inbound call flow, bullet by bullet, through the PBX simulator and the real service."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline.app import App
from hotline.core import dialplan as contract
from hotline.core.db import Database
from hotline.core.models import ArrearsAccount, CallRecord, Ticket, Unit
from hotline.metrics import Metrics
from hotline.pbxsim.fastagi import HangUp, Input, Keys, PBXOptions, Silence, SimCaller, Speak

from factories import seed_residents
from flow_harness import (
    AFTER_HOURS,
    OFFICE_HOURS,
    assert_prompts_in_order,
    make_app,
    place_calls,
    prompts,
)

GREETING: list[Input] = [Silence()]  # the language hint passes without a key
KEEP_UNIT: list[Input] = [Silence()]  # "if this is right press 1": no key keeps the caller-ID unit


@pytest.fixture
def app(db: Database, tmp_path: Path) -> App:
    seed_residents(db, tmp_path)
    return make_app(tmp_path / "home", db.url)


def tickets(app: App) -> list[Ticket]:
    with app.db.session() as s:
        return list(s.scalars(select(Ticket).order_by(Ticket.id)))


def calls(app: App) -> list[CallRecord]:
    with app.db.session() as s:
        return list(s.scalars(select(CallRecord).order_by(CallRecord.id)))


def test_known_caller_reports_a_repair_in_their_language(app: App) -> None:
    caller = SimCaller(
        "5551234", "Li Na", [*GREETING, *KEEP_UNIT, Keys("1"), Keys("4"), Speak(6.0), Keys("1")]
    )
    out = place_calls(app, [caller])
    commands = out.commands()
    assert commands[0] == "ANSWER"
    assert "SET VARIABLE CHANNEL(language) en" in commands
    # The unit read back: building 3, entrance 1, room 202 (en: the word, then the digits).
    assert commands.index('SAY DIGITS 3 ""') < commands.index('SAY DIGITS 202 ""')
    assert any(c.startswith("RECORD FILE ") and ' wav "#" 60000 ' in c for c in commands)
    (ticket,) = tickets(app)
    assert (ticket.kind, ticket.category, ticket.state, ticket.channel) == (
        "repair",
        "plumbing",
        "new",
        "phone",
    )
    assert not ticket.incomplete and not ticket.emergency
    assert f'SAY DIGITS {ticket.id} ""' in commands  # the ticket number read back
    assert ticket.recording is not None and Path(ticket.recording).stat().st_size > 6 * 8000 * 2
    assert contract.QUEUE not in out.result.variables
    assert_prompts_in_order(
        commands,
        [
            "hotline/welcome",
            "hotline/unit-confirm",
            "hotline/main-menu",
            "hotline/repair-category-menu",
            "hotline/record-after-beep",
            "hotline/ticket-number-is",
            "hotline/confirm-or-rerecord",
            "hotline/report-confirmed",
        ],
    )
    (record,) = calls(app)
    assert record.direction == "in" and record.caller == "5551234"
    assert record.answered_at is not None and record.ended_at is not None
    assert record.rings_before_answer is not None and record.rings_before_answer <= 3
    assert record.answered_at - record.arrived_at < timedelta(seconds=10)
    assert record.disposition == "completed" and record.ticket_id == ticket.id
    assert (record.path or "").split(">") == [
        "unit-confirm:none",
        "unit:caller-id",
        "main-menu:1",
        "repair-category-menu:4",
        "record",
        "confirm-or-rerecord:1",
    ]


def test_caller_with_several_units_chooses_by_keypad(app: App) -> None:
    caller = SimCaller(
        "13800138000",
        "张伟",
        [*GREETING, Keys("2"), Keys("2"), Keys("2"), Speak(3.0), Keys("1")],
    )
    out = place_calls(app, [caller])
    assert "SET VARIABLE CHANNEL(language) zh" in out.commands()
    (ticket,) = tickets(app)
    assert (ticket.kind, ticket.category) == ("complaint", "noise")  # chosen by keypad
    with app.db.session() as s:
        assert s.get_one(Unit, ticket.unit_id).code == "5-2-1101"


def test_unknown_caller_keys_in_the_unit(app: App) -> None:
    caller = SimCaller(
        "13911112222",
        None,
        [*GREETING, Keys("3*1*201#"), Keys("1"), Keys("5"), Speak(2.0), Keys("1")],
    )
    place_calls(app, [caller])
    (ticket,) = tickets(app)
    with app.db.session() as s:
        assert s.get_one(Unit, ticket.unit_id).code == "3-1-201"
    assert ticket.category == "door_lock" and ticket.caller_number == "13911112222"


def test_withheld_caller_with_no_valid_unit_after_three_tries_goes_to_an_agent(app: App) -> None:
    caller = SimCaller(None, None, [*GREETING, Keys("9*9*999#"), Keys("12#"), Silence()])
    out = place_calls(app, [caller])
    assert out.result.variables[contract.QUEUE] == contract.QUEUE_ENQUIRIES
    assert sum(c.startswith("GET DATA hotline/enter-unit") for c in out.commands()) == 3
    enter, wrong = "hotline/enter-unit", "hotline/unit-not-found"
    assert_prompts_in_order(
        out.commands(), [enter, wrong, enter, wrong, enter, "hotline/transferring"]
    )
    (record,) = calls(app)
    assert record.disposition == "to_agent" and record.queue == contract.QUEUE_ENQUIRIES


def test_nine_switches_the_language(app: App) -> None:
    caller = SimCaller("13911112222", None, [Keys("9"), Keys("3*1*201#"), Keys("0")])
    out = place_calls(app, [caller])
    languages = [c for c in out.commands() if c.startswith("SET VARIABLE CHANNEL(language)")]
    assert languages == ["SET VARIABLE CHANNEL(language) zh", "SET VARIABLE CHANNEL(language) en"]


def test_wrong_or_no_menu_input_is_replayed_three_times_then_an_agent(app: App) -> None:
    caller = SimCaller("5551234", None, [*GREETING, *KEEP_UNIT, Keys("7"), Silence(), Keys("8")])
    out = place_calls(app, [caller])
    commands = out.commands()
    assert sum(c.startswith("GET DATA hotline/main-menu") for c in commands) == 3
    menu = "hotline/main-menu"
    assert_prompts_in_order(
        commands, [menu, "hotline/invalid-choice", menu, "hotline/no-input", menu]
    )
    assert out.result.variables[contract.QUEUE] == contract.QUEUE_ENQUIRIES


def test_to_an_agent_the_softphone_gets_unit_and_name(app: App) -> None:
    caller = SimCaller("5551234", None, [*GREETING, *KEEP_UNIT, Keys("0")])
    out = place_calls(app, [caller])
    v = out.result.variables
    assert v[contract.QUEUE] == contract.QUEUE_ENQUIRIES
    assert v[contract.UNIT] == "3-1-202"
    assert v[contract.CALLERNAME] == "3-1-202 Li Na"
    assert v[contract.RECORDING].endswith(".wav")


def test_after_hours_an_emergency_goes_to_the_on_duty_queue(app: App) -> None:
    caller = SimCaller(
        "5551234", None, [*GREETING, *KEEP_UNIT, Keys("1"), Keys("1"), Speak(4.0), Keys("1")]
    )
    out = place_calls(app, [caller], clock=lambda: AFTER_HOURS)
    (ticket,) = tickets(app)
    assert ticket.emergency and ticket.category == "leak" and not ticket.incomplete
    v = out.result.variables
    assert (v[contract.QUEUE], v[contract.TICKET]) == (contract.QUEUE_DUTY, str(ticket.id))
    assert_prompts_in_order(
        out.commands(),
        [
            "hotline/after-hours",
            "hotline/main-menu",
            "hotline/emergency-ack",
            "hotline/transferring",
        ],
    )


def test_in_office_hours_an_emergency_goes_to_the_repairs_desk(app: App) -> None:
    caller = SimCaller(
        "5551234", None, [*GREETING, *KEEP_UNIT, Keys("1"), Keys("2"), Speak(4.0), Keys("1")]
    )
    out = place_calls(app, [caller], clock=lambda: OFFICE_HOURS)
    assert out.result.variables[contract.QUEUE] == contract.QUEUE_REPAIRS
    assert "hotline/after-hours" not in prompts(out.commands())


def test_after_hours_other_reports_are_taken_for_a_call_back(app: App) -> None:
    caller = SimCaller(
        "5551234", None, [*GREETING, *KEEP_UNIT, Keys("1"), Keys("6"), Speak(4.0), Keys("1")]
    )
    out = place_calls(app, [caller], clock=lambda: AFTER_HOURS)
    assert contract.QUEUE not in out.result.variables
    assert_prompts_in_order(
        out.commands(), ["hotline/after-hours", "hotline/main-menu", "hotline/report-confirmed"]
    )
    assert tickets(app)[0].category == "public_area"


def test_two_records_again_and_the_second_recording_is_kept(app: App) -> None:
    caller = SimCaller(
        "5551234",
        None,
        [*GREETING, *KEEP_UNIT, Keys("1"), Keys("7"), Speak(2.0), Keys("2"), Speak(5.0), Keys("1")],
    )
    out = place_calls(app, [caller])
    (ticket,) = tickets(app)
    _first, second = out.result.recordings
    assert ticket.recording == second.path and second.seconds == 5.0
    assert not ticket.incomplete


def test_complaint_about_staff_starts_the_one_hour_clock(app: App) -> None:
    inputs: list[Input] = [*GREETING, *KEEP_UNIT, Keys("2"), Keys("1"), Speak(8.0), Keys("1")]
    caller = SimCaller("5551234", None, inputs)
    out = place_calls(app, [caller])
    (ticket,) = tickets(app)
    assert ticket.kind == "complaint" and ticket.about_staff
    assert ticket.escalation_due_at == ticket.received_at + timedelta(hours=1)
    assert_prompts_in_order(
        out.commands(),
        [
            "hotline/complaint-category-menu",
            "hotline/complaint-record",
            "hotline/complaint-registered",
        ],
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_fees_are_spoken_and_one_reaches_the_cashier(app: App, lang: str) -> None:
    with app.db.session() as s:
        unit = s.scalars(select(Unit).where(Unit.code == "3-1-202")).one()
        s.add(
            ArrearsAccount(
                unit_id=unit.id,
                amount=1280.5,
                months=3,
                imported_at=OFFICE_HOURS,
                collection_month=OFFICE_HOURS.date().replace(day=1),
            )
        )
    greeting = GREETING if lang == "en" else [Keys("9")]  # Li Na speaks English
    caller = SimCaller("5551234", None, [*greeting, *KEEP_UNIT, Keys("3"), Keys("1")])
    out = place_calls(app, [caller])
    commands = out.commands()
    spoken = [c for c in commands if c.startswith("SAY ")]
    if lang == "en":
        assert 'SAY NUMBER 1280 ""' in spoken and 'SAY DIGITS 5 ""' in spoken
        assert spoken[-1] == 'SAY NUMBER 3 ""'  # months
    else:  # SAY NUMBER on zh reads the units in English: our Mandarin words instead
        assert not [c for c in spoken if c.startswith("SAY NUMBER")]
        files = [c.split()[2] for c in commands if c.startswith("STREAM FILE ")]
        start = files.index("hotline/fees-amount-due") + 1
        assert files[start : start + 12] == [
            "digits/1", "hotline/num-thousand", "digits/2", "hotline/num-hundred", "digits/8",
            "hotline/num-ten", "hotline/fees-yuan", "digits/5", "hotline/fees-jiao",
            "hotline/fees-for", "digits/3", "hotline/fees-months",
        ]  # fmt: skip
    assert out.result.variables[contract.QUEUE] == contract.QUEUE_CASHIER
    assert tickets(app) == []  # a fee enquiry answered is no report


@pytest.mark.parametrize(
    ("inputs", "kind", "has_recording"),
    [
        ([*GREETING, *KEEP_UNIT, HangUp()], "enquiry", False),
        ([*GREETING, *KEEP_UNIT, Keys("1"), Keys("4"), Speak(3.0, hang_up=True)], "repair", True),
        ([*GREETING, *KEEP_UNIT, Keys("1"), Keys("4"), Speak(3.0), HangUp()], "repair", True),
        ([*GREETING, *KEEP_UNIT, Keys("2"), Keys("6"), Speak(3.0), HangUp()], "complaint", True),
    ],
)
def test_a_hang_up_at_any_step_leaves_an_incomplete_ticket(
    app: App, inputs: list, kind: str, has_recording: bool
) -> None:
    out = place_calls(app, [SimCaller("5551234", None, inputs)])
    (ticket,) = tickets(app)
    assert ticket.incomplete and ticket.kind == kind
    assert (ticket.recording is not None) == has_recording
    if ticket.recording is not None:
        assert Path(ticket.recording).exists()
        assert out.result.recordings[0].seconds == 3.0
    (record,) = calls(app)
    assert record.disposition == "caller_hangup" and record.ticket_id == ticket.id


def test_a_failing_flow_tells_the_dialplan(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(summary: object) -> list:
        raise RuntimeError("bug in the lookup")

    out = place_calls(
        app,
        [SimCaller("5551234", None, [])],
        before=lambda service: monkeypatch.setattr(service.desk, "arrive", broken),
    )
    assert out.result.variables[contract.STATUS] == contract.STATUS_FAILED
    (record,) = calls(app)
    assert record.disposition == "failed"


def test_database_down_spools_and_replays_exactly_once(db: Database, tmp_path: Path) -> None:
    seed_residents(db, tmp_path)
    down = make_app(tmp_path / "home", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    caller = SimCaller(
        "13911112222",
        None,
        [*GREETING, Keys("3*1*201#"), Keys("1"), Keys("4"), Speak(3.0), Keys("1")],
    )
    out = place_calls(down, [caller])
    assert_prompts_in_order(
        out.commands(),
        [
            "hotline/repair-category-menu",
            "hotline/record-after-beep",
            "hotline/confirm-or-rerecord",
            "hotline/report-confirmed",
        ],
    )
    assert not any(c.startswith("SAY DIGITS") for c in out.commands())  # no number to read yet
    spool = down.settings.spool_path
    # The call record written ahead; the report as first filed, again once confirmed; the call
    # record finished.
    assert [json.loads(line)["kind"] for line in spool.read_text().splitlines()] == [
        "arrival",
        "report",
        "report",
        "call",
    ]

    up = make_app(tmp_path / "home", db.url)
    from hotline.core.intake import IntakeDesk
    from hotline.core.spool import Spool

    desk = IntakeDesk(up.db, up.rules, Spool(spool))
    assert desk.replay_spool() == 4
    assert desk.replay_spool() == 0
    (ticket,) = tickets(up)
    assert (ticket.category, ticket.caller_number, ticket.incomplete) == (
        "plumbing",
        "13911112222",
        False,
    )
    (record,) = calls(up)
    assert record.ticket_id == ticket.id


REPAIR: list[Input] = [*GREETING, *KEEP_UNIT, Keys("1"), Keys("4"), Speak(6.0), Keys("1")]


def test_a_hostile_uniqueid_never_names_a_file_outside_the_recordings_folder(
    app: App, tmp_path: Path
) -> None:
    hostile = PBXOptions(uniqueid="../../../outside", wall_clock=lambda: OFFICE_HOURS.timestamp())
    before = set(tmp_path.rglob("*"))
    place_calls(app, [SimCaller("5551234", "Li Na", REPAIR)], options=hostile)
    agent = place_calls(
        app, [SimCaller("5551234", None, [*GREETING, *KEEP_UNIT, Keys("0")])], options=hostile
    )
    recordings = app.settings.recordings_dir.resolve()
    (ticket,) = tickets(app)
    assert ticket.recording is not None
    assert Path(ticket.recording).resolve().is_relative_to(recordings)
    assert Path(ticket.recording).exists()
    monitor = Path(agent.result.variables[contract.RECORDING])
    assert monitor.resolve().is_relative_to(recordings / "calls")
    wavs = {p.resolve() for p in set(tmp_path.rglob("*.wav")) - before}
    assert wavs and all(p.is_relative_to(recordings) for p in wavs)


@pytest.mark.parametrize("uniqueid", ["1000000000.77", "not-a-uniqueid", "17953279921.1"])
def test_a_uniqueid_that_is_not_an_arrival_never_becomes_a_ring_count(
    app: App, uniqueid: str
) -> None:
    metrics = Metrics()
    caller = SimCaller("5551234", "Li Na", REPAIR)
    place_calls(app, [caller], options=PBXOptions(uniqueid=uniqueid), metrics=metrics)
    (record,) = calls(app)
    assert record.answered_at is not None and record.rings_before_answer is None
    value = metrics.registry.get_sample_value
    assert value("hotline_calls_answered_late_total") == 0
    assert value("hotline_rings_before_answer_count") == 0
    assert value("hotline_answer_delay_seconds_count") == 0
