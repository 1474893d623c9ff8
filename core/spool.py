"""A local append-only spool for what must not be lost while the database is down.

Each entry is one JSON line, flushed and fsynced before the caller is told it is safe. Replay hands
every entry to a store function; an entry leaves the spool only after the store committed it, and
the stores are idempotent (unique keys), so a replay interrupted at any point lands each entry
exactly once.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Entry = dict[str, Any]


class Spool:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, kind: str, data: Entry) -> None:
        line = json.dumps({"kind": kind, "data": data}, ensure_ascii=False, default=str)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a+b") as f:
                # After a crash mid-write the last line has no end: start a fresh one.
                end = f.seek(0, os.SEEK_END)
                if end:
                    f.seek(end - 1)
                    if f.read(1) != b"\n":
                        f.write(b"\n")
                f.write(line.encode() + b"\n")
                f.flush()
                os.fsync(f.fileno())
        log.warning("database unavailable: %s spooled to %s", kind, self.path)

    def pending(self) -> list[Entry]:
        with self._lock:
            return self._read()

    def _read(self) -> list[Entry]:
        if not self.path.exists():
            return []
        entries, torn = [], []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                torn.append(line)
        if torn:
            # A line torn by a crash mid-write: set it aside for a person, keep the rest going.
            bad = self.path.with_suffix(".bad")
            log.error("%s: %d torn line(s) moved to %s", self.path, len(torn), bad)
            with bad.open("a", encoding="utf-8") as f:
                f.writelines(line + "\n" for line in torn)
            self._rewrite(entries)
        return entries

    def replay(self, store: Callable[[str, Entry], None]) -> int:
        """Store each entry in order; stop at the first failure and keep the rest. Returns count."""
        with self._lock:
            entries = self._read()
            done = 0
            try:
                for entry in entries:
                    store(entry["kind"], entry["data"])
                    done += 1
            finally:
                if done:
                    self._rewrite(entries[done:])
            return done

    def _rewrite(self, remaining: list[Entry]) -> None:
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for entry in remaining:
                f.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
