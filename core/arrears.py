"""Fee arrears (催缴): the accounts, and the reminder ladder day 20, +10 d, +10 d, then letter."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, false, func, insert, select, update
from sqlalchemy.orm import Session

from .csv_import import BadRow, parse_file
from .models import ArrearsAccount, Unit
from .pages import Page
from .rules import Reminder, Rules
from .units import parse_unit
from .vocabulary import REMINDER_LADDER, DomainError, NotFound, ReminderStage


@dataclass(frozen=True)
class ArrearsRow:
    unit: str
    amount: Decimal
    months: int


@dataclass
class ArrearsImport:
    imported: int
    bad: list[BadRow]


@dataclass(frozen=True)
class DueAccount:
    """What a due reminder names of its account, read as a plain row: thousands may be due, and
    ORM objects with their units cost ten times as much."""

    id: int
    unit_id: int
    unit: str  # the unit's code
    amount: Decimal
    months: int
    stage: str


@dataclass(frozen=True)
class DueReminder:
    account: DueAccount
    reminder: Reminder


def parse_amount(text: str) -> Decimal:
    """A sum in yuan as written in a CSV or on the command line."""
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise DomainError(f"bad amount {text!r}") from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise DomainError(f"bad amount {text!r}: a positive sum in yuan, at most 2 decimals")
    return amount


def _parse(row: dict[str, str]) -> ArrearsRow:
    unit = parse_unit(row["unit"])
    amount = parse_amount(row["amount"])
    try:
        months = int(row["months"])
    except ValueError:
        raise DomainError(f"bad months {row['months']!r}") from None
    if months < 0:
        raise DomainError(f"bad months {months}: cannot be negative")
    return ArrearsRow(unit, amount, months)


def collection_month(imported_at: date, months_overdue: int) -> date:
    """The month the oldest unpaid fee fell due: `months_overdue` months before the import."""
    return _add_months(imported_at, -months_overdue)


def _add_months(day: date, months: int) -> date:
    """The first of the month `months` after `day`'s (before it when negative)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def import_arrears(
    session: Session, rules: Rules, path: Path, at: datetime, *, skip_invalid: bool = False
) -> ArrearsImport:
    parsed = parse_file(path, ("unit", "amount", "months"), (), _parse)
    unit_ids = dict(session.execute(select(Unit.code, Unit.id)).all())
    seen: dict[str, int] = {}
    good: list[ArrearsRow] = []
    for line, row in parsed.rows:
        if row.unit not in unit_ids:
            parsed.bad.append(BadRow(line, f"unknown unit {row.unit} (import its residents first)"))
        elif row.unit in seen:
            parsed.bad.append(BadRow(line, f"unit {row.unit} already on line {seen[row.unit]}"))
        else:
            seen[row.unit] = line
            good.append(row)
    parsed.bad.sort(key=lambda b: b.line)
    if parsed.bad and not skip_invalid:
        return ArrearsImport(0, parsed.bad)
    local_day = at.astimezone(rules.tz).date()
    existing = dict(session.execute(select(ArrearsAccount.unit_id, ArrearsAccount.id)).all())
    values = [
        {
            "unit_id": unit_ids[r.unit],
            "amount": r.amount,
            "months": r.months,
            "collection_month": collection_month(local_day, r.months),
            "imported_at": at,
        }
        for r in good
    ]
    # A re-import refreshes the sum owed and keeps where the reminder ladder stands.
    updates = [dict(v, id=existing[v["unit_id"]]) for v in values if v["unit_id"] in existing]
    inserts = [v for v in values if v["unit_id"] not in existing]
    if updates:
        session.execute(
            update(ArrearsAccount),
            [{k: v for k, v in u.items() if k != "unit_id"} for u in updates],
        )
    if inserts:
        session.execute(insert(ArrearsAccount), inserts)
    return ArrearsImport(len(good), parsed.bad)


def next_reminder(rules: Rules, account: ArrearsAccount) -> Reminder | None:
    if account.paid_at is not None or account.cashier_check:
        return None
    return rules.next_reminder(
        ReminderStage(account.stage), account.collection_month, account.last_reminder_at
    )


def due_reminders(session: Session, rules: Rules, at: datetime) -> list[DueReminder]:
    """Every unpaid account whose next reminder falls at or before `at`, oldest first."""
    return due_reminder_page(session, rules, at, None).items


