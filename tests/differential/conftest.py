"""The differential suite's helper modules sit beside its tests."""

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say at the end of every run whether the real Asterisk half ran, and why not."""
    from asterisk_pbx import find_binary

    binary, why = find_binary()
    line = f"real Asterisk: {binary}" if binary else f"real Asterisk half skipped: {why}"
    terminalreporter.write_line(f"differential suite: {line}")
