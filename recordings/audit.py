"""The recordings audit trail: one row per listen to a restricted recording, export and purge.

``record`` is the one writer (the CLI, the index and, later, an HTTP API call it); ``entries``
reads the trail back. Each row is also one log line, for sites that ship logs elsewhere.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from hotline.core.models import Recording, RecordingAudit
from hotline.core.plain_text import has_control_character
from hotline.core.vocabulary import DomainError

ACTIONS = ("listen", "list", "export", "purge")
log = logging.getLogger("hotline.recordings.audit")
log.setLevel(logging.INFO)  # written even where the root logger only passes warnings (the CLI)
MAX_BY = 80


@dataclass(frozen=True)
class Access:
    """Who reads recordings, and why. ``restricted``: they mean to read confidential ones too,
    which needs a named person and a reason; every such read is audited."""

    by: str
    reason: str = ""
    restricted: bool = False


def record(
    session: Session,
    action: str,
    who: Access,
    *,
    at: datetime | None = None,
    recording: Recording | None = None,
    outcome: str = "done",
    detail: str | None = None,
) -> RecordingAudit:
    """Append one row in the caller's transaction: it is stored exactly when the action is."""
    by, reason = who.by, who.reason
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; one of {', '.join(ACTIONS)}")
    if not by.strip() or len(by) > MAX_BY or has_control_character(by + reason):
        raise DomainError(
            f"the audit needs a person's name (1-{MAX_BY} characters) and a reason,"
            " without control characters"
        )
    entry = RecordingAudit(
        at=at or datetime.now(UTC),
        action=action,
        by=by,
        reason=reason,
        recording_id=recording.id if recording else None,
        path=recording.path if recording else None,
        restricted=bool(recording and recording.restricted),
        outcome=outcome,
        detail=detail,
    )
    session.add(entry)
    session.flush()
    log.info(
        "%s recording %s by %s%s: %s%s",
        action,
        entry.recording_id if recording else "-",
        by,
        f" ({reason})" if reason else "",
        outcome,
        f" {detail}" if detail else "",
    )
    return entry


def entries(
    session: Session,
    *,
    recording_id: int | None = None,
    by: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[RecordingAudit]:
    """The trail, oldest first; with ``limit``, its last ``limit`` rows."""
    query: Select[RecordingAudit] = select(RecordingAudit).order_by(RecordingAudit.id.desc())
    if recording_id is not None:
        query = query.where(RecordingAudit.recording_id == recording_id)
    if by is not None:
        query = query.where(RecordingAudit.by == by)
    if since is not None:
        query = query.where(RecordingAudit.at >= since)
    if limit is not None:
        query = query.limit(limit)
    return list(reversed(session.scalars(query).all()))
