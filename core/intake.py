"""The intake desk: what a phone call flow asks of the centre's records, and how it is kept.

Blocking (database) work; call flows run these methods off the reactor. When the database is down,
reports and call records go to the spool and are replayed, exactly once, when it returns.

The call record is written ahead: inserted when the call arrives (with the caller lookup) and
finished at close, so a crash leaves a record without an ending, which `settle_interrupted` marks
`interrupted` at the next start, linked to the report the call made (same key). Each record names
the instance that wrote it: another instance on the database settles it only once that instance's
heartbeat has stopped (`settle_dead_instances`, core/instances.py), never while it runs.
Values from the network are cut to their columns' widths here, so a long caller ID never fails a
call mid-flow.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    FromClause,
    Insert,
    String,
    and_,
    bindparam,
    func,
    insert,
    select,
    true,
)
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from . import outbox
from .db import Database, DatabaseUnavailable, Prepared
from .instances import Heartbeat
from .models import ArrearsAccount, CallRecord, Phone, Resident, Ticket, TicketEvent, Unit
from .residents import find_unit
from .rules import Rules
from .spool import Entry, Spool, SpoolFailed
from .tickets import Intake, ticket_row
from .units import normalise_phone
from .vocabulary import DomainError, WebhookEventType
from .webhook_payloads import CALL_FIELDS, call_ended, ticket_created

log = logging.getLogger(__name__)

# The statements every call runs, built once with bound parameters: building and coercing them
# per call cost more CPU than SQLite spent executing them.
CALLER_UNITS = (
    select(Resident.id, Resident.name, Unit.code, Resident.lang)
    .join(Phone, Phone.resident_id == Resident.id)
    .join(Unit, Unit.id == Resident.unit_id)
    .where(Phone.number == bindparam("number"))
    .order_by(Unit.code, Resident.id)
)
# A report filed again as it grows (recorded again, confirmed); once complete it stays complete.
UPDATE_REPORT = (
    sql_update(Ticket)
    .where(Ticket.intake_key == bindparam("key"))
    .values(
        recording=func.coalesce(bindparam("recording", type_=String), Ticket.recording),
        text=func.coalesce(bindparam("text", type_=String), Ticket.text),
        about_staff=bindparam("about_staff", type_=Boolean),
        incomplete=and_(Ticket.incomplete, bindparam("incomplete", type_=Boolean)),
    )
    .returning(Ticket.id)
)
# The unit looked up in the insert itself: one statement fewer for every report.
INSERT_TICKET = (
    insert(Ticket)
    .values(unit_id=select(Unit.id).where(Unit.code == bindparam("unit_code")).scalar_subquery())
    .returning(Ticket.id, Ticket.unit_id)
)
NOTE_TICKET = sql_update(Ticket).where(Ticket.id == bindparam("ticket_id"))
INSERT_TICKET_EVENT = insert(TicketEvent)


# What a later write of the call record may change; the arrival time stays the first one seen.
CALL_UPDATES = (
    "caller",
    "callee",
    "channel",
    "uniqueid",
    "answered_at",
    "ended_at",
    "rings_before_answer",
    "disposition",
    "path",
    "keypad",
    "queue",
    "recording",
)


CALL_ENDED = WebhookEventType.CALL_ENDED
TICKET_CREATED = WebhookEventType.TICKET_CREATED
# The call record's columns a call.ended webhook event carries.
CALL_COLUMNS = [CallRecord.__table__.c[name] for name in CALL_FIELDS]


def call_record_statements(dialect: str) -> tuple[Insert, Insert]:
    """(arrival, update): the call record, linked to the ticket its report made. The arrival is
    a no-op once the record exists (a spooled arrival replayed late never undoes its ending); the
    update writes the record whether its arrival landed or not, and again on replay the same."""
    insert_once = sqlite_insert if dialect == "sqlite" else postgresql_insert
    ticket = select(Ticket.id).where(Ticket.intake_key == bindparam("report_key"))
    row = insert_once(CallRecord).values(ticket_id=ticket.scalar_subquery())
    arrival = row.on_conflict_do_nothing(index_elements=["key"])
    changes: dict[str, ColumnElement[Any]] = {name: row.excluded[name] for name in CALL_UPDATES}
    changes["ticket_id"] = func.coalesce(row.excluded.ticket_id, CallRecord.ticket_id)
    return arrival, row.on_conflict_do_update(index_elements=["key"], set_=changes)


def widths(table: FromClause, *names: str) -> dict[str, int]:
    """The declared lengths of `table`'s String columns `names`."""
    found = {}
    for name in names:
        column = table.c[name]
        if not isinstance(column.type, String) or column.type.length is None:
            raise TypeError(f"{table}.{name} is not a String column with a length")
        found[name] = column.type.length
    return found


