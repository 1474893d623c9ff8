"""The API as the service runs it: a real listener on 127.0.0.1, the database work in the
service's thread pool; and `hotline serve` itself, streaming a recording."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import wave
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import treq
from treq.client import HTTPClient
from treq.testing import _SynchronousProducer
from twisted.web.client import Agent
from twisted.web.http_headers import Headers

from hotline.core import api_tokens, users
from hotline.core.db import Database
from hotline.net.tcp import bound_port
from hotline.recordings import index
from hotline.recordings.audit import entries
from hotline.service import Service
from hotline.web.declare import Route
from hotline.web.server import WebApi

from api_support import NOW, PASSWORD, Clock, Reply, check_against_document, make_app
from factories import seed_residents
from reactor_run import run_on_reactor

REPAIR = {"kind": "repair", "category": "leak", "unit": "3-1-201"}


def _headers(pairs: Any) -> dict[str, list[str]]:
    return {
        (k.decode() if isinstance(k, bytes) else k).lower(): [
            v.decode() if isinstance(v, bytes) else v for v in vs
        ]
        for k, vs in pairs
    }


def test_a_read_is_answered_while_a_flow_write_holds_the_flows_threads(
    db: Database, tmp_path: Path, cheap_password_hashes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads run in the API's threads, writes in the flows': a read is answered while the
    flows' one thread is held by a write that ends only when the test lets it (after the
    read's answer), so a read queued behind it would fail the test, not slow it."""
    seed_residents(db, tmp_path)
    app = make_app(db, tmp_path / "home", read_processes=0)  # the read threads
    with db.session() as s:
        users.add_user(s, "li", "agent", PASSWORD, NOW, "101")
        secret = api_tokens.add_token(s, "li-token", NOW, user="li")[1]
    threads: dict[str, str] = {}
    blocking = WebApi._blocking

    def watched(self: WebApi, route: Route, *args: Any) -> Any:
        threads[route.method] = threading.current_thread().name
        return blocking(self, route, *args)

    monkeypatch.setattr(WebApi, "_blocking", watched)
    write_held = threading.Event()
    released: list[bool] = []

    async def body(reactor: Any) -> list[tuple[int, Any]]:
        service = Service(app, reactor, clock=Clock(), db_threads=1)
        await service.start("127.0.0.1:0", web_listen="127.0.0.1:0")
        # Bodies written at once: treq's default producer cooperates on the global reactor.
        http = HTTPClient(Agent(reactor), data_to_body_producer=_SynchronousProducer)
        base = f"http://127.0.0.1:{bound_port(service.ports[-1])}/api/v1"
        bearer = Headers({"Authorization": [f"Bearer {secret}"]})

        async def call(method: str, path: str, data: Any) -> tuple[int, Any]:
            response = await http.request(method, base + path, headers=bearer, json=data)
            content = await treq.content(response)
            reply = Reply(response.code, _headers(response.headers.getAllRawHeaders()), content)
            check_against_document(method, path, reply)
            return reply.status, reply.json

        try:
            made = await call("POST", "/tickets", REPAIR)
            # A slow write in the flows' only thread; 20 s is a safety net, not a measure.
            slow_write = service.run_blocking(lambda: released.append(write_held.wait(20)))
            listed = await call("GET", "/tickets", None)
            write_held.set()
            await slow_write
            return [made, listed]
        finally:
            write_held.set()
            await service.stop()

    (made, listed) = run_on_reactor(body)
    assert made[0] == 201 and listed[0] == 200
    assert [t["id"] for t in listed[1]["items"]] == [made[1]["id"]]
    assert released == [True]  # the write ended because the read had been answered
    assert "hotline-db" in threads["POST"] and "hotline-web" in threads["GET"]


def test_no_listener_when_web_listen_is_empty(db: Database, tmp_path: Path) -> None:
    app = make_app(db, tmp_path / "home")

    async def body(reactor: Any) -> int:
        service = Service(app, reactor)
        await service.start("127.0.0.1:0", web_listen="")
        try:
            return len(service.ports)
        finally:
            await service.stop()

    assert run_on_reactor(body) == 1  # FastAGI only


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, token: str) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_hotline_serve_streams_a_restricted_recording_to_a_supervisor(
    db: Database, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    app = make_app(db, home)
    app.init()
    folder = app.settings.recordings_dir / "calls"
    folder.mkdir(parents=True, exist_ok=True)
    with wave.open(str(folder / "a.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x02\x00" * 4000)
    with db.session() as s:
        users.add_user(s, "wang", "supervisor", PASSWORD, NOW)
        secret = api_tokens.add_token(s, "wang-token", NOW, user="wang")[1]
        rec = index.register(s, folder / "a.wav", "call", restricted=True, at=NOW).id
    port = _free_port()
    env = {
        **os.environ,
        "HOTLINE_HOME": str(home),
        "HOTLINE_DB_URL": db.url,
        "HOTLINE_FASTAGI_LISTEN": "127.0.0.1:0",
        "HOTLINE_METRICS_LISTEN": "",
        "HOTLINE_WEB_LISTEN": f"127.0.0.1:{port}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "hotline.cli", "serve"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _, _ = _get(f"{base}/openapi.json", secret)
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "hotline serve did not listen"
                time.sleep(0.2)
        assert status == 200
        status, headers, body = _get(f"{base}/recordings/{rec}/audio?reason=dispute", secret)
        assert (status, headers["Content-Type"]) == (200, "audio/wav")
        assert body == (folder / "a.wav").read_bytes()
        status, _, body = _get(f"{base}/recordings/{rec}/audio", secret)
        assert (status, json.loads(body)["error"]["code"]) == (403, "restricted")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    with db.session() as s:
        assert [(e.action, e.by, e.reason) for e in entries(s)] == [("listen", "wang", "dispute")]
