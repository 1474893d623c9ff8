"""File names built from what the network sends (Asterisk's uniqueid, a call id).

Every recording path the flows give RECORD FILE, the dialplan's MixMonitor (HOTLINE_RECORDING) and
the dialer's Originate is built here, so no ``/``, ``..`` or control character from a peer can put a
file outside the recordings folder.
"""

from __future__ import annotations

import re
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
MAX_NAME = 64  # a uniqueid is ~20 characters; more is not Asterisk


def safe_name(text: str) -> str:
    """``text`` reduced to letters, digits, ``.``, ``_`` and ``-``; never empty, never a leading
    dot (``.`` and ``..`` are not names), at most MAX_NAME characters."""
    name = _UNSAFE.sub("_", text)[:MAX_NAME].lstrip(".")
    return name or "unknown"


def recording_path(folder: Path, name: str, suffix: str = "") -> Path:
    """``folder/<safe name><suffix>``: e.g. ``calls/<uniqueid>.wav``, ``descriptions/<id>-1``."""
    return folder / f"{safe_name(name)}{suffix}"
