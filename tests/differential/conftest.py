"""The differential suite's helper modules sit beside its tests; each test module gets an
Asterisk of its own (``real_asterisk``), so the state one leaves (paused members, a queue's
round-robin position) is not another's."""

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say at the end of every run whether the real Asterisk half ran, and why not."""
    from asterisk_pbx import find_binary

    binary, why = find_binary()
    line = f"real Asterisk: {binary}" if binary else f"real Asterisk half skipped: {why}"
    terminalreporter.write_line(f"differential suite: {line}")


@pytest.fixture(scope="module")
def real_asterisk(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The module's Asterisk (an `asterisk_pbx.RealAsterisk`), None without one; it plays the
    residents' speech the module lists in ``SPEECHES``."""
    from asterisk_pbx import RealAsterisk, find_binary
    from harness import write_sounds

    binary, _ = find_binary()
    if binary is None:
        yield None  # each test says why it is skipped (and the report header)
        return
    folder = Path(tempfile.mkdtemp(prefix="hotline-asterisk-"))
    write_sounds(folder / "sounds", getattr(request.module, "SPEECHES", ()))
    asterisk = RealAsterisk(binary, folder / "pbx", folder / "sounds")
    asterisk.start()
    try:
        yield asterisk
    finally:
        asterisk.stop()
        shutil.rmtree(folder, ignore_errors=True)
