"""Two `hotline serve` processes on one PostgreSQL database: a console connected to instance B
sees the call instance A's flow is handling (LISTEN/NOTIFY, no other broker); B's start leaves
A's calls in flight alone, and when A dies B settles them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text
from sse_client import next_of, open_stream
from twisted.internet.defer import Deferred

from hotline.core import api_tokens, users
from hotline.core.db import Database
from hotline.core.models import Base
from hotline.pbxsim.fastagi import (
    Keys,
    PBXOptions,
    Silence,
    SimCaller,
    SimCallResult,
    simulate_call,
)

from reactor_run import run_on_reactor
from service_process import Records, ServiceFactory, ServiceProcess, free_port, until

RESIDENTS = "unit,name,phone,phone2,lang,do_not_call\n3-1-202,Li Na,5551234,,en,no\n"


@pytest.mark.slow
def test_a_call_on_one_instance_reaches_the_stream_of_the_other(
    services: ServiceFactory, request: pytest.FixtureRequest
) -> None:
    url: str = request.getfixturevalue("pg_url")
    db = emptied(url)
    web_a, web_b = free_port(), free_port()
    a = services(url, "a", HOTLINE_WEB_LISTEN=f"127.0.0.1:{web_a}")
    b = services(url, "b", HOTLINE_WEB_LISTEN=f"127.0.0.1:{web_b}")
    app = a.init(RESIDENTS)
    b.init()
    with db.session() as s:
        now = app.now()
        users.add_user(s, "wang", "supervisor", "correct horse battery", now, "201")
        token = api_tokens.add_token(s, "wang-token", now, user="wang")[1]

    async def body(reactor: Any) -> dict[str, Any]:
        await a.start_ready(reactor)
        await b.start_ready(reactor)
        stream = await open_stream(reactor, web_b, token)
        # Each instance LISTENs from a thread of its own, connected soon after the start.
        await until(reactor, lambda: listeners(db) == 2, "both instances listening")

        call = li_na_calls(reactor, a, PBXOptions(time_scale=0.01))
        arrived = await next_of(stream, "call.arrived")
        identified = await next_of(stream, "call.identified")
        result = await call
        assert stream.transport is not None
        stream.transport.loseConnection()
        return {"arrived": arrived, "identified": identified, "result": result}

    try:
        out = run_on_reactor(body, timeout=90)
    finally:
        a.stop()
        b.stop()
        db.dispose()
    assert out["arrived"].data["call_id"] == out["result"].uniqueid
    assert out["arrived"].data["caller"] == "5551234"
    assert out["identified"].data["unit"] == "3-1-202"
    assert out["identified"].data["resident_name"] == "Li Na"


@pytest.mark.slow
def test_a_second_instance_starting_leaves_the_first_ones_calls_alone(
    services: ServiceFactory, request: pytest.FixtureRequest
) -> None:
    a, b, records = two_homes(services, request)

    async def body(reactor: Any) -> None:
        await a.start_ready(reactor)
        held = held_call(reactor, a)
        await until(reactor, lambda: records.count_calls() == 1, "the call's record, ahead")
        await b.start_ready(reactor)
        # B's catch-up at its start is over: the calls a stop of B cut off are settled.
        await until(reactor, lambda: b.log_count("database ready") == 1, "B's catch-up")
        (call,) = records.calls().values()
        assert (call.disposition, call.ended_at) == (None, None), "B settled A's live call"
        assert (await b.metrics(reactor))["hotline_calls_interrupted_total"] == 0
        a.kill9()  # how A stops is not what this test is about
        held.cancel()

    run_and_stop(body, a, b)
    records.dispose()


@pytest.mark.slow
def test_a_dead_instances_call_is_settled_by_the_survivor(
    services: ServiceFactory, request: pytest.FixtureRequest
) -> None:
    # Dead after 6 heartbeats of 0.5 s missed: 3 s (the default is 30 s).
    fast = {"HOTLINE_INSTANCE_HEARTBEAT_SECONDS": "0.5", "HOTLINE_INSTANCE_DEAD_AFTER_BEATS": "6"}
    a, b, records = two_homes(services, request, **fast)

    async def body(reactor: Any) -> None:
        await a.start_ready(reactor)
        await b.start_ready(reactor)
        held = held_call(reactor, a)
        await until(reactor, lambda: records.count_calls() == 1, "the call's record, ahead")
        a.kill9()
        held.cancel()  # the simulated PBX would play the greeting to its end
        await until(
            reactor,
            lambda: [c.disposition for c in records.calls().values()] == ["interrupted"],
            "B settles the call A died under",
            timeout=30,
            describe=lambda: records.calls(),
        )

        # Counted and logged just after the commit the records show: wait for those too.
        async def counted() -> bool:
            return (await b.metrics(reactor))["hotline_calls_interrupted_total"] == 1

        await until(reactor, counted, "B counts the call", timeout=10)
        logged = "call(s) of a dead instance: interrupted"
        await until(reactor, lambda: b.log_count(logged) == 1, "B logs it", timeout=10)

    run_and_stop(body, a, b)
    records.dispose()


def two_homes(
    services: ServiceFactory, request: pytest.FixtureRequest, **env: str
) -> tuple[ServiceProcess, ServiceProcess, Records]:
    """Instances A and B on the emptied PostgreSQL database, and a look at its records."""
    url: str = request.getfixturevalue("pg_url")
    emptied(url).dispose()
    a, b = services(url, "a", **env), services(url, "b", **env)
    return a, b, Records(a.init(RESIDENTS))


def held_call(reactor: Any, service: ServiceProcess) -> Deferred[None]:
    """A call whose greeting lasts ten minutes of real time: in flight until the test cancels
    the Deferred (which then fires, the error dropped)."""
    call = li_na_calls(reactor, service, PBXOptions(time_scale=1.0, prompt_seconds=600.0))
    return call.addBoth(lambda _: None)


def li_na_calls(
    reactor: Any, service: ServiceProcess, options: PBXOptions
) -> Deferred[SimCallResult]:
    """Li Na, known by her number, asks for a person (0 at the main menu)."""
    return simulate_call(
        reactor,
        "127.0.0.1",
        service.fastagi_port,
        SimCaller("5551234", "Li Na", [Silence(), Silence(), Keys("0")]),
        "inbound",
        args=("8000",),
        options=options,
    )


def run_and_stop(body: Callable[[Any], Awaitable[None]], *services: ServiceProcess) -> None:
    try:
        run_on_reactor(body, timeout=90)
    finally:
        for service in services:
            service.stop()


def emptied(url: str) -> Database:
    db = Database(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return db


def listeners(db: Database) -> int:
    with db.engine.connect() as conn:
        query = (
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query = 'LISTEN hotline_events'"
        )
        return int(conn.execute(text(query)).scalar() or 0)
