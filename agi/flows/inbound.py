"""The hotline: a resident calls the service centre (service rules §1–3).

1. Answer at once (the dialplan may ring the agents first, never past the third ring).
2. Know the caller: caller ID gives the resident and unit (several units: choose by keypad);
   unknown or withheld: key in the unit, three tries, then an agent.
3. Speak the resident's language (zh by default); 9 switches language.
4. Outside office hours say so: emergencies go to the on-duty staff, other reports are taken for a
   call back in office hours. No prompt ever promises a visit time.
5. Main menu: 1 repair, 2 complaint, 3 fees, 0 an agent; wrong or no input thrice: an agent.
   Repairs and complaints then choose their category by keypad.
6. Whatever happens, the call record is written and an unfinished report is kept (Visit.close).
"""

from __future__ import annotations

import logging
import re

from hotline.agi.channel import Channel
from hotline.agi.protocol import AGIEnvironment
from hotline.agi.routes import routes
from hotline.core.db import DatabaseUnavailable
from hotline.core.dialplan import (
    QUEUE_CASHIER,
    QUEUE_COMPLAINTS,
    QUEUE_DUTY,
    QUEUE_ENQUIRIES,
    QUEUE_REPAIRS,
)
from hotline.core.intake import CallerUnit
from hotline.core.units import unit_from_keypad
from hotline.core.vocabulary import CATEGORIES, Kind

from .context import FlowContext
from .visit import Visit

log = logging.getLogger(__name__)

REPAIR_KEYS = dict(zip("1234567", CATEGORIES[Kind.REPAIR], strict=True))
COMPLAINT_KEYS = dict(zip("123456", CATEGORIES[Kind.COMPLAINT], strict=True))
MAX_RECORDINGS = 3
DIALLED = re.compile(r"\+?[0-9]{1,39}")  # fits the call record's callee (40 characters)


def dialled_number(env: AGIEnvironment) -> str | None:
    """The number the resident dialled: the dialplan's AGI argument (it keeps ${EXTEN} before
    ``Goto(s,1)`` turns it into ``s``), else Asterisk's DNID, else the extension."""
    first_arg = env.args[0] if env.args else ""
    for value in (first_arg, env.raw.get("agi_dnid", ""), env.extension):
        if DIALLED.fullmatch(value):
            return value
    return None


@routes.register("inbound")
async def inbound(call: Channel, ctx: FlowContext) -> None:
    visit = Visit(call, ctx)
    visit.summary.callee = dialled_number(call.env)
    error: BaseException | None = None
    try:
        await visit.answer()
        await know_the_caller(visit)
        await greet(visit)
        if not await identify_unit(visit):
            await visit.to_agent(staff_queue(visit))
            return
        await main_menu(visit)
    except BaseException as exc:
        error = exc
        raise
    finally:
        await visit.close(error)


async def know_the_caller(visit: Visit) -> None:
    """Speak the language of the resident the caller ID belongs to (looked up on answer)."""
    await visit.set_language(visit.callers[0].lang if visit.callers else "zh")


async def greet(visit: Visit) -> None:
    await visit.play("hotline/welcome")
    key = await visit.play("hotline/language-hint", interrupt="9")
    if key == "9":
        await visit.set_language("en" if visit.lang == "zh" else "zh")
        visit.step(f"lang:{visit.lang}")


def after_hours(visit: Visit) -> bool:
    return visit.ctx.rules.is_on_duty_time(visit.ctx.clock())


def staff_queue(visit: Visit, office_queue: str = QUEUE_ENQUIRIES) -> str:
    return QUEUE_DUTY if after_hours(visit) else office_queue


async def identify_unit(visit: Visit) -> bool:
    """Settle which unit the call is about; False when the caller must go to an agent."""
    callers = visit.callers
    if len(callers) == 1:
        await visit.play("hotline/unit-identified")
        await visit.say_unit(callers[0].unit)
        if await visit.menu("hotline/unit-confirm", "12", tries=1) != "2":
            visit.identified(callers[0].unit, "caller-id", callers[0])
            return True
    elif len(callers) > 1:
        chosen = await choose_unit(visit)
        if chosen is None:
            return False
        visit.identified(chosen.unit, "chosen", chosen)
        return True
    return await key_in_unit(visit)


