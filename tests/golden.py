"""Locate and load the golden Asterisk transcripts (see the README in that folder)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

FROM_ASTERISK = ">>"
TO_ASTERISK = "<<"


def golden_dir() -> Path:
    """``$HOTLINE_GOLDEN_DIR``, else ``shared/asterisk-golden`` beside the checkout."""
    override = os.environ.get("HOTLINE_GOLDEN_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "shared" / "asterisk-golden"


def golden_files(pattern: str) -> list[Path]:
    return sorted(golden_dir().glob(pattern))


@dataclass(frozen=True)
class Chunk:
    t: float
    dir: str
    data: bytes


def load_raw(path: Path) -> list[tuple[str, bytes]]:
    """``.raw``: ``(direction, line bytes with original terminator)`` per protocol line."""
    lines: list[tuple[str, bytes]] = []
    # Split on LF only: the CR of an AMI CR LF stays part of the line.
    for line in path.read_bytes().split(b"\n")[:-1]:
        direction, body = line[:2].decode(), line[3:] + b"\n"
        if direction not in (FROM_ASTERISK, TO_ASTERISK):
            raise ValueError(f"{path.name}: unexpected line {line!r}")
        lines.append((direction, body))
    return lines


def stream(path: Path, direction: str) -> bytes:
    """All bytes one side sent, concatenated, from a ``.raw`` file."""
    return b"".join(body for d, body in load_raw(path) if d == direction)


def load_jsonl(path: Path) -> list[Chunk]:
    """``.jsonl``: socket chunks with timing; ``##`` annotations included."""
    chunks = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        chunks.append(Chunk(record["t"], record["dir"], record["data"].encode("latin-1")))
    return chunks
