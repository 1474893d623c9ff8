from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from hotline.core.db import Database
from hotline.recordings.export import ExportError, export
from hotline.recordings.index import RecordingRestricted, list_recordings, register
from hotline.recordings.retention import purge

from wavs import write_wav

AUDIT = "hotline.recordings.audit"


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
    assert [r.getMessage() for r in caplog.records if r.name == AUDIT] == [
        f"purge (dry run) recording {old_id} kind=call path={old} retain_until=2026-11-21"
    ]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=AUDIT), db.session() as s:
        done = purge(s, at)
    assert [(p.id, p.deleted) for p in done] == [(old_id, True)]
    assert not old.exists() and young.exists()
    assert [r.getMessage() for r in caplog.records if r.name == AUDIT] == [
        f"purge recording {old_id} kind=call path={old} retain_until=2026-11-21"
    ]
    with db.session() as s:
        assert [r.path for r in list_recordings(s)] == [str(young)]
        assert purge(s, at) == []


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
    with caplog.at_level(logging.INFO, logger=AUDIT), db.session() as s:
        copy = export(s, open_id, out, by="auditor")
        with pytest.raises(RecordingRestricted):
            export(s, secret_id, out, by="curious")
        named = export(s, secret_id, out / "evidence.wav", allow_restricted=True, by="manager")
    assert copy == out / "1.1.wav" and copy.read_bytes() == wav.read_bytes()
    assert named.read_bytes() == secret.read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["1.1.wav", "evidence.wav"]
    assert [r.getMessage() for r in caplog.records if r.name == AUDIT] == [
        f"export recording {open_id} kind=call restricted=False path={wav} to {copy} by auditor",
        f"export of restricted recording {secret_id} by curious refused",
        f"export recording {secret_id} kind=description restricted=True path={secret} "
        f"to {named} by manager",
    ]


def test_export_refuses_a_file_that_no_longer_matches(db: Database, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "a.wav", 0.5)
    with db.session() as s:
        id_ = register(s, wav, "call", at=datetime(2026, 11, 22, tzinfo=UTC)).id
    wav.write_bytes(wav.read_bytes()[:-10])
    with db.session() as s, pytest.raises(ExportError, match="checksum"):
        export(s, id_, tmp_path / "copy.wav", by="auditor")
    assert not (tmp_path / "copy.wav").exists()
    assert not list(tmp_path.glob(".copy.wav.*"))
