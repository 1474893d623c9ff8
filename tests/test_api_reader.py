"""The heavy reads answered by the service's reader process (hotline.web.reader): a real
`Service` on 127.0.0.1 with one reader, on SQLite and PostgreSQL. A write is seen by the next
read; the reader checks who is asking as the service does; a reader that dies is started again
and the request it held is answered 503, never left hanging."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import treq
from treq.client import HTTPClient
from treq.testing import _SynchronousProducer
from twisted.internet.defer import Deferred
from twisted.web.client import Agent
from twisted.web.http_headers import Headers

from hotline.app import App
from hotline.core import api_tokens, users
from hotline.core.db import Database
from hotline.net.tcp import bound_port
from hotline.service import Service
from hotline.settings import WebSettings
from hotline.web.declare import Route
from hotline.web.reader import ReaderPool
from hotline.web.server import WebApi

from api_support import NOW, PASSWORD, Clock, make_app
from factories import seed_residents
from reactor_run import run_on_reactor, sleep

REPAIR = {"kind": "repair", "category": "leak", "unit": "3-1-201"}
RESTART_WAIT_SECONDS = 20.0  # a safety net for a slow machine, not a measure


class Client:
    """Requests to the service's listener, bodies as parsed JSON."""

    def __init__(self, reactor: Any, service: Service, token: str | None) -> None:
        # Bodies written at once: treq's default producer cooperates on the global reactor.
        self.http = HTTPClient(Agent(reactor), data_to_body_producer=_SynchronousProducer)
        self.base = f"http://127.0.0.1:{bound_port(service.ports[-1])}/api/v1"
        self.token = token

    async def call(self, method: str, path: str, data: Any = None) -> tuple[int, Any]:
        headers = Headers({"Authorization": [f"Bearer {self.token}"]} if self.token else {})
        response = await self.http.request(method, self.base + path, headers=headers, json=data)
        return response.code, json.loads(await treq.content(response))


def _setup(db: Database, tmp_path: Path) -> tuple[App, str, Clock]:
    seed_residents(db, tmp_path)
    app = make_app(db, tmp_path / "home", read_processes=1)
    with db.session() as s:
        users.add_user(s, "li", "agent", PASSWORD, NOW, "101")
        secret = api_tokens.add_token(s, "li-token", NOW, user="li")[1]
    return app, secret, Clock()


async def _serve(reactor: Any, app: App, clock: Clock) -> tuple[Service, ReaderPool]:
    service = Service(app, reactor, clock=clock)
    await service.start("127.0.0.1:0", web_listen="127.0.0.1:0")
    assert service.readers is not None
    return service, service.readers


def test_heavy_reads_are_answered_by_the_reader_process(
    db: Database, tmp_path: Path, cheap_password_hashes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, secret, clock = _setup(db, tmp_path)
    in_service: list[str] = []
    read = WebApi._read

    def watched(self: WebApi, route: Route, *args: Any) -> Any:
        in_service.append(route.operation_id)
        return read(self, route, *args)

    monkeypatch.setattr(WebApi, "_read", watched)  # the service's own; the reader's is its own

    async def body(reactor: Any) -> dict[str, Any]:
        service, readers = await _serve(reactor, app, clock)
        agent = Client(reactor, service, secret)
        try:
            made = await agent.call("POST", "/tickets", REPAIR)
            return {
                "pids": readers.pids(),
                "made": made,
                # Straight after the write, from the other process: it sees the write.
                "one": await agent.call("GET", f"/tickets/{made[1]['id']}"),
                "page": await agent.call("GET", "/tickets?kind=repair"),
                "stranger": await Client(reactor, service, None).call("GET", "/tickets"),
                "forged": await Client(reactor, service, "not-a-token").call("GET", "/tickets"),
                "bad": await agent.call("GET", "/tickets?limit=0"),
                "missing": await agent.call("GET", "/tickets/999999"),
                "session": await agent.call("GET", "/session"),  # not apart: in the service
            }
        finally:
            await service.stop()

    got = run_on_reactor(body)
    assert len(got["pids"]) == 1 and got["pids"][0] != os.getpid()
    assert got["made"][0] == 201
    ticket = got["made"][1]
    assert got["one"][0] == 200 and got["one"][1]["id"] == ticket["id"]
    assert got["page"] == (200, {"items": [ticket], "next_cursor": None})
    errors = ("stranger", "forged", "bad", "missing")
    assert {k: (got[k][0], got[k][1]["error"]["code"]) for k in errors} == {
        "stranger": (401, "unauthenticated"),
        "forged": (401, "unauthenticated"),
        "bad": (400, "bad_request"),
        "missing": (404, "not_found"),
    }
    assert got["session"][0] == 200
    assert in_service == ["whoami"]
    with pytest.raises(ProcessLookupError):  # the service's stop ended its reader
        os.kill(got["pids"][0], 0)


def test_a_reader_that_dies_is_started_again_and_its_request_answered_503(
    db: Database, tmp_path: Path
) -> None:
    app, secret, clock = _setup(db, tmp_path)

    async def body(reactor: Any) -> dict[str, Any]:
        service, readers = await _serve(reactor, app, clock)
        agent = Client(reactor, service, secret)
        try:
            before = await agent.call("GET", "/tickets")
            (pid,) = readers.pids()
            os.kill(pid, signal.SIGSTOP)  # it cannot answer: the request below is in flight
            held = Deferred.fromCoroutine(agent.call("GET", "/tickets"))  # sent, not awaited
            while readers.in_flight() == 0:
                await sleep(reactor, 0.01)
            os.kill(pid, signal.SIGKILL)
            dead = await held
            # Started again: asked until it answers (503 while it starts).
            waited = 0.0
            while (again := await agent.call("GET", "/tickets"))[0] != 200:
                assert again[1]["error"]["code"] == "unavailable"
                assert waited < RESTART_WAIT_SECONDS
                await sleep(reactor, 0.1)
                waited += 0.1
            return {
                "before": before[0],
                "dead": dead,
                "again": again[0],
                "restarts": readers.restarts,
                "pids": (pid, readers.pids()),
            }
        finally:
            await service.stop()

    got = run_on_reactor(body, timeout=60)
    assert (got["before"], got["again"], got["restarts"]) == (200, 200, 1)
    assert got["dead"] == (
        503,
        {"error": {"code": "unavailable", "message": "the reader process ended; try again"}},
    )
    old, new = got["pids"]
    assert len(new) == 1 and new[0] != old


@pytest.mark.parametrize(
    ("url", "processes"),
    [
        ("sqlite://", 0),
        ("sqlite:///:memory:", 0),
        ("sqlite+pysqlite:///:memory:?cache=shared", 0),
        ("sqlite:////var/lib/hotline/hotline.db", 2),
        ("postgresql+psycopg://hotline@db/hotline", 2),
    ],
)
def test_an_in_memory_database_keeps_its_reads_in_the_service(url: str, processes: int) -> None:
    """Another process cannot open the service's in-memory SQLite database."""
    assert WebSettings(read_processes=2).reader_processes(url) == processes
