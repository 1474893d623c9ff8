"""A local append-only spool for what must not be lost while the database is down.

Each entry is one JSON line, flushed and fsynced before the caller is told it is safe. Replay hands
every entry to a store function; an entry leaves the spool only after the store committed it, and
the stores are idempotent (unique keys), so a replay interrupted at any point lands each entry
exactly once. What can never be stored (a line torn by a crash, an entry the database refuses) is
set aside in `<name>.bad`, one JSON line with the reason, for a person; the rest goes on.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .db import DatabaseUnavailable

log = logging.getLogger(__name__)

Entry = dict[str, Any]


class SpoolFailed(OSError):
    """The spool could not keep an entry (disk full, read-only): it is not safe."""


def _line(entry: Entry) -> bytes:
    return json.dumps(entry, ensure_ascii=False, default=str).encode() + b"\n"


class Spool:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.bad_path = path.with_suffix(".bad")
        self._lock = threading.Lock()
        # Told how many entries were set aside (the metrics).
        self.on_set_aside: Callable[[int], None] = lambda n: None

    def append(self, kind: str, data: Entry) -> None:
        line = _line({"kind": kind, "data": data})
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a+b") as f:
                    # After a crash mid-write the last line has no end: start a fresh one.
                    end = f.seek(0, os.SEEK_END)
                    if end:
                        f.seek(end - 1)
                        if f.read(1) != b"\n":
                            f.write(b"\n")
                    f.write(line)
                    f.flush()
                    os.fsync(f.fileno())
        except OSError as exc:
            raise SpoolFailed(f"{kind} not spooled to {self.path}: {exc}") from exc
        log.warning("database unavailable: %s spooled to %s", kind, self.path)

    def pending(self) -> list[Entry]:
        with self._lock:
            return self._read()

    def depth(self) -> int:
        """Entries waiting, without parsing them (the metrics)."""
        try:
            with self.path.open("rb") as f:
                return sum(1 for line in f if line.strip())
        except FileNotFoundError:
            return 0

    def _read(self) -> list[Entry]:
        """The entries, each line decoded on its own: a torn one is set aside, the rest kept."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        entries: list[Entry] = []
        torn: list[Entry] = []
        for line in raw.splitlines():
            if not line.strip():
                continue
            try:
                entry = json.loads(line.decode("utf-8"))
                if not isinstance(entry, dict) or "kind" not in entry or "data" not in entry:
                    raise ValueError("not a spool entry")
                entries.append(entry)
            except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
                text = line.decode("utf-8", "backslashreplace")
                torn.append({"reason": f"torn line: {exc}", "line": text})
        if torn:
            self._set_aside(torn)
            self._rewrite(entries)
        return entries

    def replay(self, store: Callable[[str, Entry], None]) -> int:
        """Store each entry in order. An entry the store refuses is set aside and replay goes on;
        DatabaseUnavailable stops it, the rest kept for the next try. Returns the count stored."""
        with self._lock:
            entries = self._read()
            done, refused = 0, []
            try:
                for entry in entries:
                    try:
                        store(entry["kind"], entry["data"])
                    except DatabaseUnavailable:
                        raise
                    except Exception as exc:  # whatever the reason, it would fail every time
                        log.error("spool: %s entry set aside: %s", entry["kind"], exc)
                        refused.append({"reason": str(exc).splitlines()[0], "entry": entry})
                    else:
                        done += 1
            finally:
                handled = done + len(refused)
                if refused:
                    self._set_aside(refused)
                if handled:
                    self._rewrite(entries[handled:])
            return done

    def _set_aside(self, records: list[Entry]) -> None:
        log.error("%s: %d entr(y/ies) set aside in %s", self.path, len(records), self.bad_path)
        with self.bad_path.open("ab") as f:
            f.writelines(_line(r) for r in records)
            f.flush()
            os.fsync(f.fileno())
        self.on_set_aside(len(records))

    def _rewrite(self, remaining: list[Entry]) -> None:
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            f.writelines(_line(entry) for entry in remaining)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
