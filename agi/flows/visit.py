"""One call as a flow sees it: the caller, the path through the menus, the report being taken.

The building blocks every call flow shares: menus that replay on wrong or no input, recording a
voice description, filing the report (stored, or spooled when the database is down), handing the
caller to an agent queue, and writing the call record however the call ends.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from hotline.agi import say_zh
from hotline.agi.channel import Channel
from hotline.agi.errors import ChannelHungUp
from hotline.agi.prompts import prompt
from hotline.agi.protocol import channel_created
from hotline.agi.server import STATUS_DONE, STATUS_VARIABLE
from hotline.core.events import (
    CallAnswered,
    CallArrived,
    CallEnded,
    CallerIdentified,
    HandedToQueue,
    MenuChoice,
    ReportFiled,
    StepTaken,
)
from hotline.core.intake import CallerUnit, CallSummary, PhoneReport
from hotline.recordings.names import recording_path

from .context import FlowContext

log = logging.getLogger(__name__)

# Queues of the shipped dialplan (asterisk-conf/queues.conf).
QUEUE_REPAIRS, QUEUE_COMPLAINTS, QUEUE_ENQUIRIES = "repairs", "complaints", "enquiries"
QUEUE_DUTY, QUEUE_CASHIER = "duty", "cashier"


@dataclass
class Recording:
    path: str  # without extension, as given to RECORD FILE
    fmt: str
    seconds: float


class Visit:
    def __init__(self, call: Channel, ctx: FlowContext, direction: str = "in") -> None:
        self.call, self.ctx = call, ctx
        env = call.env
        self.id = env.call_id
        now = ctx.clock()
        # Asterisk's uniqueid starts with the epoch second the channel was made: the arrival.
        # Without a trustworthy one the rings before answer are unknown, not made up.
        created = channel_created(env.uniqueid, now)
        self._rings_known = created is not None
        self.summary = CallSummary(
            key=f"{direction}:{self.id}",
            direction=direction,
            arrived_at=created or now,
            caller=env.callerid,
            callee=env.extension,
            channel=env.channel,
            uniqueid=env.uniqueid,
        )
        self.lang = "zh"
        self.callers: list[CallerUnit] = []  # every resident the caller ID belongs to
        self.caller: CallerUnit | None = None
        self.unit: str | None = None
        self.report: PhoneReport | None = None
        self.ticket_id: int | None = None
        self.finished = False  # the caller got what they called for
        self._filings = 0  # times the report was filed (the first opens its ticket)
        self._recordings = 0
        s = self.summary
        ctx.events.publish(
            CallArrived(
                call_id=self.id,
                direction=direction,
                route=env.route,
                caller=s.caller,
                callee=s.callee,
                uniqueid=env.uniqueid,
                arrived_at=s.arrived_at,
                arrival_known=self._rings_known,
            )
        )

    # bookkeeping --------------------------------------------------------------------------------
    def step(self, name: str) -> None:
        self.summary.path.append(name)
        self.ctx.events.publish(StepTaken(call_id=self.id, step=name))

    def choice(self, menu: str, choice: str) -> None:
        """A keypad answer to `menu`: a key, or "wrong" / "none" when no valid key came."""
        self.step(f"{menu}:{choice}")
        self.ctx.events.publish(MenuChoice(call_id=self.id, menu=menu, choice=choice))

    def identified(self, unit: str, how: str, caller: CallerUnit | None = None) -> None:
        """The unit the call is about is settled (`caller`: the resident, when known)."""
        self.caller, self.unit = caller, unit
        self.step(f"unit:{how}")
        self.ctx.events.publish(
            CallerIdentified(
                call_id=self.id,
                unit=unit,
                how=how,
                resident_id=caller.resident_id if caller else None,
                resident_name=caller.name if caller else None,
                units=tuple(c.unit for c in self.callers),
            )
        )

    async def answer(self) -> None:
        """Answer, then write the call record ahead and look up the caller (one transaction)."""
        await self.call.answer()
        s = self.summary
        s.answered_at = self.ctx.clock()
        if self._rings_known:
            s.rings_before_answer = self.ctx.rules.rings_before_answer(s.arrived_at, s.answered_at)
        self.answered()
        self.callers = await self.ctx.run(self.ctx.desk.arrive, s)

    def answered(self) -> None:
        """Tell the bus the call was answered (at summary.answered_at)."""
        s = self.summary
        assert s.answered_at is not None
        self.ctx.events.publish(
            CallAnswered(
                call_id=self.id,
                direction=s.direction,
                caller=s.caller,
                answered_at=s.answered_at,
                arrived_at=s.arrived_at if self._rings_known else None,
                rings=s.rings_before_answer,
            )
        )

    async def set_language(self, lang: str) -> None:
        self.lang = lang
        await self.call.set_variable("CHANNEL(language)", lang)

    # talking -----------------------------------------------------------------------------------
    async def play(self, *names: str, interrupt: str = "") -> str:
        """Play prompts in turn; a digit of `interrupt` stops them and is returned."""
        for name in names:
            digit = await self.call.stream_file(prompt(name), interrupt)
            if digit:
                return digit
        return ""

    async def menu(self, name: str, keys: str, tries: int | None = None) -> str | None:
        """Play a menu and read one key; wrong or no input replays it. None after the last try."""
        tries = tries or self.ctx.menu_tries
        short = name.removeprefix("hotline/")
        for attempt in range(1, tries + 1):
            key = await self.call.get_data(prompt(name), self.ctx.digit_timeout_ms, 1)
            if key and key in keys:
                self.summary.keypad[short] = key
                self.choice(short, key)
                return key
            self.choice(short, "wrong" if key else "none")
            if attempt < tries:
                await self.play("hotline/invalid-choice" if key else "hotline/no-input")
        return None

    async def keyed(self, name: str, max_digits: int) -> str:
        """Play a prompt and read keys until `#`, the timeout or `max_digits`."""
        return await self.call.get_data(prompt(name), self.ctx.digit_timeout_ms * 2, max_digits)

    async def say_unit(self, unit: str) -> None:
        """`3-1-201` as building 3, entrance 1, room 201 (zh: the digits before each word)."""
        parts = ("hotline/unit-building", "hotline/unit-entrance", "hotline/unit-room")
        for number, word in zip(unit.split("-"), parts, strict=True):
            if self.lang == "zh":
                await self.call.say_digits(number)
                await self.play(word)
            else:
                await self.play(word)
                await self.call.say_digits(number)

    async def read_back_ticket(self, ticket: int | None) -> None:
        if ticket is not None:  # None: spooled while the database is down, numbered on replay
            await self.play("hotline/ticket-number-is")
            await self.call.say_digits(str(ticket))

    async def say_amount(self, amount: Decimal, months: int) -> None:
        """ "The amount due is 1280 yuan [point 5] for 3 months": en by SAY NUMBER, zh with our
        Mandarin number words (SAY NUMBER on a zh channel reads units in English)."""
        yuan, cents = divmod(amount.quantize(Decimal("0.01")) * 100, 100)
        await self.play("hotline/fees-amount-due")
        if self.lang == "zh":
            await self.say_words(
                [*say_zh.amount(amount), "hotline/fees-for", *say_zh.months(months)]
            )
            return
        await self.call.say_number(int(yuan))
        if cents:
            await self.play("hotline/fees-point")
            await self.call.say_digits(f"{int(cents):02d}".rstrip("0"))
        await self.play("hotline/fees-yuan", "hotline/fees-for")
        await self.call.say_number(months)
        await self.play("hotline/fees-months")

    async def say_words(self, names: list[str]) -> None:
        """Play number words (agi/say_zh.py): our prompts and the Mandarin `digits/0`-`9`."""
        for name in names:
            await self.call.stream_file(name if name.startswith("digits/") else prompt(name), "")

    async def record(self, intro: str, kind: str) -> Recording:
        """Record a voice description after `intro`; a hang-up keeps the partial recording."""
        await self.play(intro)
        self._recordings += 1
        path = str(recording_path(self.ctx.recordings_dir / kind, f"{self.id}-{self._recordings}"))
        result = await self.call.record_file(
            path, "wav", "#", self.ctx.record_max_seconds * 1000, beep=True, silence_s=None
        )
        recording = Recording(path, "wav", result.endpos / 8000)
        self.step("record")
        if self.report is not None:
            self.report.recording = f"{path}.wav"
        if result.hung_up:
            raise ChannelHungUp("caller hung up while recording")
        return recording

    # the report --------------------------------------------------------------------------------
    def start_report(self, kind: str, category: str) -> PhoneReport:
        self.report = PhoneReport(
            key=self.summary.key,
            kind=kind,
            category=category,
            received_at=self.summary.answered_at or self.summary.arrived_at,
            unit=self.unit,
            resident_id=self.caller.resident_id if self.caller else None,
            caller_number=self.summary.caller,
            incomplete=True,
        )
        self.summary.report_key = self.report.key
        return self.report

    async def file_report(self, *, complete: bool) -> int | None:
        """Store the report as it stands (again after each change); None when it was spooled."""
        assert self.report is not None, "start_report first"
        self.report.incomplete = not complete
        first, self._filings = self._filings == 0, self._filings + 1
        self._filed(await self.ctx.run(self.ctx.desk.file_report, self.report, first=first))
        return self.ticket_id

    async def confirm_report(self) -> None:
        """The caller confirmed the report: stored complete (or spooled) before anyone says so.
        When neither the database nor the spool can keep it, NotKept fails the flow and the
        dialplan hands the caller to a person."""
        await self.file_report(complete=True)

    def _filed(self, ticket_id: int | None) -> None:
        assert self.report is not None
        self.ticket_id = ticket_id if ticket_id is not None else self.ticket_id
        report = self.report
        self.ctx.events.publish(
            ReportFiled(
                call_id=self.id,
                ticket_id=ticket_id,
                kind=report.kind,
                category=report.category,
                unit=report.unit,
                resident_id=report.resident_id,
                complete=not report.incomplete,
                recording=report.recording,
                about_staff=report.about_staff,
            )
        )

    # endings -----------------------------------------------------------------------------------
    async def to_agent(self, queue: str) -> None:
        """Hand the caller to a queue: the dialplan queues the call when the flow returns."""
        self.step(f"queue:{queue}")
        self.ctx.events.publish(
            HandedToQueue(
                call_id=self.id,
                queue=queue,
                ticket_id=self.ticket_id,
                unit=self.unit,
                resident_id=self.caller.resident_id if self.caller else None,
            )
        )
        await self.play("hotline/transferring")
        call, s = self.call, self.summary
        await call.set_variable("HOTLINE_QUEUE", queue)
        if self.ticket_id is not None:
            await call.set_variable("HOTLINE_TICKET", str(self.ticket_id))
        if self.unit:
            await call.set_variable("HOTLINE_UNIT", self.unit)
        name = " ".join(p for p in (self.unit, self.caller.name if self.caller else None) if p)
        if name:
            await call.set_variable("HOTLINE_CALLERNAME", name)
        if self.ctx.record_calls:
            s.recording = str(recording_path(self.ctx.recordings_dir / "calls", self.id, ".wav"))
            await call.set_variable("HOTLINE_RECORDING", s.recording)
        s.queue = queue
        self.finished = True

    async def close(self, error: BaseException | None) -> None:
        """Write down how the call ended; an unfinished report is kept, marked incomplete."""
        s = self.summary
        s.ended_at = self.ctx.clock()
        if isinstance(error, ChannelHungUp):
            # The line dropped because the service is stopping: the dialplan sends the caller on
            # to the duty queue (no done-marker), so this call was interrupted, not hung up.
            ended = "interrupted" if self.ctx.desk.stopping else "caller_hangup"
            s.disposition = "completed" if self.finished else ended
        elif error is not None:
            s.disposition = "failed"
        else:
            s.disposition = "to_agent" if s.queue else "completed"
        report = None
        unfinished = self.report is None or self.report.incomplete
        if not self.finished and unfinished and s.answered_at is not None:
            if self.report is None:
                # Hung up (or failed) before choosing what they called for: a lost call the
                # centre calls back.
                self.start_report("enquiry", "other")
                assert self.report is not None
                self.report.text = f"call ended at {s.path[-1] if s.path else 'the greeting'}"
            report = self.report
        ticket_id = await self.ctx.run(self.ctx.desk.close_call, s, report)
        if report is not None:
            self._filed(ticket_id)
        self.ended(s.disposition)
        if error is None:  # the last act: the dialplan sends a call without it to the duty queue
            await self.call.set_variable(STATUS_VARIABLE, STATUS_DONE)

    def ended(self, disposition: str) -> None:
        s = self.summary
        assert s.ended_at is not None
        self.ctx.events.publish(
            CallEnded(
                call_id=self.id,
                direction=s.direction,
                disposition=disposition,
                seconds=max((s.ended_at - s.arrived_at).total_seconds(), 0.0),
                path=tuple(s.path),
                ticket_id=self.ticket_id,
            )
        )
