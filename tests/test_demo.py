"""The README's first command: the demo runs the service and simulator and shows the tickets."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


def test_demo_shows_calls_becoming_tickets(tmp_path: Path) -> None:
    env = {**os.environ, "HOTLINE_HOME": str(tmp_path / "home")}
    env.pop("HOTLINE_DB_URL", None)
    run = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "demo", "--speed", "40"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "answered after 1 ring(s)" in out
    assert "ticket #1" in out and "Tickets made:" in out
    assert "repair     leak" in out and "emergency" in out
    assert "caller_hangup" in out and "incomplete" in out
    assert "Answered within three rings: 8/8" in out
    assert re.search(r"HTTP API http://127\.0\.0\.1:\d+/api/v1/  token hl_\S{40,}", out)
    assert (tmp_path / "home" / "demo" / "hotline.db").exists()
    assert re.search(r"\n\d+ +complaint +noise ", out)  # scenario 2 chose noise by keypad
    live = [
        line.split("  ", 2) for line in out.splitlines() if re.match(r"\d\d:\d\d:\d\d  \[", line)
    ]
    # Every live line is tagged; each inbound scenario's call ends on its stored id, once.
    stored: dict[str, list[int]] = {}
    for _, tag, text in live:
        if found := re.search(r"stored as call (\d+)$", text):
            assert tag not in stored or not tag.startswith("[scenario"), tag
            stored.setdefault(tag, []).append(int(found.group(1)))
    assert {f"[scenario {n}]" for n in range(1, 9)} <= set(stored)
    # The ids are those of the tables: inbound records 1-8 in scenario order of their ends.
    inbound = sorted(ids[0] for tag, ids in stored.items() if tag.startswith("[scenario"))
    assert inbound == list(range(1, 9))
    assert re.search(r"\n\d+ +\d+ +15910\d+ +\w+ +(no answer \(19\)|busy \(17\))", out)
    assert not re.search(r"\n\d+ +\d+ +\d+ +(no_answer|busy|rejected) +\d+ ", out)
