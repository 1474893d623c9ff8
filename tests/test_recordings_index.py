from __future__ import annotations

import os
from contextlib import nullcontext
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from hotline.core.db import Database
from hotline.core.models import CallRecord, FollowUp, Ticket
from hotline.core.vocabulary import DomainError
from hotline.recordings import audit
from hotline.recordings.index import (
    Access,
    RecordingNotFound,
    RecordingRestricted,
    add_years,
    counts_by_state,
    file_sha256,
    get_recording,
    list_recordings,
    register,
    verify,
)
from hotline.recordings.worker import scan

from wavs import write_wav

AT = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)


def ticket(db: Database, kind: str, recording: str | None = None) -> int:
    with db.session() as s:
        t = Ticket(kind=kind, category="other", recording=recording, received_at=AT, updated_at=AT)
        s.add(t)
        s.flush()
        return t.id


def call(db: Database, uniqueid: str, ticket_id: int | None = None) -> int:
    with db.session() as s:
        c = CallRecord(direction="in", uniqueid=uniqueid, arrived_at=AT, ticket_id=ticket_id)
        s.add(c)
        s.flush()
        return c.id


def test_register_measures_the_file_and_keeps_it_two_years(db: Database, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "calls" / "1.1.wav", 4.5)
    with db.session() as s:
        rec = register(s, wav, "call", at=AT)
    assert (rec.format, rec.state, rec.duration) == ("wav", "pending", 4.5)
    assert rec.size == wav.stat().st_size
    assert rec.sha256 == file_sha256(wav)
    assert rec.retain_until == date(2028, 11, 22)
    assert rec.restricted is False
    assert add_years(date(2028, 2, 29), 2) == date(2030, 3, 1)


def test_complaints_and_unknown_matters_are_restricted(db: Database, tmp_path: Path) -> None:
    complaint, repair = ticket(db, "complaint"), ticket(db, "repair")
    complaint_call = call(db, "2.1", complaint)
    cases: dict[str, tuple[str, dict[str, Any]]] = {
        "complaint": ("description", {"ticket_id": complaint}),
        "complaint_call": ("call", {"call_id": complaint_call}),
        "repair": ("description", {"ticket_id": repair}),
        "unlinked_description": ("description", {}),
        "unlinked_call": ("call", {}),
        "asked": ("call", {"restricted": True}),
    }
    with db.session() as s:
        made = {
            name: register(s, write_wav(tmp_path / f"{name}.wav", 0.2), kind, at=AT, **extra)
            for name, (kind, extra) in cases.items()
        }
        assert {name: r.restricted for name, r in made.items()} == {
            "complaint": True,
            "complaint_call": True,
            "repair": False,
            "unlinked_description": True,
            "unlinked_call": False,
            "asked": True,
        }
        assert made["complaint_call"].ticket_id == complaint


def test_every_reader_honours_restriction(db: Database, tmp_path: Path) -> None:
    complaint = ticket(db, "complaint")
    with db.session() as s:
        open_ = register(s, write_wav(tmp_path / "open.wav", 0.5), "call", at=AT)
        secret = register(
            s, write_wav(tmp_path / "secret.wav", 0.5), "description", ticket_id=complaint, at=AT
        )
    with db.session() as s:
        assert [r.id for r in list_recordings(s)] == [open_.id]
        assert [r.id for r in list_recordings(s, ticket_id=complaint)] == []
        supervisor = Access("Wang", "complaint 42 review", restricted=True)
        assert [r.id for r in list_recordings(s, access=supervisor, at=AT)] == [open_.id, secret.id]
        assert get_recording(s, open_.id).id == open_.id
        # The index itself refuses: no permission, or a permission without a person or a reason.
        for access in (
            None,
            Access("Wang"),
            Access("Wang", restricted=True),
            Access(" ", "x", True),
        ):
            with pytest.raises(RecordingRestricted, match="confidential"):
                get_recording(s, secret.id, access=access)
            with (
                pytest.raises(RecordingRestricted)
                if access and access.restricted
                else nullcontext()
            ):
                list_recordings(s, access=access)
        assert get_recording(s, secret.id, access=supervisor, at=AT).id == secret.id
        with pytest.raises(RecordingNotFound):
            get_recording(s, 999)
        assert counts_by_state(s) == {"pending": 2}
        # Reading the open one is not audited; the restricted list and listen are.
        trail = [(e.action, e.recording_id, e.by, e.reason, e.at) for e in audit.entries(s)]
        assert trail == [
            ("list", None, "Wang", "complaint 42 review", AT),
            ("listen", secret.id, "Wang", "complaint 42 review", AT),
        ]


