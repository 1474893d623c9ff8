"""kill -9 of `hotline serve` at a random (seeded) moment of inbound calls, then a restart.

Issue 9, table row 1: answered calls without a call record, and confirmed repairs left incomplete.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from twisted.internet.defer import DeferredList

from hotline.pbxsim.fastagi import SimCallResult

from invariants import calls_without_ending, confirmed_not_stored
from pbx import CONFIRMED, call, estate_csv, heard_confirmed, inbound_key, phone, reached
from reactor_run import run_on_reactor
from service_process import Records, ServiceProcess, sleep, until

CALLERS = 30


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_kill9_mid_inbound_calls_loses_nothing_confirmed(
    service: ServiceProcess, backend: str, seed: int
) -> None:
    rng = random.Random(f"{backend}-{seed}")
    service.init(estate_csv(CALLERS))
    records = Records(service.app)

    async def body(reactor: Any) -> list[SimCallResult]:
        await service.start_ready(reactor)
        # The kill comes when the k-th caller hears "report confirmed" (k and a delay seeded),
        # with more calls arriving all the while: some done, some cut off, some refused.
        confirmations = rng.randrange(1, 6)
        delay = rng.uniform(0, 0.1)

        def heard(direction: str, line: str, _t: float) -> None:
            nonlocal confirmations
            if direction == "<<" and line.startswith(f"STREAM FILE {CONFIRMED} "):
                confirmations -= 1
                if confirmations == 0:
                    reactor.callLater(delay, service.kill9)

        calls = []
        for n in range(CALLERS):
            calls.append(call(reactor, service.fastagi_port, phone(n), observer=heard))
            await sleep(reactor, rng.uniform(0.01, 0.05))
        await until(reactor, lambda: not service.running(), "the kill")
        results = [r for ok, r in await DeferredList(calls, consumeErrors=True) if ok]
        assert len(results) == CALLERS
        await service.start_ready(reactor)

        await until(
            reactor,
            lambda: not calls_without_ending(results, records),
            "every call that reached the service has an ending",
            timeout=15,
            describe=lambda: calls_without_ending(results, records)[:5],
        )
        # and the restarted service takes calls as before
        after = await call(reactor, service.fastagi_port, phone(0))
        assert heard_confirmed(after)
        metrics = await service.metrics(reactor)
        assert metrics["hotline_calls_interrupted_total"] >= 1
        return results

    results = run_on_reactor(body, timeout=90)
    cut = [inbound_key(r) for r in results if reached(r) and not heard_confirmed(r)]
    assert cut, "the kill cut no call short: the seed tests nothing"
    assert confirmed_not_stored(results, records) == []
    assert calls_without_ending(results, records) == []
    calls = records.calls()
    assert all(calls[key].disposition == "interrupted" for key in cut), [calls[k] for k in cut]
    records.dispose()
