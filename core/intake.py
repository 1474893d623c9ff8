"""The intake desk: what a phone call flow asks of the centre's records, and how it is kept.

Blocking (database) work; call flows run these methods off the reactor. When the database is down,
reports and call records go to the spool and are replayed, exactly once, when it returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Connection, Insert, String, and_, bindparam, func, insert, select
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .db import Database, DatabaseUnavailable
from .models import ArrearsAccount, CallRecord, Phone, Resident, Ticket, TicketEvent, Unit
from .residents import find_unit
from .rules import Rules
from .spool import Entry, Spool
from .tickets import Intake, ticket_row
from .units import normalise_phone
from .vocabulary import DomainError

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
UNIT_ID = select(Unit.id).where(Unit.code == bindparam("code"))
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
INSERT_TICKET = insert(Ticket).returning(Ticket.id)
INSERT_TICKET_EVENT = insert(TicketEvent)


def insert_call_record(dialect: str) -> Insert:
    """The call record, linked to the ticket its report made; a record replayed from the
    spool after it landed once is a no-op (its key)."""
    insert_once = sqlite_insert if dialect == "sqlite" else postgresql_insert
    ticket = select(Ticket.id).where(Ticket.intake_key == bindparam("report_key"))
    return (
        insert_once(CallRecord)
        .values(ticket_id=ticket.scalar_subquery())
        .on_conflict_do_nothing(index_elements=["key"])
    )


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
    def __init__(self, db: Database, rules: Rules, spool: Spool) -> None:
        self.db, self.rules, self.spool = db, rules, spool
        self._insert_call_record = insert_call_record(db.engine.dialect.name)
        # Told when something is spooled or replayed (the metrics).
        self.on_spooled: Callable[[], None] = lambda: None
        self.on_replayed: Callable[[int], None] = lambda n: None

    # lookups ---------------------------------------------------------------------------------
    def identify(self, number: str | None) -> list[CallerUnit]:
        try:
            normalised = normalise_phone(number or "")
        except DomainError:
            return []  # withheld, unknown or not a number
        with self.db.transaction() as c:
            return [CallerUnit(*row) for row in c.execute(CALLER_UNITS, {"number": normalised})]

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
    def file_report(self, report: PhoneReport) -> int | None:
        """The ticket number, or None when the report was spooled for later."""
        try:
            return self._store_report(report)
        except DatabaseUnavailable:
            self.spool.append("report", asdict(report))
            self.on_spooled()
            return None

    def close_call(self, summary: CallSummary, report: PhoneReport | None = None) -> int | None:
        """The call's record, with the last change to its report if it has one, in one
        transaction; spooled when the database is down. Returns the report's ticket number."""
        try:
            with self.db.transaction() as c:
                ticket_id = self._report_tx(c, report) if report is not None else None
                self._call_tx(c, summary)
                return ticket_id
        except DatabaseUnavailable:
            if report is not None:
                self.spool.append("report", asdict(report))
            self.spool.append("call", asdict(summary))
            self.on_spooled()
            return None

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
        else:
            times = ("arrived_at", "answered_at", "ended_at")
            self._store_call(CallSummary(**_datetimes(data, *times)))

    def _store_report(self, report: PhoneReport) -> int:
        with self.db.transaction() as c:
            return self._report_tx(c, report)

    def _store_call(self, summary: CallSummary) -> None:
        with self.db.transaction() as c:
            self._call_tx(c, summary)

    def _report_tx(self, c: Connection, report: PhoneReport) -> int:
        """Open the ticket, or bring it up to date: a flow files its report again as it grows."""
        updated = c.execute(
            UPDATE_REPORT,
            {
                "key": report.key,
                "recording": report.recording,
                "text": report.text,
                "about_staff": report.about_staff,
                "incomplete": report.incomplete,
            },
        ).scalar()
        if updated is not None:
            return updated
        unit_id = None
        if report.unit:
            unit_id = c.scalar(UNIT_ID, {"code": report.unit})
            if unit_id is None:
                # A unit keyed in while the database was down, and not on file: keep the
                # report, with the unit in its text, for staff to sort out.
                report.text = f"[unit {report.unit} not on file] {report.text or ''}".strip()
        row = ticket_row(self.rules, report.intake(), unit_id)
        ticket_id = c.execute(INSERT_TICKET, row).scalar_one()
        c.execute(
            INSERT_TICKET_EVENT,
            {
                "ticket_id": ticket_id,
                "to_state": "new",
                "at": report.received_at,
                "note": report.text,
            },
        )
        return ticket_id

    def _call_tx(self, connection: Connection, c: CallSummary) -> None:
        connection.execute(
            self._insert_call_record,
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
                "report_key": c.report_key,
            },
        )
