"""`hotline recordings ...` end to end, through the real command line."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hotline.cli import main
from hotline.core.db import Database
from hotline.core.models import CallRecord, Ticket
from hotline.recordings.index import add_years

from wavs import write_wav

Cli = Callable[..., tuple[int, Any]]  # `hotline ARGS…`: (exit code, its JSON)


@pytest.fixture
def cli(
    db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    monkeypatch.setenv("HOTLINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOTLINE_DB_URL", db.url)
    monkeypatch.setenv("HOTLINE_RECORDINGS_DIRECTORY", str(tmp_path / "rec"))

    def run(*argv: str) -> tuple[int, object]:
        code = main([*argv, "--json"])
        out, err = capsys.readouterr()
        if code:
            return code, err.strip().removeprefix("hotline: error: ")
        return 0, json.loads(out)

    return run


def settled(path: Path) -> Path:
    old = (datetime.now(UTC) - timedelta(minutes=5)).timestamp()
    os.utime(path, (old, old))
    return path


def test_convert_list_show_export_purge(
    cli: Cli,
    db: Database,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rec = tmp_path / "rec"
    description = rec / "descriptions" / "1700000000.1-1.wav"
    now = datetime.now(UTC)
    with db.session() as s:
        s.add(
            Ticket(
                kind="complaint",
                category="noise",
                recording=str(description),
                received_at=now,
                updated_at=now,
            )
        )
    settled(write_wav(rec / "calls" / "1700000000.1.wav", 2))
    settled(write_wav(description, 1))
    assert cli("recordings", "convert") == (0, {"registered": 2, "archived": 2, "failed": 0})

    code, listed = cli("recordings", "list")
    assert code == 0 and [(r["kind"], r["format"], r["restricted"]) for r in listed] == [
        ("call", "opus", False)
    ]
    call = listed[0]
    assert call["path"] == str(rec / "calls" / "1700000000.1.opus")
    site_day = now.astimezone(ZoneInfo("Asia/Shanghai")).date()
    assert call["retain_until"] == add_years(site_day, 2).isoformat()
    assert cli("recordings", "list", "--include-restricted")[0] == 1  # who, and why?
    supervisor = ("--by", "Wang (supervisor)", "--reason", "complaint 42 review")
    code, everything = cli("recordings", "list", "--include-restricted", *supervisor)
    secret = everything[1]
    assert secret["restricted"] and secret["ticket_id"] is not None

    code, shown = cli("recordings", "show", str(call["id"]))
    assert code == 0 and shown["verified"] and shown["sha256"] == call["sha256"]
    code, message = cli("recordings", "show", str(secret["id"]))
    assert code == 1 and "restricted" in message
    code, message = cli("recordings", "show", str(secret["id"]), "--allow-restricted")
    assert code == 1 and "a reason (--reason)" in message  # the flag alone is not enough
    listened = cli("recordings", "show", str(secret["id"]), "--allow-restricted", *supervisor)
    assert listened[1]["verified"]

    out = tmp_path / "out"
    out.mkdir()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="hotline.recordings.audit"):
        assert cli("recordings", "export", str(secret["id"]), str(out))[0] == 1
        code, exported = cli(
            "recordings", "export", str(secret["id"]), str(out), "--allow-restricted", *supervisor
        )
    assert exported["exported_to"] == str(out / "1700000000.1-1.opus")
    logged = [r.getMessage() for r in caplog.records if r.name == "hotline.recordings.audit"]
    assert len(logged) == 2 and "refused" in logged[0]
    assert logged[1].startswith(f"export recording {secret['id']} by Wang (supervisor)")

    later = (now + timedelta(days=3 * 366)).isoformat()
    code, planned = cli("recordings", "purge", "--dry-run", "--at", later)
    assert planned["dry_run"] and [r["id"] for r in planned["recordings"]] == [
        call["id"],
        secret["id"],
    ]
    assert not any(r["deleted"] for r in planned["recordings"])
    assert len(cli("recordings", "list", "--include-restricted", *supervisor)[1]) == 2
    code, purged = cli("recordings", "purge", "--at", later, "--by", "Li (archivist)")
    assert all(r["deleted"] for r in purged["recordings"])
    assert cli("recordings", "list", "--include-restricted", *supervisor) == (0, [])
    assert not any((rec / "calls").iterdir())

    # The trail: every listen to a restricted recording, export and purge; refusals are not
    # actions (they are in the log), dry runs neither.
    code, trail = cli("recordings", "audit")
    assert code == 0
    assert [(e["action"], e["recording_id"], e["by"], e["outcome"]) for e in trail] == [
        ("list", None, "Wang (supervisor)", "done"),
        ("listen", secret["id"], "Wang (supervisor)", "done"),
        ("export", secret["id"], "Wang (supervisor)", "done"),
        ("list", None, "Wang (supervisor)", "done"),
        ("purge", call["id"], "Li (archivist)", "done"),
        ("purge", secret["id"], "Li (archivist)", "done"),
        ("list", None, "Wang (supervisor)", "done"),
    ]
    assert trail[2]["reason"] == "complaint 42 review" and trail[2]["restricted"]
    assert trail[2]["detail"] == f"to {out / '1700000000.1-1.opus'}"
    assert trail[4]["reason"].startswith("retention: kept until")
    code, mine = cli("recordings", "audit", "--recording", str(secret["id"]))
    assert [e["action"] for e in mine] == ["listen", "export", "purge"]


def test_tickets_and_call_records_name_the_file_the_index_has(
    cli: Cli, db: Database, tmp_path: Path
) -> None:
    rec = tmp_path / "rec"
    spoken, mute = rec / "calls" / "1700000000.2.wav", rec / "calls" / "1700000000.3.wav"
    description = rec / "descriptions" / "1700000000.2-1.wav"
    now = datetime.now(UTC)
    with db.session() as s:
        ticket = Ticket(
            kind="repair",
            category="leak",
            recording=str(description),
            received_at=now,
            updated_at=now,
        )
        s.add(ticket)
        s.flush()
        for wav in (spoken, mute):  # answered and recorded; queued, no agent answered
            s.add(
                CallRecord(
                    direction="out",
                    arrived_at=now,
                    uniqueid=wav.stem,
                    recording=str(wav),
                    ticket_id=ticket.id,
                )
            )
    settled(write_wav(spoken, 2))
    settled(write_wav(mute, 0))  # MixMonitor's header, nothing after it
    settled(write_wav(description, 1))
    assert cli("tickets", "show", "1")[1]["recording"] == str(description)  # not indexed yet
    assert cli("recordings", "convert") == (0, {"registered": 2, "archived": 2, "failed": 0})
    assert not description.exists() and not spoken.exists() and not mute.exists()
    archived = str(description.with_suffix(".opus"))
    assert cli("tickets", "show", "1")[1]["recording"] == archived
    assert [t["recording"] for t in cli("tickets", "list")[1]] == [archived]
    calls = {c["id"]: c["recording"] for c in cli("calls", "list")[1]}
    assert calls == {1: str(spoken.with_suffix(".opus")), 2: None}
