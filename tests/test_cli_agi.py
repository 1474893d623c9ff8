"""`hotline agi inbound`: the classic process-per-call mode, with Asterisk played over pipes."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from hotline.core import dialplan as contract
from hotline.core.db import Database
from hotline.core.models import CallRecord, Ticket

from factories import seed_residents
from flow_harness import make_app

ENV = [
    "agi_network: yes",
    "agi_network_script: inbound",
    "agi_request: inbound",
    "agi_channel: PJSIP/trunk-00000001",
    "agi_language: zh",
    "agi_type: PJSIP",
    "agi_uniqueid: 1795330000.7",
    "agi_version: 22.10.1",
    "agi_callerid: 13900001111",
]


def answer(command: str) -> str:
    """What a resident pressing 0 at the main menu makes Asterisk answer."""
    if command.startswith("GET DATA hotline/main-menu"):
        return "200 result=0"
    if command.startswith("GET DATA"):
        return "200 result= (timeout)"
    if command.startswith(("SET VARIABLE", "VERBOSE")):
        return "200 result=1"
    return "200 result=0"


def noon_timezone() -> str:
    """A site timezone in which it is now about noon: the process reads the wall clock, and
    the call must find the office open whenever the test runs."""
    return f"Etc/GMT{datetime.now(UTC).hour - 12:+d}"  # Etc/GMT-2 is UTC+2


def test_classic_agi_runs_the_inbound_flow(db: Database, tmp_path: Path) -> None:
    seed_residents(db, tmp_path, "unit,name,phone,lang\n3-1-202,Li Na,13900001111,en\n")
    home = tmp_path / "home"
    make_app(home, db.url).init()
    env = {
        **os.environ,
        "HOTLINE_HOME": str(home),
        "HOTLINE_DB_URL": db.url,
        "HOTLINE_SITE_TIMEZONE": noon_timezone(),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "hotline.cli", "agi", "inbound"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write("\n".join(ENV) + "\n\n")
    proc.stdin.flush()
    commands = []
    for line in proc.stdout:
        commands.append(line.rstrip("\n"))
        proc.stdin.write(answer(commands[-1]) + "\n")
        proc.stdin.flush()
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    assert commands[0] == "ANSWER"
    assert "SET VARIABLE CHANNEL(language) en" in commands
    assert f"SET VARIABLE {contract.QUEUE} {contract.QUEUE_ENQUIRIES}" in commands
    assert f"SET VARIABLE {contract.UNIT} 3-1-202" in commands
    with db.session() as s:
        record = s.scalars(select(CallRecord)).one()
        assert (record.disposition, record.queue, record.caller) == (
            "to_agent",
            contract.QUEUE_ENQUIRIES,
            "13900001111",
        )
        assert s.scalars(select(Ticket)).all() == []
