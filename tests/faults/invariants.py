"""What must hold after any fault: the invariants the fault tests assert (issue 9)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from hotline.pbxsim.fastagi import SimCallResult

from pbx import call, heard_confirmed, inbound_key, phone, reached
from service_process import Records, ServiceProcess

SLOWER = 15  # other calls may be this many times slower during a flood than before it
GROWTH_KIB = 30 * 1024  # what a flood may add to the server's resident memory


def confirmed_not_stored(results: Iterable[SimCallResult], records: Records) -> list[str]:
    """Calls whose caller heard "report confirmed" but whose report is not stored exactly once,
    complete (an empty list when the invariant holds)."""
    tickets = records.tickets()
    wrong = []
    for result in results:
        if not heard_confirmed(result):
            continue
        key = inbound_key(result)
        stored = [t for t in tickets if t.intake_key == key]
        if len(stored) != 1 or stored[0].incomplete:
            wrong.append(f"{key}: {stored}")
    return wrong


def calls_without_ending(results: Iterable[SimCallResult], records: Records) -> list[str]:
    """Calls that reached the service but have no call record with an ending."""
    calls = records.calls()
    wrong = []
    for result in results:
        if not reached(result):
            continue
        key = inbound_key(result)
        record = calls.get(key)
        if record is None or record.disposition is None or record.ended_at is None:
            wrong.append(f"{key}: {record}")
    return wrong


async def turnaround(reactor: Any, service: ServiceProcess, calls: int = 4) -> float:
    """The median seconds of a full repair call (simulated time instant), one at a time."""
    times: list[float] = []
    for n in range(calls):
        start = reactor.seconds()
        result = await call(reactor, service.fastagi_port, phone(n % 4), scale=0)
        assert heard_confirmed(result), result.transcript[-5:]
        times.append(reactor.seconds() - start)
    return statistics.median(times)
