"""Residents and their units: import from CSV, look up by caller ID, list."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session, selectinload

from .csv_import import BadRow, parse_bool, parse_file
from .models import Phone, Resident, Unit
from .units import normalise_phone, parse_unit
from .vocabulary import DomainError, NotFound

REQUIRED = ("unit", "name", "phone")
OPTIONAL = ("phone2", "lang", "do_not_call")
LANGS = ("zh", "en")


@dataclass(frozen=True)
class ResidentRow:
    unit: str
    name: str
    phones: tuple[str, ...]
    lang: str
    do_not_call: bool


@dataclass
class ImportReport:
    imported: int
    bad: list[BadRow]
    created_units: int = 0


def _parse(row: dict[str, str]) -> ResidentRow:
    unit = parse_unit(row["unit"])
    name = row["name"]
    if not name:
        raise DomainError("empty name")
    phones = [normalise_phone(row["phone"])]
    if row.get("phone2"):
        phones.append(normalise_phone(row["phone2"]))
        if phones[0] == phones[1]:
            raise DomainError(f"duplicate phone {phones[0]} (phone2 repeats phone)")
    lang = row.get("lang") or "zh"
    if lang not in LANGS:
        raise DomainError(f"bad lang {lang!r}: use zh or en")
    return ResidentRow(
        unit, name, tuple(phones), lang, parse_bool(row.get("do_not_call", ""), "do_not_call")
    )


def import_residents(session: Session, path: Path, *, skip_invalid: bool = False) -> ImportReport:
    """All or nothing unless `skip_invalid`: one bad row and nothing is written."""
    parsed = parse_file(path, REQUIRED, OPTIONAL, _parse)
    seen: dict[str, tuple[int, ResidentRow]] = {}
    good: list[ResidentRow] = []
    for line, row in parsed.rows:
        clash = next(
            (p for p in row.phones if p in seen and not _same_owner(seen[p][1], row)), None
        )
        if clash is not None:
            first, other = seen[clash]
            parsed.bad.append(
                BadRow(
                    line,
                    f"duplicate phone {clash}: line {line} ({row.unit} {row.name}) and line "
                    f"{first} ({other.unit} {other.name}); a number repeats only for one "
                    f"resident's other units",
                )
            )
            continue
        seen.update({p: (line, row) for p in row.phones if p not in seen})
        good.append(row)
    parsed.bad.sort(key=lambda b: b.line)
    if parsed.bad and not skip_invalid:
        return ImportReport(0, parsed.bad)
    created = _store(session, good)
    return ImportReport(len(good), parsed.bad, created)


def _same_owner(first: ResidentRow, then: ResidentRow) -> bool:
    """One person owning several units is listed once a unit, with the same number: the call
    flow asks such a caller which unit they call about."""
    return first.name == then.name and first.unit != then.unit


def _store(session: Session, rows: list[ResidentRow]) -> int:
    """Bulk upsert: a resident is known by unit and name; a re-import updates them."""
    unit_ids = dict(session.execute(select(Unit.code, Unit.id)).all())
    new_units = sorted({r.unit for r in rows} - set(unit_ids))
    if new_units:
        session.execute(insert(Unit), [{"code": c} for c in new_units])
        unit_ids = dict(session.execute(select(Unit.code, Unit.id)).all())
    existing = _resident_ids(session)
    fresh = [r for r in rows if (unit_ids[r.unit], r.name) not in existing]
    known = [r for r in rows if (unit_ids[r.unit], r.name) in existing]
    if known:
        ids = [existing[(unit_ids[r.unit], r.name)] for r in known]
        session.execute(
            update(Resident),
            [
                {"id": i, "lang": r.lang, "do_not_call": r.do_not_call}
                for i, r in zip(ids, known, strict=True)
            ],
        )
        session.execute(delete(Phone).where(Phone.resident_id.in_(ids)))
        _insert_phones(session, zip(ids, known, strict=True))
    if fresh:
        # A plain executemany, ids read back by (unit, name): RETURNING in parameter order
        # makes SQLAlchemy send one INSERT per row on SQLite, which has no insert sentinel.
        session.execute(
            insert(Resident),
            [
                {
                    "unit_id": unit_ids[r.unit],
                    "name": r.name,
                    "lang": r.lang,
                    "do_not_call": r.do_not_call,
                }
                for r in fresh
            ],
        )
        by_key = _resident_ids(session)
        new_ids = [by_key[(unit_ids[r.unit], r.name)] for r in fresh]
        _insert_phones(session, zip(new_ids, fresh, strict=True))
    return len(new_units)


def _resident_ids(session: Session) -> dict[tuple[int, str], int]:
    """Every resident's id by its natural key (unit id, name)."""
    query = select(Resident.id, Resident.unit_id, Resident.name)
    return {(unit_id, name): rid for rid, unit_id, name in session.execute(query)}


def _insert_phones(session: Session, pairs: Iterable[tuple[int, ResidentRow]]) -> None:
    values = [
        {"resident_id": rid, "number": number, "position": pos}
        for rid, row in pairs
        for pos, number in enumerate(row.phones)
    ]
    if values:
        session.execute(insert(Phone), values)


def list_residents(session: Session, unit: str | None = None) -> list[Resident]:
    query = (
        select(Resident)
        .join(Unit)
        .options(selectinload(Resident.phones), selectinload(Resident.unit))
        .order_by(Unit.code, Resident.name)
    )
    if unit is not None:
        query = query.where(Unit.code == parse_unit(unit))
    return list(session.scalars(query))


def find_unit(session: Session, code: str) -> Unit | None:
    return session.scalar(select(Unit).where(Unit.code == code))


def require_unit(session: Session, code: str) -> Unit:
    canonical = parse_unit(code)
    unit = find_unit(session, canonical)
    if unit is None:
        raise NotFound(f"unknown unit {canonical} (import its residents first)")
    return unit
