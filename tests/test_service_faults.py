"""`hotline serve` on a bad day: no database at start, a port taken, a folder it cannot write."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hotline.core import dialplan as contract
from hotline.core.db import Database
from hotline.core.models import CallRecord, Recording, Ticket
from hotline.net.tcp import bound_port
from hotline.pbxsim.fastagi import Input, Keys, Silence, SimCaller, Speak, simulate_call
from hotline.service import Service

from factories import seed_residents
from flow_harness import OFFICE_HOURS, make_app
from reactor_run import run_on_reactor
from wavs import write_wav

KEYED_REPAIR: list[Input] = [
    Silence(),
    Keys("3*1*201#"),
    Keys("1"),
    Keys("4"),
    Speak(2.0),
    Keys("1"),
]


def test_started_without_its_database_it_spools_then_catches_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'not-yet' / 'hotline.db'}"  # a folder that is not there
    app = make_app(tmp_path / "home", url)

    async def body(reactor: Any) -> tuple[int, bool]:
        service = Service(app, reactor, clock=lambda: OFFICE_HOURS)
        await service.start("127.0.0.1:0")
        try:
            port = bound_port(service.ports[0])
            call = SimCaller("13911112222", None, KEYED_REPAIR)
            result = await simulate_call(reactor, "127.0.0.1", port, call, "inbound")
            assert result.variables[contract.STATUS] == contract.STATUS_DONE  # finished, not failed
            assert any("report-confirmed" in line for _, line, _ in result.transcript)
            spooled = service.desk.spool.depth()
            await service._catch_up_tick()  # still down: logged again? no, once
            (tmp_path / "not-yet").mkdir()
            db = Database(url)
            db.upgrade()
            seed_residents(db, tmp_path)
            await service._catch_up_tick()  # the database is back, no restart
            return spooled, service._catch_up.running
        finally:
            await service.stop()

    with caplog.at_level(logging.ERROR, logger="hotline.service"):
        spooled, running = run_on_reactor(body)
    assert spooled > 0 and running
    assert len([r for r in caplog.records if "catching up" in r.getMessage()]) == 1
    assert app.settings.spool_path.read_bytes() == b""
    with app.db.session() as s:
        (ticket,) = s.scalars(select(Ticket))
        (record,) = s.scalars(select(CallRecord))
    assert not ticket.incomplete and record.ticket_id == ticket.id
    assert record.disposition == "completed"


def serve(home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    hotline = Path(sys.executable).with_name("hotline")
    subprocess.run([hotline, "init"], env={**os.environ, "HOTLINE_HOME": str(home)}, check=True)
    return subprocess.run(
        [hotline, "serve"],
        env={
            **os.environ,
            "HOTLINE_HOME": str(home),
            "HOTLINE_METRICS_LISTEN": "",
            "HOTLINE_WEB_LISTEN": "",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_exits_non_zero_with_one_line_when_its_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = serve(tmp_path / "home", HOTLINE_FASTAGI_LISTEN=f"127.0.0.1:{port}")
    assert out.returncode == 1
    (line,) = [line for line in out.stderr.splitlines() if "ERROR" in line]
    assert "could not start" in line and str(port) in line
    assert "Traceback" not in out.stderr


def test_serve_exits_non_zero_when_it_cannot_write_its_recordings(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")  # root ignores permissions; a file in the way does not
    out = serve(
        tmp_path / "home",
        HOTLINE_FASTAGI_LISTEN="127.0.0.1:0",
        HOTLINE_RECORDINGS_DIRECTORY=str(blocked / "recordings"),
    )
    assert out.returncode == 1
    (line,) = [line for line in out.stderr.splitlines() if "ERROR" in line]
    assert f"cannot write in {blocked}" in line and "Traceback" not in out.stderr


def test_the_service_indexes_and_converts_recordings_by_itself(
    db: Database, tmp_path: Path
) -> None:
    app = make_app(tmp_path / "home", db.url)
    wav = write_wav(app.settings.recordings_dir / "calls" / "1700000000.9.wav", 1)
    settled = time.time() - 120  # Asterisk finished writing it two minutes ago
    os.utime(wav, (settled, settled))

    async def body(reactor: Any) -> None:
        service = Service(app, reactor)
        await service.start("127.0.0.1:0")
        try:
            await service._archive_recordings()  # what its loop runs every 30 s
        finally:
            await service.stop()

    run_on_reactor(body, timeout=20)
    with app.db.session() as s:
        (recording,) = s.scalars(select(Recording))
    assert recording.state == "archived" and recording.path == str(wav.with_suffix(".opus"))
    assert not wav.exists()
