"""Two `hotline serve` processes on one PostgreSQL database: a console connected to instance B
sees the call instance A's flow is handling (LISTEN/NOTIFY, no other broker)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sse_client import next_of, open_stream

from hotline.core import api_tokens, users
from hotline.core.db import Database
from hotline.core.models import Base
from hotline.pbxsim.fastagi import Keys, PBXOptions, Silence, SimCaller, simulate_call

from reactor_run import run_on_reactor
from service_process import ServiceFactory, free_port, until

RESIDENTS = "unit,name,phone,phone2,lang,do_not_call\n3-1-202,Li Na,5551234,,en,no\n"


@pytest.mark.slow
def test_a_call_on_one_instance_reaches_the_stream_of_the_other(
    services: ServiceFactory, request: pytest.FixtureRequest
) -> None:
    url: str = request.getfixturevalue("pg_url")
    db = Database(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
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

        call = simulate_call(
            reactor,
            "127.0.0.1",
            a.fastagi_port,
            SimCaller("5551234", "Li Na", [Silence(), Silence(), Keys("0")]),
            "inbound",
            args=("8000",),
            options=PBXOptions(time_scale=0.01),
        )
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


def listeners(db: Database) -> int:
    with db.engine.connect() as conn:
        query = (
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query = 'LISTEN hotline_events'"
        )
        return int(conn.execute(text(query)).scalar() or 0)
