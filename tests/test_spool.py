from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from hotline.core.db import DatabaseUnavailable
from hotline.core.spool import Entry, Spool, SpoolFailed


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
    bad = [json.loads(line) for line in path.with_suffix(".bad").read_text().splitlines()]
    assert [b["line"] for b in bad] == ['{"kind": "report", "da']
    assert bad[0]["reason"].startswith("torn line")


def test_a_line_torn_inside_a_multibyte_character_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "intakes.jsonl"
    spool = Spool(path)
    set_aside: list[int] = []
    spool.on_set_aside = set_aside.append
    spool.append("report", {"n": 1, "name": "王小明"})
    whole = json.dumps({"kind": "report", "data": {"n": 2, "name": "王小明"}}, ensure_ascii=False)
    torn = whole.encode()[: whole.encode().index("小".encode()) + 1]  # inside 小
    with path.open("ab") as f:
        f.write(torn)
    spool.append("report", {"n": 3, "name": "李"})
    stored: list[int] = []
    assert spool.replay(lambda kind, data: stored.append(data["n"])) == 2
    assert stored == [1, 3] and spool.pending() == [] and set_aside == [1]
    assert spool.bad_path == tmp_path / "intakes.bad"
    assert "torn line" in json.loads(spool.bad_path.read_text(encoding="utf-8"))["reason"]


def test_an_entry_the_store_refuses_is_set_aside_and_replay_goes_on(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "intakes.jsonl")
    set_aside: list[int] = []
    spool.on_set_aside = set_aside.append
    for n in range(3):
        spool.append("call", {"n": n})
    stored: list[int] = []

    def store(kind: str, data: Entry) -> None:
        if data["n"] == 1:
            raise ValueError("value too long for type character varying(20)\nDETAIL: more")
        stored.append(data["n"])

    assert spool.replay(store) == 2
    assert stored == [0, 2] and spool.pending() == [] and set_aside == [1]
    (bad,) = [json.loads(line) for line in spool.bad_path.read_text().splitlines()]
    assert bad == {
        "reason": "value too long for type character varying(20)",
        "entry": {"kind": "call", "data": {"n": 1}},
    }
    assert spool.depth() == 0


def test_a_spool_that_cannot_write_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = Spool(tmp_path / "intakes.jsonl")

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(SpoolFailed, match=r"report not spooled.*No space left"):
        spool.append("report", {"n": 1})
