"""Running the command line in tests (the `cli` fixture is in conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

Run = Callable[..., tuple[int, str, str]]


def jrun(cli: Run, *argv: str) -> Any:
    """`hotline ARGS… --json`, which must succeed: its JSON."""
    code, out, err = cli(*argv, "--json")
    assert code == 0, err
    return json.loads(out)
