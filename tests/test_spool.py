from __future__ import annotations

from pathlib import Path

import pytest

from hotline.core.db import DatabaseUnavailable
from hotline.core.spool import Entry, Spool


def test_replay_stops_at_the_first_failure_and_keeps_the_rest(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool" / "intakes.jsonl")
    for n in range(4):
        spool.append("report", {"n": n, "text": "漏水"})
    stored: list[int] = []

    def store(kind: str, data: Entry) -> None:
        if data["n"] == 2:
            raise DatabaseUnavailable("down again")
        stored.append(data["n"])

    with pytest.raises(DatabaseUnavailable):
        spool.replay(store)
    assert stored == [0, 1]
    assert [e["data"]["n"] for e in spool.pending()] == [2, 3]
    assert spool.replay(lambda kind, data: stored.append(data["n"])) == 2
    assert stored == [0, 1, 2, 3] and spool.pending() == []


def test_a_torn_line_is_set_aside_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "intakes.jsonl"
    spool = Spool(path)
    spool.append("report", {"n": 1})
    with path.open("a", encoding="utf-8") as f:
        f.write('{"kind": "report", "da')  # the process died mid-write
    spool.append("report", {"n": 2})  # the service restarted and spooled again
    assert [e["data"]["n"] for e in spool.pending()] == [1, 2]
    assert [e["data"]["n"] for e in spool.pending()] == [1, 2]
    assert path.with_suffix(".bad").read_text(encoding="utf-8") == '{"kind": "report", "da\n'
