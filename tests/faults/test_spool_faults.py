"""Torn and refused spool lines, and caller IDs longer than the old columns, on `hotline serve`.

Issue 9, table rows 3-5: a line torn inside a multi-byte character stopped replay for good; an
entry the database refuses killed the replay loop; a caller number over 20 characters on
PostgreSQL failed the call after the recording, nothing kept.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import pytest

from hotline.core.intake import CallSummary, PhoneReport
from hotline.core.spool import Spool
from hotline.pbxsim.fastagi import Input, Keys, Silence, Speak

from pbx import call, estate_csv, heard_confirmed, inbound_key
from reactor_run import run_on_reactor
from service_process import Records, ServiceProcess, until

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def report(key: str, **kw: Any) -> dict[str, Any]:
    fields = {"kind": "repair", "category": "plumbing", "received_at": NOW, "unit": "1-1-101"}
    return asdict(PhoneReport(key=key, **{**fields, **kw}))


def call_summary(key: str, **kw: Any) -> dict[str, Any]:
    summary = CallSummary(key=key, direction="in", arrived_at=NOW, ended_at=NOW, **kw)
    summary.disposition = "completed"
    summary.report_key = key
    return asdict(summary)


def spool_lines(spool: Spool, *entries: tuple[str, dict[str, Any]] | bytes) -> None:
    """Write entries as the service does; bytes are written as they are (a torn line)."""
    for entry in entries:
        if isinstance(entry, bytes):
            spool.path.parent.mkdir(parents=True, exist_ok=True)
            with spool.path.open("ab") as f:
                f.write(entry)
        else:
            spool.append(*entry)


def set_aside(service: ServiceProcess) -> list[dict[str, Any]]:
    bad = service.spool.with_suffix(".bad")
    if not bad.exists():
        return []
    return [json.loads(line) for line in bad.read_bytes().splitlines() if line.strip()]


def spool_empty(service: ServiceProcess) -> bool:
    return not service.spool.exists() or not service.spool.read_bytes().strip()


async def drained(reactor: Any, service: ServiceProcess) -> None:
    await until(
        reactor,
        lambda: spool_empty(service),
        "the spool drained",
        describe=lambda: service.spool.read_bytes()[:300] + service.log_tail(8).encode(),
    )


def test_torn_spool_line_is_set_aside_and_the_rest_lands(service: ServiceProcess) -> None:
    service.init(estate_csv(2))
    spool = Spool(service.spool)
    torn = json.dumps(
        {"kind": "report", "data": report("in:torn", text="王芳家卫生间漏水")},
        ensure_ascii=False,
        default=str,
    ).encode()
    cut = torn.index("漏".encode()) + 1  # inside the three bytes of 漏
    spool_lines(
        spool,
        ("report", report("in:before", text="厨房水管")),
        ("call", call_summary("in:before", caller="13700000000")),
        torn[:cut],  # the crash: no newline; the next append starts a fresh line
        ("report", report("in:after", text="卫生间")),
        ("call", call_summary("in:after", caller="13700000001")),
    )
    records = Records(service.app)

    async def body(reactor: Any) -> dict[str, float]:
        await service.start_ready(reactor)
        await drained(reactor, service)
        metrics = await service.metrics(reactor)
        # and after a restart nothing is replayed twice
        service.stop()
        await service.start_ready(reactor)
        return metrics

    metrics = run_on_reactor(body, timeout=60)
    keys = sorted(t.intake_key or "" for t in records.tickets())
    assert keys == ["in:after", "in:before"]
    assert {"in:after", "in:before"} <= set(records.calls())
    aside = set_aside(service)
    assert len(aside) == 1 and aside[0]["reason"], aside
    assert "王芳家卫生间" in json.dumps(aside[0], ensure_ascii=False)
    assert metrics["hotline_intakes_set_aside_total"] == 1
    assert metrics["hotline_spool_depth"] == 0
    records.dispose()


def test_refused_spool_entries_are_set_aside_and_replay_goes_on(
    service: ServiceProcess, backend: str
) -> None:
    """Entries that can never be stored, between good ones; a 25-digit caller number (refused by
    PostgreSQL before) is now stored, cut to its column."""
    service.init(estate_csv(2))
    spool = Spool(service.spool)
    long_number = "1" * 25
    spool_lines(
        spool,
        ("report", report("in:first")),
        ("report", {**report("in:bad-date"), "received_at": "the day after tomorrow"}),
        ("report", report("in:long", caller_number=long_number)),
        ("call", call_summary("in:long", caller=long_number)),
        ("call", {**call_summary("in:unknown-field"), "colour": "blue"}),
        ("report", report("in:last")),
    )
    records = Records(service.app)

    async def body(reactor: Any) -> dict[str, float]:
        await service.start_ready(reactor)
        await drained(reactor, service)
        return await service.metrics(reactor)

    metrics = run_on_reactor(body, timeout=60)
    keys = sorted(t.intake_key or "" for t in records.tickets())
    assert keys == ["in:first", "in:last", "in:long"]
    assert "in:long" in records.calls()
    aside = set_aside(service)
    assert len(aside) == 2 and all(a["reason"] for a in aside), aside
    assert metrics["hotline_intakes_set_aside_total"] == 2
    assert service.running()
    records.dispose()


@pytest.mark.parametrize("digits", [25, 80])
def test_long_caller_id_with_the_database_up(service: ServiceProcess, digits: int) -> None:
    """Asterisk may send an 80-character caller ID: the call is taken and kept all the same."""
    service.init(estate_csv(2))
    records = Records(service.app)

    async def body(reactor: Any) -> str:
        await service.start_ready(reactor)
        # an unknown number: the caller keys in the unit
        inputs: list[Input] = [
            Silence(),
            Keys("1*1*101#"),
            Keys("1"),
            Keys("4"),
            Speak(2.0),
            Keys("1"),
        ]
        result = await call(reactor, service.fastagi_port, "9" * digits, inputs, scale=0)
        assert heard_confirmed(result), result.transcript[-6:]
        key = inbound_key(result)
        await until(reactor, lambda: key in records.calls(), "the call record")
        return key

    key = run_on_reactor(body, timeout=60)
    [ticket] = [t for t in records.tickets() if t.intake_key == key]
    assert not ticket.incomplete
    assert records.calls()[key].disposition == "completed"
    records.dispose()
