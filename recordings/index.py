"""The recordings index: what was recorded, for which call and ticket, until when it is kept, and
whether it is restricted.

Complaints are confidential (service rules §3): a recording of a complaint, or tied to a complaint
ticket, is restricted. Every reader here leaves restricted rows out unless given an ``Access`` that
asks for them with a named person and a reason, and each such read is written to the audit trail.
Recordings are kept two years (§4) from the day they were made, in the timezone of the moment given.
"""

from __future__ import annotations

import hashlib
import wave
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from hotline.core.models import CallRecord, Recording, Ticket
from hotline.core.vocabulary import DomainError, Kind, NotFound

from . import audit
from .audit import Access

KINDS = ("call", "description", "comment")
DEFAULT_RETENTION_YEARS = 2
CHUNK = 1 << 20


class RecordingNotFound(NotFound):
    pass


class RecordingRestricted(DomainError):
    """The recording is confidential (a complaint); reading it needs an explicit permission."""


def check_restricted(access: Access | None, what: str) -> Access:
    """The access, if it may read the restricted ``what``; else RecordingRestricted (logged)."""
    if access is None or not access.restricted:
        missing = "explicit permission (--allow-restricted)"
    elif not access.by.strip() or not access.reason.strip():
        missing = "a named person (--by) and a reason (--reason)"
    else:
        return access
    who = access.by if access else "an anonymous reader"
    audit.log.warning("%s refused to %s: restricted, without %s", what, who, missing)
    raise RecordingRestricted(
        f"{what} is restricted (complaints are confidential); it needs {missing}"
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def wav_seconds(path: Path) -> float | None:
    """Duration from the WAV header; None when it cannot be read (the conversion will say why)."""
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / w.getframerate()
    except (wave.Error, EOFError, ZeroDivisionError):
        return None


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February: keep it one day longer rather than one day shorter
        return date(day.year + years, 3, 1)


def register(
    session: Session,
    path: Path,
    kind: str,
    *,
    call_id: int | None = None,
    ticket_id: int | None = None,
    restricted: bool = False,
    at: datetime,
    retention_years: int = DEFAULT_RETENTION_YEARS,
) -> Recording:
    """Index a recording file, pending conversion.

    A call's ticket is taken from its call record when not given. The row is restricted when asked,
    when its ticket is a complaint, and when a voice description or comment has no ticket yet: an
    unknown matter may be a complaint, so it stays confidential.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown recording kind {kind!r}; one of {', '.join(KINDS)}")
    if ticket_id is None and call_id is not None:
        call = session.get(CallRecord, call_id)
        ticket_id = call.ticket_id if call else None
    ticket = session.get(Ticket, ticket_id) if ticket_id is not None else None
    restricted = (
        restricted
        or (ticket is not None and ticket.kind == Kind.COMPLAINT)
        or (kind != "call" and ticket is None)
    )
    recording = Recording(
        call_id=call_id,
        ticket_id=ticket_id,
        kind=kind,
        path=str(path),
        format=path.suffix.lstrip(".").lower(),
        duration=wav_seconds(path),
        size=path.stat().st_size,
        sha256=file_sha256(path),
        state="pending",
        restricted=restricted,
        retain_until=add_years(at.date(), retention_years),
        created_at=at,
    )
    session.add(recording)
    session.flush()
    return recording


def list_recordings(
    session: Session,
    *,
    access: Access | None = None,
    ticket_id: int | None = None,
    call_id: int | None = None,
    state: str | None = None,
    limit: int | None = None,
    at: datetime | None = None,
) -> list[Recording]:
    """Indexed recordings, oldest first; restricted ones only for an ``access`` asking for them
    (audited as a ``list``)."""
    query: Select[Recording] = select(Recording).order_by(Recording.id)
    if access is not None and access.restricted:
        check_restricted(access, "the list of restricted recordings")
        filters = {"ticket": ticket_id, "call": call_id, "state": state, "limit": limit}
        audit.record(
            session,
            "list",
            access,
            at=at,
            detail=" ".join(f"{k}={v}" for k, v in filters.items() if v is not None) or None,
        )
    else:
        query = query.where(Recording.restricted.is_(False))
    if ticket_id is not None:
        query = query.where(Recording.ticket_id == ticket_id)
    if call_id is not None:
        query = query.where(Recording.call_id == call_id)
    if state is not None:
        query = query.where(Recording.state == state)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def find_recording(session: Session, recording_id: int) -> Recording:
    """The index row, whatever its flag: for code that checks access itself (export)."""
    recording = session.get(Recording, recording_id)
    if recording is None:
        raise RecordingNotFound(f"no recording {recording_id}")
    return recording


def get_recording(
    session: Session,
    recording_id: int,
    *,
    access: Access | None = None,
    at: datetime | None = None,
) -> Recording:
    """A recording to read (its path, its stream); a restricted one only for an ``access`` that
    may, and the read is written to the audit trail as a ``listen``."""
    recording = find_recording(session, recording_id)
    if recording.restricted:
        access = check_restricted(access, f"recording {recording_id}")
        audit.record(session, "listen", access, at=at, recording=recording)
    return recording


def verify(recording: Recording) -> bool:
    """The file is there and is what the index says it is."""
    path = Path(recording.path)
    return (
        path.is_file()
        and path.stat().st_size == recording.size
        and file_sha256(path) == recording.sha256
    )


def counts_by_state(session: Session) -> dict[str, int]:
    """The conversion backlog and failures, for metrics and operators."""
    rows = session.execute(select(Recording.state, func.count()).group_by(Recording.state))
    return {state: count for state, count in rows}
