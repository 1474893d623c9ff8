"""Retention: recordings past their `retain_until` day are deleted, file and index row (§4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.core.models import Recording

from . import audit


@dataclass(frozen=True)
class Purged:
    id: int
    path: str
    retain_until: date
    deleted: bool  # False on a dry run, or when the file could not be removed
    error: str | None = None


def purge(
    session: Session,
    at: datetime,
    dry_run: bool = False,
    *,
    by: str = "retention",
    now: datetime | None = None,
) -> list[Purged]:
    """Delete what is past retention on `at`'s day (in `at`'s timezone); a dry run only says so.

    A recording being converted is left for the next purge. Each deletion (or failure to delete)
    is written to the audit trail, ``by`` whoever ran the purge, at ``now`` (``at`` may be a
    moment to come, for a plan).
    """
    expired = session.scalars(
        select(Recording)
        .where(Recording.retain_until < at.date(), Recording.state != "converting")
        .order_by(Recording.id)
    )
    done = []
    for rec in expired:
        error = None
        if not dry_run:
            try:
                Path(rec.path).unlink(missing_ok=True)
            except OSError as exc:
                error = str(exc)
            else:
                session.delete(rec)
        deleted = not dry_run and error is None
        if not dry_run:
            audit.record(
                session,
                "purge",
                audit.Access(by, f"retention: kept until {rec.retain_until.isoformat()}"),
                at=now,
                recording=rec,
                outcome="failed" if error else "done",
                detail=error,
            )
        done.append(Purged(rec.id, rec.path, rec.retain_until, deleted, error))
    session.flush()
    return done
