"""Where a recording is now, by the index.

A ticket, call record or follow-up stores the WAV path the flow or MixMonitor wrote; once the
recording is converted the index names the archive (.opus/.mp3) and the WAV is gone, and a purged
or header-only one is gone altogether. Readers resolve every stored path here, so none names a
deleted file. A WAV not indexed yet (still settling) is named while it exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.core.models import Recording

from .archives import CODECS, archive_path


def resolve_paths(session: Session, stored: Iterable[str | None]) -> dict[str, str | None]:
    """Stored path -> the file the index names for it (None: no such recording any more)."""
    wanted = {path for path in stored if path}
    if not wanted:  # a page of rows without recordings costs no query
        return {}
    # The index row keeps the WAV's path until conversion, then the archive's.
    candidates = {path: path for path in wanted}
    candidates |= {str(archive_path(Path(p), fmt)): p for p in wanted for fmt in CODECS}
    indexed = session.scalars(select(Recording.path).where(Recording.path.in_(candidates)))
    found = {candidates[path]: path for path in indexed}
    return {p: found.get(p, p if Path(p).is_file() else None) for p in wanted}


def resolve_path(session: Session, stored: str | None) -> str | None:
    return resolve_paths(session, [stored]).get(stored or "")


def with_recordings(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows (tickets, call records as the CLI prints them) with `recording` resolved."""
    paths = resolve_paths(session, (row["recording"] for row in rows))
    for row in rows:
        row["recording"] = paths.get(row["recording"] or "")
    return rows