# The columns what Asterisk sends reaches (caller ID, channel, uniqueid and the names built of it).
CALL_WIDTHS = widths(
    CallRecord.__table__,
    *("key", "caller", "callee", "channel", "uniqueid", "recording", "queue"),
)
_TICKET = widths(Ticket.__table__, "intake_key", "caller_number", "recording")
REPORT_WIDTHS = {
    "key": _TICKET["intake_key"],
    "caller_number": _TICKET["caller_number"],
    "recording": _TICKET["recording"],
}


def bounded(row: dict[str, Any], limits: dict[str, int]) -> dict[str, Any]:
    """Strings cut to their columns' widths: what Asterisk sends is never refused mid-call."""
    for name, width in limits.items():
        value = row[name]
        if value is not None and len(value) > width:
            row[name] = value[:width]
    return row


class NotKept(RuntimeError):
    """Neither the database nor the spool could keep a report: the caller must not be told it
    is stored (the flow fails, and the dialplan hands the call to a person)."""


@dataclass(frozen=True)
class CallerUnit:
    resident_id: int
    name: str
    unit: str
    lang: str


@dataclass(frozen=True)
class Arrears:
    amount: Decimal
    months: int


@dataclass
class PhoneReport:
    """A report as the call flow captured it; `key` makes storing it idempotent."""

    key: str
    kind: str
    category: str
    received_at: datetime
    unit: str | None = None
    resident_id: int | None = None
    caller_number: str | None = None
    text: str | None = None
    recording: str | None = None
    about_staff: bool = False
    incomplete: bool = False

    def intake(self) -> Intake:
        return Intake(
            kind=self.kind,
            category=self.category,
            received_at=self.received_at,
            unit=self.unit,
            resident_id=self.resident_id,
            caller_number=self.caller_number,
            text=self.text,
            recording=self.recording,
            about_staff=self.about_staff,
            incomplete=self.incomplete,
            intake_key=self.key,
            channel="phone",
        )


@dataclass
class CallSummary:
    key: str
    direction: str
    arrived_at: datetime
    caller: str | None = None
    callee: str | None = None
    channel: str | None = None
    uniqueid: str | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    rings_before_answer: int | None = None
    disposition: str | None = None
    path: list[str] = field(default_factory=list)
    keypad: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None
    recording: str | None = None
    report_key: str | None = None  # the PhoneReport this call made, if any


def _datetimes(data: Entry, *names: str) -> Entry:
    return {k: (datetime.fromisoformat(v) if k in names and v else v) for k, v in data.items()}


