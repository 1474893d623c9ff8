from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from hotline.core.db import Database
from hotline.recordings import audit
from hotline.recordings.export import ExportError, export
from hotline.recordings.index import Access, RecordingRestricted, list_recordings, register
from hotline.recordings.retention import purge

from wavs import write_wav

AUDIT = "hotline.recordings.audit"
NOW = datetime(2026, 12, 2, 4, 30, tzinfo=UTC)


def test_purge_deletes_what_is_past_retention_and_a_dry_run_only_says_so(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = write_wav(tmp_path / "old.wav", 0.5)
    young = write_wav(tmp_path / "young.wav", 0.5)
    with db.session() as s:
        old_id = register(s, old, "call", at=datetime(2024, 11, 21, 12, tzinfo=UTC)).id
        register(s, young, "call", at=datetime(2024, 11, 22, 12, tzinfo=UTC))
    at = datetime(2026, 11, 22, 8, tzinfo=UTC)
    with caplog.at_level(logging.INFO, logger=AUDIT), db.session() as s:
        planned = purge(s, at, dry_run=True)
    assert [(p.id, p.retain_until, p.deleted) for p in planned] == [
        (old_id, date(2026, 11, 21), False)
    ]
    assert old.exists()
    with db.session() as s:
        assert audit.entries(s) == []  # a dry run did nothing
    with caplog.at_level(logging.INFO, logger=AUDIT), db.session() as s:
        done = purge(s, at, by="Li", now=NOW)
    assert [(p.id, p.deleted) for p in done] == [(old_id, True)]
    assert not old.exists() and young.exists()
    assert [r.getMessage() for r in caplog.records if r.name == AUDIT] == [
        f"purge recording {old_id} by Li (retention: kept until 2026-11-21): done"
    ]
    with db.session() as s:
        assert [r.path for r in list_recordings(s)] == [str(young)]
        assert purge(s, at) == []
        # The row outlives the recording it speaks of.
        (entry,) = audit.entries(s)
        assert (entry.action, entry.recording_id, entry.path, entry.by, entry.at) == (
            "purge",
            old_id,
            str(old),
            "Li",
            NOW,
        )


def test_purge_leaves_a_recording_being_converted(db: Database, tmp_path: Path) -> None:
    with db.session() as s:
        rec = register(
            s, write_wav(tmp_path / "a.wav", 0.2), "call", at=datetime(2020, 1, 1, tzinfo=UTC)
        )
        rec.state = "converting"
    with db.session() as s:
        assert purge(s, datetime(2026, 1, 1, tzinfo=UTC)) == []


def test_export_copies_checks_and_logs(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wav = write_wav(tmp_path / "rec" / "1.1.wav", 0.5)
    secret = write_wav(tmp_path / "rec" / "1.2-1.wav", 0.5)
    out = tmp_path / "out"
    out.mkdir()
    at = datetime(2026, 11, 22, tzinfo=UTC)
    with db.session() as s:
        open_id = register(s, wav, "call", at=at).id
        secret_id = register(s, secret, "description", at=at).id  # no ticket yet: restricted
    manager = Access("manager", "police request 7", restricted=True)
    with caplog.at_level(logging.INFO, logger=AUDIT), db.session() as s:
        copy = export(s, open_id, out, access=Access("auditor"), at=at)
        for curious in (Access("curious"), Access("curious", restricted=True)):
            with pytest.raises(RecordingRestricted):
                export(s, secret_id, out, access=curious, at=at)
        named = export(s, secret_id, out / "evidence.wav", access=manager, at=at)
    assert copy == out / "1.1.wav" and copy.read_bytes() == wav.read_bytes()
    assert named.read_bytes() == secret.read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["1.1.wav", "evidence.wav"]
    assert [r.getMessage() for r in caplog.records if r.name == AUDIT] == [
        f"export recording {open_id} by auditor: done to {copy}",
        f"recording {secret_id} refused to curious: restricted, without explicit permission"
        " (--allow-restricted)",
        f"recording {secret_id} refused to curious: restricted, without a named person (--by)"
        " and a reason (--reason)",
        f"export recording {secret_id} by manager (police request 7): done to {named}",
    ]
    with db.session() as s:
        trail = [(e.action, e.recording_id, e.by, e.restricted, e.detail) for e in audit.entries(s)]
    assert trail == [
        ("export", open_id, "auditor", False, f"to {copy}"),
        ("export", secret_id, "manager", True, f"to {named}"),
    ]


def test_export_refuses_a_file_that_no_longer_matches(db: Database, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "a.wav", 0.5)
    with db.session() as s:
        id_ = register(s, wav, "call", at=datetime(2026, 11, 22, tzinfo=UTC)).id
    wav.write_bytes(wav.read_bytes()[:-10])
    with db.session() as s, pytest.raises(ExportError, match="checksum"):
        export(s, id_, tmp_path / "copy.wav", access=Access("auditor"))
    assert not (tmp_path / "copy.wav").exists()
    assert not list(tmp_path.glob(".copy.wav.*"))
