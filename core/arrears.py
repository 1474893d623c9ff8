"""Fee arrears (催缴): the accounts, and the reminder ladder day 20, +10 d, +10 d, then letter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, selectinload

from .csv_import import BadRow, parse_file
from .models import ArrearsAccount, Unit
from .rules import Reminder, Rules
from .units import parse_unit
from .vocabulary import DomainError, NotFound, ReminderStage


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
class DueReminder:
    account: ArrearsAccount
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
    index = imported_at.year * 12 + imported_at.month - 1 - months_overdue
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
    accounts = session.scalars(
        select(ArrearsAccount)
        .where(ArrearsAccount.paid_at.is_(None))
        .options(selectinload(ArrearsAccount.unit))
    )
    due = [
        DueReminder(account, reminder)
        for account in accounts
        if (reminder := next_reminder(rules, account)) is not None and reminder.due_at <= at
    ]
    return sorted(due, key=lambda d: (d.reminder.due_at, d.account.id))


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