class IntakeDesk:
    def __init__(
        self, db: Database, rules: Rules, spool: Spool, heartbeat: Heartbeat | None = None
    ) -> None:
        """`heartbeat`: this `hotline serve` instance's, written on its call records; None for
        classic AGI (one process a call, no loop to beat from)."""
        self.db, self.rules, self.spool = db, rules, spool
        self.heartbeat = heartbeat
        self._instance_id = heartbeat.id if heartbeat is not None else None
        dialect = db.engine.dialect
        arrival, call_update = call_record_statements(dialect.name)
        # The same, answering the row for a call.ended webhook event when one is wanted.
        self._call_update_row = call_update.returning(*CALL_COLUMNS)
        self._arrival = Prepared(arrival, dialect)
        self._call_update = Prepared(call_update, dialect)
        self._caller_units = Prepared(CALLER_UNITS, dialect)
        self._update_report = Prepared(UPDATE_REPORT, dialect)
        self._insert_ticket = Prepared(INSERT_TICKET, dialect)
        self._insert_ticket_event = Prepared(INSERT_TICKET_EVENT, dialect)
        # Calls of this process not closed yet: never settled as interrupted while they run.
        self._open: set[str] = set()
        # Set when the service begins to stop: a call cut off then was interrupted, not hung up.
        self.stopping = False
        # Told when something is spooled, replayed, lost or settled (the metrics).
        self.on_spooled: Callable[[], None] = lambda: None
        self.on_replayed: Callable[[int], None] = lambda n: None
        self.on_lost: Callable[[], None] = lambda: None
        self.on_interrupted: Callable[[int], None] = lambda n: None

    # lookups ---------------------------------------------------------------------------------
    def identify(self, number: str | None) -> list[CallerUnit]:
        with self.db.transaction() as c:
            return self._callers(c, number)

    def arrive(self, summary: CallSummary) -> list[CallerUnit]:
        """Write the call record ahead and look up the caller, in one transaction: the residents
        the caller ID belongs to (none while the database is down: the arrival is spooled)."""
        self._open.add(summary.key)
        try:
            with self.db.transaction() as c:
                self._arrival.run(c, self._call_row(summary))
                return self._callers(c, summary.caller)
        except (DatabaseUnavailable, SQLAlchemyError) as exc:
            self._keep(exc, ("arrival", summary))
            return []
        except NotKept:
            return []  # logged and counted; the call goes on, it has not been promised anything

    def _callers(self, c: Connection, number: str | None) -> list[CallerUnit]:
        try:
            normalised = normalise_phone(number or "")
        except DomainError:
            return []  # withheld, unknown or not a number
        return [CallerUnit(*row) for row in self._caller_units.run(c, {"number": normalised})]

    def unit_known(self, code: str) -> bool:
        with self.db.session() as s:
            return find_unit(s, code) is not None

    def arrears(self, unit: str) -> Arrears | None:
        with self.db.session() as s:
            account = s.scalar(
                select(ArrearsAccount)
                .join(Unit)
                .where(Unit.code == unit, ArrearsAccount.paid_at.is_(None))
            )
            if account is None:
                return None
            return Arrears(account.amount - account.paid_amount, account.months)

    # writes: stored, or spooled when the database is down -------------------------------------
    def file_report(self, report: PhoneReport, *, first: bool = False) -> int | None:
        """The ticket number, or None when the report was spooled for later. NotKept when
        neither the database nor the spool could keep it. `first`: the flow never filed it
        before, so there is no ticket to update. (The report's key is its call's: a call cut off
        before its close finds its report by that.)"""
        try:
            return self._store_report(report, first)
        except (DatabaseUnavailable, SQLAlchemyError) as exc:
            self._keep(exc, ("report", report))
            return None

    def close_call(self, summary: CallSummary, report: PhoneReport | None = None) -> int | None:
        """The call's record, with the last change to its report if it has one, in one
        transaction; spooled when the database is down. Returns the report's ticket number."""
        try:
            with self.db.transaction() as c:
                ticket_id = self._report_tx(c, report) if report is not None else None
                self._call_tx(c, summary)
                return ticket_id
        except (DatabaseUnavailable, SQLAlchemyError) as exc:
            first = [("report", report)] if report is not None else []
            # NotKept is logged and counted: the caller has gone, there is no one left to tell.
            with suppress(NotKept):
                self._keep(exc, *first, ("call", summary))
            return None
        finally:
            self._open.discard(summary.key)

    def _keep(self, exc: Exception, *entries: tuple[str, PhoneReport | CallSummary]) -> None:
        """Spool what the database did not take. A refusal (not an outage) is logged: replay sets
        the entry aside with the reason. NotKept when the spool cannot write either."""
        if not isinstance(exc, DatabaseUnavailable):
            log.error("database refused %s: %s", entries[0][0], str(exc).splitlines()[0])
        try:
            for kind, data in entries:
                self.spool.append(kind, asdict(data))
        except SpoolFailed as failed:
            log.error("LOST %s: %s; and %s", entries[0][0], exc, failed)
            self.on_lost()
            raise NotKept(str(failed)) from failed
        self.on_spooled()

    def settle_interrupted(self, at: datetime) -> int:
        """At a start: calls that arrived and never ended (the service died under them) end
        `interrupted`, keeping what was known. Calls still running in this process, and those of
        other live instances on the database, are left alone."""
        which = self.heartbeat.left_by_a_stop() if self.heartbeat is not None else true()
        return self._settle(at, which, "cut off by a stop of the service")

    def settle_dead_instances(self, at: datetime) -> int:
        """The same for the calls of instances whose heartbeat stopped (they died under them),
        once this instance has beaten long enough to judge."""
        if self.heartbeat is None or not self.heartbeat.judging(at):
            return 0
        return self._settle(at, self.heartbeat.left_by_the_dead(at), "of a dead instance")

    def _settle(self, at: datetime, which: ColumnElement[bool], why: str) -> int:
        report = select(Ticket.id).where(Ticket.intake_key == CallRecord.key)
        settle = (
            sql_update(CallRecord)
            .where(
                CallRecord.direction == "in",
                CallRecord.ended_at.is_(None),
                CallRecord.key.not_in(list(self._open)),
                which,
            )
            .values(
                disposition="interrupted",
                ended_at=at,
                ticket_id=func.coalesce(CallRecord.ticket_id, report.scalar_subquery()),
            )
        )
        with self.db.transaction() as c:
            if outbox.wants(c, CALL_ENDED):
                rows = c.execute(settle.returning(*CALL_COLUMNS)).all()
                for row in rows:
                    outbox.emit(c, CALL_ENDED, at, call_ended(self.rules, dict(row._mapping)))
                settled = len(rows)
            else:
                settled = c.execute(settle).rowcount
        if settled:
            log.warning("%d call(s) %s: interrupted", settled, why)
            self.on_interrupted(settled)
        return settled

    def replay_spool(self) -> int:
        """Land what was spooled; stops quietly while the database is still down."""
        try:
            replayed = self.spool.replay(self._store_entry)
        except DatabaseUnavailable:
            return 0
        if replayed:
            log.info("replayed %d spooled intake record(s)", replayed)
            self.on_replayed(replayed)
        return replayed

    def _store_entry(self, kind: str, data: Entry) -> None:
        if kind == "report":
            self._store_report(PhoneReport(**_datetimes(data, "received_at")))
            return
        summary = CallSummary(**_datetimes(data, "arrived_at", "answered_at", "ended_at"))
        with self.db.transaction() as c:
            if kind == "arrival":
                self._arrival.run(c, self._call_row(summary))
            else:
                self._call_tx(c, summary)

    def _store_report(self, report: PhoneReport, first: bool = False) -> int:
        with self.db.transaction() as c:
            return self._report_tx(c, report, first)

    def _report_tx(self, c: Connection, report: PhoneReport, first: bool = False) -> int:
        """Open the ticket, or bring it up to date: a flow files its report again as it grows."""
        bounded(vars(report), REPORT_WIDTHS)  # in place: every statement below sees it cut
        if not first:
            updated = self._update_report.run(
                c,
                {
                    "key": report.key,
                    "recording": report.recording,
                    "text": report.text,
                    "about_staff": report.about_staff,
                    "incomplete": report.incomplete,
                },
            )
            if updated:
                (ticket_id,) = updated[0]
                return int(ticket_id)
        row = ticket_row(self.rules, report.intake(), None)
        del row["unit_id"]  # INSERT_TICKET finds it
        ((ticket_id, unit_id),) = self._insert_ticket.run(c, {**row, "unit_code": report.unit})
        if report.unit and unit_id is None:
            # A unit keyed in while the database was down, and not on file: keep the report,
            # with the unit in its text, for staff to sort out. (Kept once: a batch that was
            # undone runs this again, on the same report.)
            note = f"[unit {report.unit} not on file]"
            if not (report.text or "").startswith(note):
                report.text = f"{note} {report.text or ''}".strip()
            c.execute(NOTE_TICKET.values(text=report.text), {"ticket_id": ticket_id})
        if outbox.wants(c, TICKET_CREATED):
            values = {**row, "text": report.text}  # with the note, if one was added
            data = ticket_created(self.rules, ticket_id, values, report.unit if unit_id else None)
            outbox.emit(c, TICKET_CREATED, report.received_at, data)
        self._insert_ticket_event.run(
            c,
            {
                "ticket_id": ticket_id,
                "to_state": "new",
                "at": report.received_at,
                "note": report.text,
            },
        )
        return int(ticket_id)

    def _call_tx(self, connection: Connection, summary: CallSummary) -> None:
        if not outbox.wants(connection, CALL_ENDED):
            self._call_update.run(connection, self._call_row(summary))
            return
        row = connection.execute(self._call_update_row, self._call_row(summary)).one()
        at = summary.ended_at or summary.arrived_at
        outbox.emit(connection, CALL_ENDED, at, call_ended(self.rules, dict(row._mapping)))

    def _call_row(self, c: CallSummary) -> dict[str, Any]:
        return bounded(
            {
                "key": c.key,
                "direction": c.direction,
                "caller": c.caller,
                "callee": c.callee,
                "channel": c.channel,
                "uniqueid": c.uniqueid,
                "arrived_at": c.arrived_at,
                "answered_at": c.answered_at,
                "ended_at": c.ended_at,
                "rings_before_answer": c.rings_before_answer,
                "disposition": c.disposition,
                "path": ">".join(c.path),
                "keypad": c.keypad or None,
                "queue": c.queue,
                "recording": c.recording,
                "report_key": c.report_key and c.report_key[: REPORT_WIDTHS["key"]],
                "instance_id": self._instance_id,
            },
            CALL_WIDTHS,
        )
