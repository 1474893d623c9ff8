"""What the inbound flow owes the shipped dialplan and the call record, as Asterisk runs it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from hotline.app import App
from hotline.core import dialplan as contract
from hotline.core.db import Database
from hotline.core.models import CallRecord
from hotline.pbxsim.fastagi import Keys, PBXOptions, Silence, SimCaller

from factories import seed_residents
from flow_harness import OFFICE_HOURS, make_app, place_calls

GREETING = [Silence()]


@pytest.fixture
def app(db: Database, tmp_path: Path) -> App:
    seed_residents(db, tmp_path)
    return make_app(tmp_path / "home", db.url)


def callees(app: App) -> list[str | None]:
    with app.db.session() as s:
        return [r.callee for r in s.scalars(select(CallRecord).order_by(CallRecord.id))]


# After `Goto(s,1)` Asterisk says agi_extension `s`; on Local channels agi_dnid is `unknown`.
AFTER_GOTO = PBXOptions(extension="s", priority=4, wall_clock=lambda: OFFICE_HOURS.timestamp())


def test_the_dialled_number_is_the_call_records_callee(app: App) -> None:
    caller = SimCaller("5551234", None, [*GREETING, Silence(), Keys("0")])
    out = place_calls(app, [caller], options=AFTER_GOTO, args=["88001234"])
    assert out.result.variables[contract.QUEUE] == contract.QUEUE_ENQUIRIES
    assert callees(app) == ["88001234"]


def test_without_the_argument_no_s_is_recorded_as_callee(app: App) -> None:
    caller = SimCaller("5551234", None, [*GREETING, Silence(), Keys("0")])
    place_calls(app, [caller], options=AFTER_GOTO, args=[""])
    assert callees(app) == [None]


def test_a_finished_flow_says_so_as_its_last_act(app: App) -> None:
    caller = SimCaller("5551234", None, [*GREETING, Silence(), Keys("0")])
    out = place_calls(app, [caller])
    assert out.result.variables[contract.STATUS] == contract.STATUS_DONE
    assert out.commands()[-1] == f"SET VARIABLE {contract.STATUS} {contract.STATUS_DONE}"


def test_no_key_at_enter_your_unit_hears_the_no_input_prompt(app: App) -> None:
    caller = SimCaller("13911112222", None, [*GREETING, Silence(), Keys("3*1*201#"), Keys("0")])
    out = place_calls(app, [caller])
    commands = out.commands()
    first, second = [i for i, c in enumerate(commands) if "hotline/enter-unit" in c]
    between = commands[first + 1 : second]
    assert any("hotline/no-input" in c for c in between), between
    assert not any("unit-not-found" in c for c in between), between
