from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydub import AudioSegment
from sqlalchemy import update

from hotline.core.db import Database
from hotline.core.models import Recording
from hotline.recordings.index import find_recording, register, verify
from hotline.recordings.worker import MAX_ATTEMPTS, RETRY_AFTER, ConversionWorker, scan
from hotline.settings import RecordingSettings

from wavs import write_wav

AT = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)


def index(db: Database, *wavs: Path) -> list[int]:
    with db.session() as s:
        return [register(s, w, "call", at=AT).id for w in wavs]


def worker(db: Database, fmt: str = "opus", workers: int = 2) -> ConversionWorker:
    return ConversionWorker(
        db, RecordingSettings(archive_format=fmt, workers=workers).conversion(), clock=lambda: AT
    )


def row(db: Database, id_: int) -> Recording:
    with db.session() as s:
        return find_recording(s, id_)


@pytest.mark.parametrize("fmt", ["opus", "mp3"])
def test_the_backlog_is_archived_and_the_wavs_removed(
    db: Database, tmp_path: Path, fmt: str
) -> None:
    wavs = [write_wav(tmp_path / f"{n}.wav", 1 + n, seed=n) for n in range(3)]
    ids = index(db, *wavs)
    assert worker(db, fmt).run_once(limit=2) == (2, 0)
    assert worker(db, fmt).run_once(limit=10) == (1, 0)
    assert worker(db, fmt).run_once(limit=10) == (0, 0)
    for n, (wav, id_) in enumerate(zip(wavs, ids, strict=True)):
        rec = row(db, id_)
        assert (rec.state, rec.format, rec.path) == (
            "archived",
            fmt,
            str(wav.with_suffix(f".{fmt}")),
        )
        assert rec.duration == pytest.approx(1 + n, abs=0.05)
        assert verify(rec) and rec.claimed_at is None and rec.error is None
        assert len(AudioSegment.from_file(rec.path)) == pytest.approx((1 + n) * 1000, abs=50)
        assert not wav.exists()


def test_a_failed_conversion_keeps_the_wav_and_says_why(db: Database, tmp_path: Path) -> None:
    good = write_wav(tmp_path / "good.wav", 1)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF" + b"\x00" * 300)
    good_id, bad_id = index(db, good, bad)
    assert worker(db).run_once() == (1, 1)
    failed = row(db, bad_id)
    assert failed.state == "failed" and "cannot read source" in (failed.error or "")
    assert failed.path == str(bad) and bad.exists() and failed.attempts == 1
    assert row(db, good_id).state == "archived"
    assert worker(db).run_once() == (0, 0)  # not again at once: a later pass tries again


def test_a_failed_conversion_is_tried_again_later_a_few_times(db: Database, tmp_path: Path) -> None:
    wav = tmp_path / "calls" / "1700000000.4.wav"
    wav.parent.mkdir()
    wav.write_bytes(b"RIFF" + b"\x00" * 300)  # the disk filled up while Asterisk wrote it
    (id_,) = index(db, wav)
    settings = RecordingSettings(archive_format="opus", workers=1).conversion()
    later = RETRY_AFTER + timedelta(seconds=1)

    def at(n: int) -> ConversionWorker:
        return ConversionWorker(db, settings, clock=lambda: AT + n * later)

    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert at(attempt).run_once() == (0, 1)
        assert at(attempt).run_once() == (0, 0)  # not again in the same hour
        assert row(db, id_).attempts == attempt
    # Broken for good: it waits for a person instead of failing every pass.
    assert at(MAX_ATTEMPTS + 1).run_once() == (0, 0)
    # A WAV that was only briefly unreadable converts on a later pass.
    write_wav(wav, 1)
    with db.session() as s:
        s.execute(update(Recording).where(Recording.id == id_).values(attempts=1))
    assert at(MAX_ATTEMPTS + 2).run_once() == (1, 0)
    assert row(db, id_).state == "archived"


def test_a_killed_conversion_loses_nothing(db: Database, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "calls" / "1700000000.3.wav", 2)
    before = wav.read_bytes()
    (id_,) = index(db, wav)
    # The process died mid-way: the row is still `converting`, half an archive beside the WAV.
    with db.session() as s:
        s.execute(
            update(Recording)
            .where(Recording.id == id_)
            .values(state="converting", claimed_at=AT - timedelta(minutes=11))
        )
    part = wav.parent / ".1700000000.3.opus.5f2c.part"
    part.write_bytes(b"OggS half written")
    assert wav.read_bytes() == before
    assert worker(db).run_once() == (1, 0)
    rec = row(db, id_)
    assert rec.state == "archived" and verify(rec)
    assert sorted(p.name for p in wav.parent.iterdir()) == ["1700000000.3.opus"]


def test_a_live_claim_is_not_taken_twice(db: Database, tmp_path: Path) -> None:
    (id_,) = index(db, write_wav(tmp_path / "a.wav", 1))
    with db.session() as s:
        s.execute(
            update(Recording)
            .where(Recording.id == id_)
            .values(state="converting", claimed_at=AT - timedelta(minutes=1))
        )
    assert worker(db).run_once() == (0, 0)
    assert (tmp_path / "a.wav").exists()


def test_a_wav_left_after_its_archive_was_recorded_is_removed_by_scan(
    db: Database, tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "calls" / "1700000000.4.wav", 1)
    index(db, wav)
    worker(db).run_once()
    # Killed between the commit and removing the WAV: the WAV is still there, finished at AT.
    write_wav(wav, 1)
    os.utime(wav, (AT.timestamp(), AT.timestamp()))
    with db.session() as s:
        assert scan(s, tmp_path, at=AT + timedelta(hours=1)) == []
    assert not wav.exists() and wav.with_suffix(".opus").exists()


def test_an_unknown_archive_format_is_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="one of opus, mp3"):
        ConversionWorker(db, RecordingSettings(archive_format="flac").conversion())


def test_header_only_wavs_never_become_recordings(db: Database, tmp_path: Path) -> None:
    # MixMonitor(...,b) on a queued call no agent answered: a 44-byte header and no audio.
    empty = write_wav(tmp_path / "calls" / "1700000000.5.wav", 0)
    fresh = write_wav(tmp_path / "calls" / "1700000000.6.wav", 0)
    spoken = write_wav(tmp_path / "calls" / "1700000000.7.wav", 1)
    assert empty.stat().st_size == 44
    for wav in (empty, spoken):
        os.utime(wav, (AT.timestamp(), AT.timestamp()))
    os.utime(fresh, (AT.timestamp() + 3600, AT.timestamp() + 3600))  # MixMonitor still at it
    with db.session() as s:
        found = scan(s, tmp_path, at=AT + timedelta(hours=1))
        assert [r.path for r in found] == [str(spoken)]
    assert not empty.exists() and fresh.exists() and spoken.exists()