async def choose_unit(visit: Visit) -> CallerUnit | None:
    callers = visit.callers[:9]
    keys = "".join(str(i) for i in range(1, len(callers) + 1))
    for attempt in range(visit.ctx.menu_tries):
        key = await visit.play("hotline/unit-choice-intro", interrupt=keys)
        for i, caller in enumerate(callers, 1):
            key = key or await visit.play("hotline/press", interrupt=keys)
            key = key or await visit.call.say_digits(str(i), keys)
            key = key or await visit.play("hotline/for", interrupt=keys)
            if not key:
                await visit.say_unit(caller.unit)
        key = key or await visit.call.wait_for_digit(visit.ctx.digit_timeout_ms)
        if key in keys and key:
            return callers[int(key) - 1]
        visit.choice("unit-choice", "wrong" if key else "none")
        if attempt < visit.ctx.menu_tries - 1:
            await visit.play("hotline/invalid-choice" if key else "hotline/no-input")
    return None


async def key_in_unit(visit: Visit) -> bool:
    for attempt in range(visit.ctx.menu_tries):
        keys = await visit.keyed("hotline/enter-unit", 16)
        unit = unit_from_keypad(keys)
        if unit is not None and await unit_on_file(visit, unit):
            visit.identified(unit, "keyed")
            return True
        if keys:
            visit.step("unit:not-found")
        else:
            visit.choice("unit", "none")
        if attempt < visit.ctx.menu_tries - 1:
            if keys:
                await visit.play("hotline/unit-not-found", "hotline/try-again")
            else:
                await visit.play("hotline/no-input")
    return False


async def unit_on_file(visit: Visit, unit: str) -> bool:
    try:
        return await visit.ctx.run(visit.ctx.desk.unit_known, unit)
    except DatabaseUnavailable:
        return True  # cannot check now: take the report, staff check the unit later


async def main_menu(visit: Visit) -> None:
    if after_hours(visit):
        await visit.play("hotline/after-hours")
        visit.step("after-hours")
    choice = await visit.menu("hotline/main-menu", "12309")
    while choice == "9":  # the language key works here too
        await visit.set_language("en" if visit.lang == "zh" else "zh")
        visit.step(f"lang:{visit.lang}")
        choice = await visit.menu("hotline/main-menu", "12309")
    if choice == "1":
        await take_repair(visit)
    elif choice == "2":
        await take_complaint(visit)
    elif choice == "3":
        await tell_fees(visit)
    else:
        await visit.to_agent(staff_queue(visit))


async def take_repair(visit: Visit) -> None:
    key = await visit.menu("hotline/repair-category-menu", "".join(REPAIR_KEYS))
    if key is None:
        await visit.to_agent(staff_queue(visit, QUEUE_REPAIRS))
        return
    report = visit.start_report("repair", REPAIR_KEYS[key])
    emergency = visit.ctx.rules.is_emergency(Kind.REPAIR, report.category)
    for _ in range(MAX_RECORDINGS):
        await visit.record("hotline/record-after-beep", "descriptions")
        await visit.read_back_ticket(await visit.file_report(complete=False))
        choice = await visit.menu("hotline/confirm-or-rerecord", "12")
        if choice != "2":
            break
    if choice != "1":
        await visit.to_agent(staff_queue(visit, QUEUE_REPAIRS))
        return
    await visit.confirm_report()
    if emergency:
        # Flagged for immediate dispatch; a person takes it now, whatever the hour.
        await visit.play("hotline/emergency-ack")
        await visit.to_agent(staff_queue(visit, QUEUE_REPAIRS))
        return
    await visit.play("hotline/report-confirmed")
    visit.finished = True


async def take_complaint(visit: Visit) -> None:
    # Chosen by keypad like a repair's; no choice still files the complaint, as `other`.
    key = await visit.menu("hotline/complaint-category-menu", "".join(COMPLAINT_KEYS))
    visit.start_report("complaint", COMPLAINT_KEYS.get(key or "", "other"))
    await visit.record("hotline/complaint-record", "descriptions")
    about_staff = await visit.menu("hotline/complaint-about-staff", "12")
    assert visit.report is not None
    visit.report.about_staff = about_staff == "1"
    # Filing starts the one-hour escalation clock (the ticket's escalation_due_at).
    ticket = await visit.file_report(complete=True)
    await visit.read_back_ticket(ticket)
    await visit.play("hotline/complaint-registered")
    visit.finished = True
    if about_staff is None:
        await visit.to_agent(staff_queue(visit, QUEUE_COMPLAINTS))


async def tell_fees(visit: Visit) -> None:
    assert visit.unit is not None
    try:
        owed = await visit.ctx.run(visit.ctx.desk.arrears, visit.unit)
    except DatabaseUnavailable:
        await visit.to_agent(staff_queue(visit, QUEUE_CASHIER))
        return
    if owed is None:
        await visit.play("hotline/fees-no-arrears")
        visit.finished = True
        return
    await visit.say_amount(owed.amount, owed.months)
    visit.finished = True
    if not after_hours(visit) and await visit.menu("hotline/fees-press-cashier", "1", 1) == "1":
        await visit.to_agent(QUEUE_CASHIER)