def test_the_audit_trail_is_append_only(db: Database, tmp_path: Path) -> None:
    with db.session() as s:
        rec = register(s, write_wav(tmp_path / "x.wav", 0.2), "description", at=AT)
        audit.record(s, "listen", Access("Wang", "review"), at=AT, recording=rec)
    for statement in ("UPDATE recording_audit SET by = 'nobody'", "DELETE FROM recording_audit"):
        with pytest.raises(DBAPIError, match="append-only"), db.session() as s:
            s.execute(text(statement))
    with db.session() as s:
        assert [e.by for e in audit.entries(s)] == ["Wang"]


@pytest.mark.parametrize("by", ["", "x" * 81, "Wang\nlisten recording 1 by CEO"])
def test_the_audit_needs_a_plain_name(db: Database, tmp_path: Path, by: str) -> None:
    with db.session() as s, pytest.raises(DomainError, match="person's name"):
        audit.record(s, "export", Access(by, "r"), at=AT)


def test_checksums_verify_and_catch_a_changed_file(db: Database, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "a.wav", 1)
    with db.session() as s:
        rec = register(s, wav, "call", at=AT)
    assert verify(rec)
    data = bytearray(wav.read_bytes())
    data[-1] ^= 0xFF
    wav.write_bytes(bytes(data))
    assert not verify(rec)
    wav.unlink()
    assert not verify(rec)


def test_scan_links_files_to_calls_and_tickets(db: Database, tmp_path: Path) -> None:
    root = tmp_path / "rec"
    described = str(root / "descriptions" / "1700000000.5-2.wav")
    repair = ticket(db, "repair", recording=described)
    complaint = ticket(db, "complaint")
    in_call = call(db, "1700000000.5", repair)
    complaint_call = call(db, "1700000000.9", complaint)
    with db.session() as s:
        s.add(
            FollowUp(
                ticket_id=repair,
                due_at=AT,
                assignee_role="cs_staff",
                kind="repair",
                comment_recording=str(root / "comments" / "1700000100.1-1.wav"),
            )
        )
    old = (AT - timedelta(minutes=5)).timestamp()
    files = [
        write_wav(root / "calls" / "1700000000.5.wav", 1),
        write_wav(root / "calls" / "1700000000.9.wav", 1),
        write_wav(root / "descriptions" / "1700000000.5-1.wav", 1),
        write_wav(root / "descriptions" / "1700000000.5-2.wav", 1),
        write_wav(root / "comments" / "1700000100.1-1.wav", 1),
    ]
    for f in files:
        os.utime(f, (old, old))
    write_wav(root / "calls" / "1700000200.1.wav", 1)  # still being written: too fresh
    os.utime(root / "calls" / "1700000200.1.wav", (AT.timestamp(), AT.timestamp()))
    with db.session() as s:
        found = scan(s, root, at=AT)
        got = {Path(r.path).name: (r.kind, r.call_id, r.ticket_id, r.restricted) for r in found}
    assert got == {
        "1700000000.5.wav": ("call", in_call, repair, False),
        "1700000000.9.wav": ("call", complaint_call, complaint, True),
        "1700000000.5-1.wav": ("description", in_call, repair, False),
        "1700000000.5-2.wav": ("description", in_call, repair, False),
        "1700000100.1-1.wav": ("comment", None, repair, False),
    }
    with db.session() as s:
        assert scan(s, root, at=AT) == []  # nothing twice
        assert len(scan(s, root, at=AT + timedelta(minutes=2))) == 1  # the fresh one, settled
