"""The AMI peer killed and restarted while calls ring, and a hostile one flooding bad fields.

Issue 9, table row 10: `Cause: notanumber` 20,000 times logged a traceback per event (18 MB) and
slowed FastAGI calls from ~0.02 s to seconds.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from twisted.internet.defer import Deferred

from hotline.net.tcp import stop_listening
from hotline.pbxsim.ami_residents import ResidentPlan

from dialler import RING_SCALE, attempt_recorder, dialler_service
from invariants import GROWTH_KIB, SLOWER, turnaround
from pbx import DIALER_ENV, Dialling, RecordingAMI, estate_csv
from reactor_run import run_on_reactor
from service_process import Records, ServiceFactory, free_port, sleep, until

FLOOD = 20_000


async def ami_up(reactor: Any, service: Any, up: bool = True) -> None:
    async def connected() -> bool:
        return bool((await service.metrics(reactor)).get("hotline_ami_connected") == float(up))

    await until(reactor, connected, f"AMI {'up' if up else 'down'}", timeout=15, interval=0.1)


@pytest.mark.slow
def test_ami_killed_and_restarted_while_calls_ring(
    services: ServiceFactory, db_url: str, backend: str
) -> None:
    dialling = Dialling()

    async def body(reactor: Any) -> tuple[Records, dict[str, float]]:
        ami_port = free_port()
        service = dialler_service(services, db_url, ami_port)
        records = Records(service.app)
        recorded = attempt_recorder(service)
        plan = ResidentPlan("noanswer")
        first = RecordingAMI(reactor, dialling, recorded, plan, time_scale=RING_SCALE)
        port = first.listen(reactor, ami_port)
        await service.start_ready(reactor)
        await until(reactor, lambda: len(dialling.originates) == 6, "every resident dialled")
        # Asterisk dies with the calls ringing, and comes back with no calls at all.
        await stop_listening(port)
        first.kill()
        await ami_up(reactor, service, up=False)
        second = RecordingAMI(reactor, dialling, recorded, plan, time_scale=RING_SCALE)
        second.listen(reactor, ami_port)
        await ami_up(reactor, service)
        dialled = [o.call_id for o in dialling.originates]

        def unsettled() -> list[str]:
            calls = records.calls()
            return [c for c in dialled if c not in calls or calls[c].disposition is None]

        await until(reactor, lambda: not unsettled(), "attempts settled", describe=unsettled)
        await sleep(reactor, 2.0)  # the dialler ticks on; nobody may be due again yet
        return records, await service.metrics(reactor)

    records, metrics = run_on_reactor(body, timeout=90)
    assert [o.call_id for o in dialling.originates if not o.recorded_before] == []
    twice = {n: k for n, k in Counter(dialling.numbers()).items() if k > 1}
    assert twice == {}, f"dialled again before the retry interval: {twice}"
    assert metrics["hotline_ami_reconnects_total"] >= 1
    records.dispose()


@pytest.mark.slow
def test_ami_flood_of_unparsable_fields(services: ServiceFactory, tmp_path: Any) -> None:
    ami_port = free_port()
    service = services(
        f"sqlite:///{tmp_path / 'home' / 'hotline.db'}",
        **DIALER_ENV,
        HOTLINE_AMI_PORT=str(ami_port),
    )
    service.init(estate_csv(4))
    hangup = [
        ("Channel", "PJSIP/trunk-00000001"),
        ("Uniqueid", "1764633600.1"),
        ("Linkedid", "1764633600.1"),
        ("Cause", "notanumber"),
        ("Cause-txt", "Unknown"),
    ]

    async def body(reactor: Any) -> dict[str, float]:
        ami = RecordingAMI(reactor, Dialling(), None, ResidentPlan("noanswer"))
        ami.listen(reactor, ami_port)
        await service.start_ready(reactor)
        await ami_up(reactor, service)
        baseline = await turnaround(reactor, service)
        rss_before, log_before = service.rss_kib(), len(service.output)

        async def flood() -> None:
            for n in range(FLOOD):
                ami.publish("Hangup", "call", hangup)
                if n % 500 == 0:
                    await sleep(reactor, 0)

        flooding = Deferred.fromCoroutine(flood())
        during = await turnaround(reactor, service)
        await flooding

        async def counted() -> bool:
            metrics = await service.metrics(reactor)
            return metrics.get('hotline_ami_field_errors_total{kind="Hangup.Cause"}') == FLOOD

        await until(reactor, counted, "every bad field counted", timeout=30, interval=0.2)
        assert during <= SLOWER * baseline, (baseline, during)
        assert service.rss_kib() - rss_before < GROWTH_KIB
        logged = service.output[log_before:]
        assert len(logged) < 20, logged[:20]
        assert sum(len(line) for line in logged) < 20_000
        return await service.metrics(reactor)

    metrics = run_on_reactor(body, timeout=90)
    assert metrics["hotline_ami_connected"] == 1
