"""Finding new recordings and converting the backlog, off the reactor, resuming after a restart.

The state lives in the index: pending -> converting -> archived | failed. A worker claims rows by
stamping `claimed_at`; a `converting` row whose claim is older than the lease was left by a killed
process and is claimed again (its partial archive is discarded); a `failed` one is claimed again
after RETRY_AFTER, MAX_ATTEMPTS times in all. The source WAV is removed only
after the archived row is committed, so a kill at any point leaves the WAV or a verified archive.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.orm import Session

from hotline.core.db import Database
from hotline.core.models import CallRecord, FollowUp, Recording, Ticket

from .archives import CODECS, archive_path
from .convert import ConversionError, convert, require_ffmpeg
from .index import DEFAULT_RETENTION_YEARS, register, wav_seconds
from .settings import ConversionSettings

log = logging.getLogger(__name__)

# Where the flows and the dialplan put recordings, and the kind each folder holds.
FOLDERS = {"calls": "call", "descriptions": "description", "comments": "comment"}
# A WAV modified this recently may still be written by Asterisk (MixMonitor, RECORD FILE).
SETTLE = timedelta(seconds=60)
# Converting a 300 s recording takes about a second; a claim this old belongs to a dead worker.
LEASE = timedelta(minutes=10)
# A failed conversion (a full disk, ffmpeg killed) is tried again this long after, this many
# times in all; a WAV that is broken for good then waits for a person (`recordings list`).
RETRY_AFTER = timedelta(hours=1)
MAX_ATTEMPTS = 3
WAV_HEADER = 44  # bytes of a canonical PCM WAV header, as Asterisk writes it


def _uniqueid(wav: Path, kind: str) -> str:
    # calls/<uniqueid>.wav; descriptions and comments: <uniqueid>-<n>.wav
    return wav.stem if kind == "call" else wav.stem.rsplit("-", 1)[0]


def _links(session: Session, wav: Path, kind: str) -> tuple[int | None, int | None]:
    """(call id, ticket id) for a recording file, from the path the flow stored or its uniqueid."""
    path = str(wav)
    call = session.scalars(
        select(CallRecord)
        .where(or_(CallRecord.recording == path, CallRecord.uniqueid == _uniqueid(wav, kind)))
        .order_by(CallRecord.id)
        .limit(1)
    ).first()
    ticket_id: int | None = None
    if kind == "description":
        ticket_id = session.scalars(select(Ticket.id).where(Ticket.recording == path)).first()
    elif kind == "comment":
        ticket_id = session.scalars(
            select(FollowUp.ticket_id).where(FollowUp.comment_recording == path)
        ).first()
    if ticket_id is None and call is not None:
        ticket_id = call.ticket_id
    return (call.id if call else None), ticket_id


def _header_only(wav: Path) -> bool:
    """MixMonitor with `b` on a queued call no agent answered leaves a WAV of its 44-byte header
    and no audio: nothing was said, so it is removed rather than indexed."""
    try:
        empty = wav.stat().st_size <= WAV_HEADER or wav_seconds(wav) == 0
        if empty:
            wav.unlink()
    except FileNotFoundError:
        return True
    if empty:
        log.info("removed %s: a recording without audio", wav)
    return empty


def _archived_sibling(session: Session, wav: Path) -> bool:
    siblings = [str(archive_path(wav, fmt)) for fmt in CODECS]
    return (
        session.scalars(
            select(Recording.id).where(Recording.path.in_(siblings), Recording.state == "archived")
        ).first()
        is not None
    )


def scan(
    session: Session,
    recordings_dir: Path,
    *,
    at: datetime,
    retention_years: int = DEFAULT_RETENTION_YEARS,
    settle: timedelta = SETTLE,
) -> list[Recording]:
    """Index the WAVs in the recording folders that are finished and not indexed yet."""
    found = []
    newest = (at - settle).timestamp()
    for folder, kind in FOLDERS.items():
        for wav in sorted((recordings_dir / folder).glob("*.wav")):
            try:
                if wav.stat().st_mtime > newest:
                    continue
            except FileNotFoundError:  # removed since the listing
                continue
            if _header_only(wav):
                continue
            indexed = session.scalars(select(Recording.id).where(Recording.path == str(wav)))
            if indexed.first() is not None:
                continue
            if _archived_sibling(session, wav):
                # Archived and committed, then killed before the WAV was removed.
                wav.unlink()
                log.info("removed %s: its archive is indexed", wav)
                continue
            call_id, ticket_id = _links(session, wav, kind)
            found.append(
                register(
                    session,
                    wav,
                    kind,
                    call_id=call_id,
                    ticket_id=ticket_id,
                    at=at,
                    retention_years=retention_years,
                )
            )
    return found


@dataclass(frozen=True)
class Job:
    id: int
    source: Path


class ConversionWorker:
    """Converts pending recordings with a bounded pool; `run_once` blocks (run it in a thread)."""

    def __init__(
        self,
        db: Database,
        settings: ConversionSettings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        lease: timedelta = LEASE,
    ) -> None:
        if settings.archive_format not in CODECS:
            raise ValueError(
                f"recordings.archive_format {settings.archive_format!r}: one of {', '.join(CODECS)}"
            )
        self.db, self.settings, self.clock, self.lease = db, settings, clock, lease

    def run_once(self, limit: int = 100) -> tuple[int, int]:
        """Convert up to `limit` recordings; returns (archived, failed)."""
        require_ffmpeg()  # a missing tool is not the recording's fault: rows stay pending
        jobs = self._claim(limit)
        if not jobs:
            return 0, 0
        # pydub hands the encoding to an ffmpeg process, so threads keep the cores busy.
        workers = max(1, min(self.settings.workers, len(jobs)))
        with ThreadPoolExecutor(workers, thread_name_prefix="hotline-convert") as pool:
            archived = sum(pool.map(self._convert, jobs))
        return archived, len(jobs) - archived

    def _claim(self, limit: int) -> list[Job]:
        now = self.clock()
        claimable = or_(
            Recording.state == "pending",
            and_(
                Recording.state == "converting",
                or_(Recording.claimed_at.is_(None), Recording.claimed_at < now - self.lease),
            ),
            and_(
                Recording.state == "failed",
                Recording.attempts < MAX_ATTEMPTS,
                Recording.claimed_at < now - RETRY_AFTER,  # stamped when it failed
            ),
        )
        with self.db.session() as s:
            ids = list(
                s.scalars(select(Recording.id).where(claimable).order_by(Recording.id).limit(limit))
            )
            if not ids:
                return []
            # Conditional update: a row another worker took meanwhile is not taken twice.
            claimed = s.execute(
                update(Recording)
                .where(Recording.id.in_(ids), claimable)
                .values(state="converting", claimed_at=now, attempts=Recording.attempts + 1)
                .returning(Recording.id, Recording.path)
            ).all()
        return [Job(id_, Path(path)) for id_, path in sorted(claimed)]

    def _convert(self, job: Job) -> bool:
        try:
            archive = convert(
                job.source, self.settings.archive_format, normalise=self.settings.normalise
            )
        except ConversionError as exc:
            log.warning("recording %s: conversion failed: %s", job.id, exc)
            self._finish(job, state="failed", error=str(exc), claimed_at=self.clock())
            return False
        recorded = self._finish(
            job,
            state="archived",
            error=None,
            path=str(archive.path),
            format=archive.format,
            duration=archive.duration,
            size=archive.size,
            sha256=archive.sha256,
        )
        if recorded:  # only an archive the index knows may replace the WAV
            job.source.unlink(missing_ok=True)
        return recorded

    def _finish(self, job: Job, **values: object) -> bool:
        with self.db.session() as s:
            # An UPDATE's result is a CursorResult (it has rowcount); Session.execute's
            # annotations say only Result.
            result = cast(
                CursorResult[Any],
                s.execute(
                    update(Recording)
                    .where(Recording.id == job.id, Recording.state == "converting")
                    .values({"claimed_at": None, **values})
                ),
            )
        return result.rowcount == 1
