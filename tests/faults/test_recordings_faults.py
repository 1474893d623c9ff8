"""Recordings under `hotline serve`: indexed and converted by the service itself, and a full disk
for the archives counted, with the WAV kept.

Issue 9, table row 9: with 1,160 WAVs waiting none was indexed or converted (the recordings
thread pool was never started). The disk is "full" through RLIMIT_FSIZE on the running service,
which ffmpeg inherits: a small archive fits, a long one does not. PostgreSQL only, so the
limit hits the archives and not the database file.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hotline.core.models import Recording
from hotline.pbxsim.fastagi import Keys, Silence, Speak

from pbx import call, estate_csv, heard_confirmed, phone
from reactor_run import run_on_reactor
from service_process import ServiceProcess, until

ARCHIVE_LIMIT = 32 * 1024  # bytes: 1 s of 16 kbit/s MP3 fits, 50 s does not


def report_speaking(seconds: float) -> list[Any]:
    return [Silence(), Silence(), Keys("1"), Keys("4"), Speak(seconds), Keys("1")]


def recordings(service: ServiceProcess) -> dict[str, tuple[str, str | None]]:
    """WAV path -> (state, error); an archived recording is indexed under its archive's name."""
    app = service.app
    with app.db.session() as s:
        rows = s.execute(select(Recording.path, Recording.state, Recording.error)).all()
    app.db.dispose()
    return {str(Path(path).with_suffix(".wav")): (state, error) for path, state, error in rows}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"])
def test_service_archives_recordings_and_counts_a_full_disk(service: ServiceProcess) -> None:
    service.init(estate_csv(2))

    async def body(reactor: Any) -> tuple[list[str], dict[str, float]]:
        await service.start_ready(reactor)
        wavs = []
        for n, seconds in enumerate((1.0, 50.0)):
            result = await call(reactor, service.fastagi_port, phone(n), report_speaking(seconds))
            assert heard_confirmed(result)
            wavs.append(result.recordings[0].path)
            # Finished two minutes ago: the worker leaves a WAV alone for its first minute.
            old = time.time() - 120
            os.utime(wavs[-1], (old, old))
        service.set_file_size_limit(ARCHIVE_LIMIT)

        def handled() -> bool:
            states = recordings(service)
            return all(states.get(w, ("",))[0] in ("archived", "failed") for w in wavs)

        # The service's worker runs every 30 s: no CLI, no restart.
        await until(
            reactor,
            handled,
            "both recordings handled",
            timeout=45,
            interval=0.5,
            describe=lambda: (recordings(service), service.log_tail(6)),
        )
        return wavs, await service.metrics(reactor)

    (short, long), metrics = run_on_reactor(body, timeout=90)
    states = recordings(service)
    assert states[short][0] == "archived", states
    assert not Path(short).exists() and Path(short).with_suffix(".mp3").exists()
    assert states[long][0] == "failed" and states[long][1], states
    assert Path(long).exists(), "the WAV of a failed conversion must stay"
    assert metrics["hotline_recording_conversion_failures_total"] >= 1
    assert service.running()
