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
