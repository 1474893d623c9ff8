"""The database goes away: down when `hotline serve` starts, stopped and restarted mid-run, and
down while the spool's disk is full. On a PostgreSQL cluster of the suite's own (pg_cluster.py).

Issue 9, table rows 6 and 7: the service exited with a traceback when the database was down at
start; with the database down and the spool's disk full, reports were lost.
"""

from __future__ import annotations

import random
import resource
from typing import Any

import pytest
from twisted.internet.defer import Deferred, DeferredList

from hotline.pbxsim.fastagi import SimCallResult

from invariants import calls_without_ending, confirmed_not_stored
from pbx import KEYED, UNKNOWN, call, estate_csv, heard_confirmed, reached
from pg_cluster import PgCluster
from reactor_run import run_on_reactor
from service_process import Records, ServiceFactory, ServiceProcess, sleep, until

pytestmark = [pytest.mark.pg_cluster, pytest.mark.slow]
CALLERS = 12


def on_cluster(services: ServiceFactory, cluster: PgCluster) -> ServiceProcess:
    service = services(cluster.new_database())
    service.init(estate_csv(CALLERS))
    return service


async def calls(reactor: Any, service: ServiceProcess, n: int, gap: float) -> list[SimCallResult]:
    """`n` repair reports from callers the service cannot look up while the database is down."""
    placed = []
    for _ in range(n):
        placed.append(call(reactor, service.fastagi_port, UNKNOWN, KEYED))
        await sleep(reactor, gap)
    outcomes = await DeferredList(placed, consumeErrors=True)
    failed = [r for ok, r in outcomes if not ok]
    assert not failed, failed
    return [r for _, r in outcomes]


def spool_empty(service: ServiceProcess) -> bool:
    return not service.spool.exists() or not service.spool.read_bytes().strip()


async def caught_up(reactor: Any, service: ServiceProcess, results: list[SimCallResult]) -> None:
    """The spool drains, without a restart, and every call that reached the service is kept."""
    records = Records(service.app)
    await until(reactor, lambda: spool_empty(service), "the spool drained", timeout=30)
    await until(
        reactor,
        lambda: not calls_without_ending(results, records),
        "every call that reached the service has an ending",
        describe=lambda: calls_without_ending(results, records)[:4],
    )
    assert confirmed_not_stored(results, records) == []
    records.dispose()


def test_database_down_when_the_service_starts(
    services: ServiceFactory, pg_cluster: PgCluster
) -> None:
    service = on_cluster(services, pg_cluster)

    async def body(reactor: Any) -> dict[str, float]:
        pg_cluster.stop()
        await service.start_ready(reactor)
        results = await calls(reactor, service, 4, 0.05)
        assert all(heard_confirmed(r) for r in results), "the reports were not taken"
        assert service.spool.exists()
        pg_cluster.start()
        await caught_up(reactor, service, results)
        return await service.metrics(reactor)

    metrics = run_on_reactor(body, timeout=90)
    assert metrics["hotline_intakes_replayed_total"] > 0
    assert service.running()


def test_database_stopped_and_restarted_mid_run(
    services: ServiceFactory, pg_cluster: PgCluster
) -> None:
    service = on_cluster(services, pg_cluster)
    rng = random.Random("db-restart")

    async def outage(reactor: Any) -> None:
        await sleep(reactor, rng.uniform(0.2, 0.8))
        pg_cluster.stop()
        await sleep(reactor, rng.uniform(1.0, 2.0))
        pg_cluster.start()

    async def body(reactor: Any) -> None:
        await service.start_ready(reactor)
        down = Deferred.fromCoroutine(outage(reactor))
        results = await calls(reactor, service, 3 * CALLERS, 0.08)
        await down
        assert all(reached(r) for r in results)
        assert sum(heard_confirmed(r) for r in results) >= CALLERS, "too few reports taken"
        await caught_up(reactor, service, results)

    run_on_reactor(body, timeout=120)


def test_database_down_and_spool_disk_full(services: ServiceFactory, pg_cluster: PgCluster) -> None:
    """Nothing can keep a report: the caller is not told it is stored; once the disk has room
    again, the next outage is spooled and lands, without a restart."""
    service = on_cluster(services, pg_cluster)

    async def body(reactor: Any) -> dict[str, float]:
        await service.start_ready(reactor)
        pg_cluster.stop()
        service.set_file_size_limit(0)  # the disk is full: no file may grow by a byte
        lost = await calls(reactor, service, 3, 0.05)
        assert all(reached(r) for r in lost)
        assert not any(heard_confirmed(r) for r in lost), "a caller heard a report confirmed"
        assert service.running()
        service.set_file_size_limit(resource.RLIM_INFINITY)
        kept = await calls(reactor, service, 3, 0.05)
        assert all(heard_confirmed(r) for r in kept), [r.transcript[-4:] for r in kept]
        pg_cluster.start()
        await caught_up(reactor, service, kept)
        records = Records(service.app)
        assert confirmed_not_stored(lost, records) == []
        records.dispose()
        return await service.metrics(reactor)

    metrics = run_on_reactor(body, timeout=90)
    assert metrics["hotline_intakes_lost_total"] > 0
    assert service.log_count("lost") > 0


def test_spool_depth_shown_while_the_database_is_down_since_start(
    services: ServiceFactory, pg_cluster: PgCluster
) -> None:
    service = on_cluster(services, pg_cluster)

    async def body(reactor: Any) -> None:
        pg_cluster.stop()
        await service.start_ready(reactor)
        await calls(reactor, service, 2, 0.05)

        async def depth() -> float:
            return (await service.metrics(reactor))["hotline_spool_depth"]

        await until(reactor, depth, "hotline_spool_depth above 0", timeout=6, interval=0.5)

    run_on_reactor(body, timeout=60)