def due_reminder_page(
    session: Session, rules: Rules, at: datetime, limit: int | None, *, passed: bool = False
) -> Page[DueReminder]:
    """The `limit` oldest reminders due at or before `at` (strictly before it when `passed`;
    every one when `limit` is None), and how many are due in all. Each rung of the ladder is
    read in its deadline's order and cut to `limit` in SQL, so a page costs a page. Statements of
    the tables' columns: compiled without the ORM, they configure no mapper (~25 ms of a fresh
    command); the session still flushes before them (SQLAlchemy 2 autoflushes for Core too)."""
    due: list[DueReminder] = []
    total = 0
    accounts, units = ArrearsAccount.__table__.c, Unit.__table__
    for where, order in _due_by_rung(rules, at, operator.lt if passed else operator.le):
        rows = session.execute(
            select(
                accounts.id,
                accounts.unit_id,
                units.c.code,
                accounts.amount,
                accounts.months,
                accounts.stage,
                accounts.collection_month,
                accounts.last_reminder_at,
                # How many the rung has in all, counted by the same pass that reads the page.
                func.count().over(),
            )
            .join(units, accounts.unit_id == units.c.id)
            .where(accounts.paid_at.is_(None), accounts.cashier_check.is_(false()), where)
            .order_by(order, accounts.id)
            .limit(limit)
        ).all()
        total += rows[0][-1] if rows else 0
        for id_, unit_id, unit, amount, months, stage, month, last, _ in rows:
            reminder = rules.next_reminder(ReminderStage(stage), month, last)
            if reminder is not None:  # None only past the last rung, which is not read
                account = DueAccount(id_, unit_id, unit, amount, months, stage)
                due.append(DueReminder(account, reminder))
    due.sort(key=lambda d: (d.reminder.due_at, d.account.id))
    return Page(due[:limit], total)


def _due_by_rung(
    rules: Rules, at: datetime, reached: Callable[[Any, Any], Any]
) -> list[tuple[ColumnElement[bool], ColumnElement[Any]]]:
    """For each rung of the ladder with a next reminder: which accounts on it have reached that
    reminder by `at`, and the column their deadlines run in order of. The deadlines are the
    rules' own, turned into bounds on the stored columns; `reached` is `<=` or `<`."""
    # The first reminder falls in the collection month: due for every month up to the last one
    # whose first reminder `at` has reached.
    accounts = ArrearsAccount.__table__.c  # plain columns: see due_reminder_page
    month = at.astimezone(rules.tz).date().replace(day=1)
    if not reached(rules.first_reminder_due(month), at):
        month = _add_months(month, -1)
    found: list[tuple[ColumnElement[bool], ColumnElement[Any]]] = [
        (
            (accounts.stage == ReminderStage.NONE.value)
            & (accounts.collection_month < _add_months(month, 1)),
            accounts.collection_month,
        )
    ]
    for stage in REMINDER_LADDER[1:]:
        # The rules' gap to the next reminder, measured on one given at `at`.
        probe = rules.next_reminder(stage, month, at)
        if probe is not None:
            given = accounts.last_reminder_at
            bound = reached(given, at - (probe.due_at - at))
            found.append(((accounts.stage == stage.value) & bound, given))
    return found


def record_reminder(
    session: Session, rules: Rules, account_id: int, at: datetime
) -> ArrearsAccount:
    """The reminder that was due has been given: the account climbs one rung of the ladder."""
    account = session.get(ArrearsAccount, account_id)
    if account is None:
        raise NotFound(f"no arrears account {account_id}")
    reminder = next_reminder(rules, account)
    if reminder is None:
        raise DomainError(f"arrears account {account_id} has no reminder to give")
    _climb(account, reminder, at)
    return account


def _climb(account: ArrearsAccount, reminder: Reminder, at: datetime) -> None:
    account.stage = reminder.stage.value
    account.last_reminder_at = at


def reminder_reached(
    session: Session, rules: Rules, account_id: int, call_queued_at: datetime, at: datetime
) -> None:
    """A reminder call reached the resident, whoever spoke (an agent, the call flow, a person on
    their own phone): the reminder due was given. The agentless flow records it as the resident
    keys an answer, so a reminder given since the call was queued is not counted twice; an
    account with no reminder to give (paid, or the cashier checking) stays as it is."""
    account = session.get(ArrearsAccount, account_id)
    if account is None or (reminder := next_reminder(rules, account)) is None:
        return
    if account.last_reminder_at is not None and account.last_reminder_at >= call_queued_at:
        return
    _climb(account, reminder, at)


def record_payment(
    session: Session, account_id: int, amount: Decimal, at: datetime
) -> ArrearsAccount:
    """A payment against the arrears, at most what is still owed: the arrears ledger holds no
    credit, so an amount above it is refused (most often a mistyped sum) and an advance payment
    is for the billing system."""
    account = session.get(ArrearsAccount, account_id)
    if account is None:
        raise NotFound(f"no arrears account {account_id}")
    parse_amount(str(amount))
    owed = max(account.amount - account.paid_amount, Decimal(0))
    if amount > owed:
        raise DomainError(
            f"account {account_id} owes {owed:.2f} (of {account.amount:.2f}): a payment of "
            f"{amount:.2f} is more than that; record any credit in the billing system"
        )
    account.paid_amount += amount
    account.cashier_check = False
    if account.paid_amount >= account.amount:
        account.paid_at = at
    return account
