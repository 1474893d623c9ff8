"""FastAGI server behaviour: failures, bad peers, observers, concurrency (via the simulator)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Protocol

from hotline.agi.channel import Channel
from hotline.agi.errors import ChannelHungUp
from hotline.agi.protocol import AGIEnvironment, AGIResponse
from hotline.agi.routes import RouteTable
from hotline.agi.server import AGIObserver, FastAGIFactory, listen_fastagi
from hotline.core import dialplan as contract
from hotline.net.tcp import bound_port, connected, stop_listening
from hotline.pbxsim.fastagi import HangUp, Keys, SimCaller, SimCallResult, simulate_call

from reactor_run import run_on_reactor

CONCURRENT = 1000
table = RouteTable()


@table.register("inbound")
async def menu(call: Channel, ctx: Any) -> None:
    await call.answer()
    choice = await call.get_data("menu", 3000, 1)
    await call.set_variable("CHOICE", choice)
    await call.set_variable("SITE", call.env.params.get("site", ""))


@table.register("outbound/broken")
async def broken(call: Channel, ctx: Any) -> None:
    await call.answer()
    raise ValueError("bug in a flow")


class Recorder(AGIObserver):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def call_started(self, env: AGIEnvironment) -> None:
        self.events.append(("started", env.route))

    def command_sent(self, env: AGIEnvironment, line: str) -> None:
        self.events.append(("sent", line))

    def response_received(self, env: AGIEnvironment, response: AGIResponse, seconds: float) -> None:
        assert seconds >= 0
        self.events.append(("response", response.code))

    def call_ended(self, env: AGIEnvironment, error: BaseException | None) -> None:
        self.events.append(("ended", type(error).__name__ if error else None))


async def _server(reactor: Any, observer: AGIObserver | None = None, **kwargs: Any) -> Any:
    factory = FastAGIFactory(table, lambda env: None, observer, reactor=reactor, **kwargs)
    return await listen_fastagi(reactor, ("127.0.0.1", 0), factory)


def _call(
    reactor: Any, port: IListeningPort, caller: SimCaller, route: str = "inbound", **kw: Any
) -> Deferred[SimCallResult]:
    return simulate_call(reactor, "127.0.0.1", bound_port(port), caller, route, **kw)


def test_flow_runs_and_observer_sees_it() -> None:
    observer = Recorder()

    async def body(reactor: Any) -> SimCallResult:
        port = await _server(reactor, observer)
        result = await _call(
            reactor, port, SimCaller("100", inputs=[Keys("2")]), params={"site": "a"}
        )
        await stop_listening(port)
        return result

    result = run_on_reactor(body)
    assert result.variables["CHOICE"] == "2" and result.variables["SITE"] == "a"
    assert result.agi_status == "SUCCESS"
    assert observer.events[0] == ("started", "inbound")
    assert ("sent", "GET DATA menu 3000 1") in observer.events
    assert observer.events[-1] == ("ended", None)
    # The server half-closed and the PBX answered with its end-of-script HANGUP.
    assert result.transcript[-1][:2] == (">>", "HANGUP")


def test_failing_flow_sets_hotline_status(caplog: pytest.LogCaptureFixture) -> None:
    async def body(reactor: Any) -> SimCallResult:
        port = await _server(reactor)
        result = await _call(reactor, port, SimCaller("100"), "outbound/broken")
        await stop_listening(port)
        return result

    with caplog.at_level(logging.ERROR, logger="hotline.agi.server"):
        result = run_on_reactor(body)
    assert result.variables.get(contract.STATUS) == contract.STATUS_FAILED
    assert "flow 'outbound/broken' failed" in caplog.text


def test_hangup_ends_flow_without_failure_status() -> None:
    observer = Recorder()

    async def body(reactor: Any) -> SimCallResult:
        port = await _server(reactor, observer)
        result = await _call(reactor, port, SimCaller("100", inputs=[HangUp()]))
        await stop_listening(port)
        return result

    result = run_on_reactor(body)
    assert result.agi_status == "HANGUP" and contract.STATUS not in result.variables
    assert "CHOICE" not in result.variables
    assert observer.events[-1] == ("ended", ChannelHungUp.__name__)


class BadPeer(Protocol):
    def __init__(self, payload: bytes, close_after: bool = False) -> None:
        self.payload = payload
        self.close_after = close_after
        self.closed: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        connected(self).write(self.payload)
        if self.close_after:
            connected(self).loseConnection()

    def connectionLost(self, reason: object = None) -> None:
        self.closed.callback(None)


ENV_START = b"agi_network: yes\nagi_network_script: inbound\n"
BAD_INPUTS = {
    "garbage": (b"GET / HTTP/1.1\nHost: x\n\n", False, "not an AGI environment line"),
    "long line": (b"agi_network: " + b"x" * 9000 + b"\n", False, "line longer than 8192"),
    "no script": (b"agi_network: yes\nagi_channel: X\n\n", False, "without agi_network_script"),
    "unknown route": (b"agi_network_script: nowhere\n\n", False, "unknown route 'nowhere'"),
    "silent": (b"", False, "no AGI environment within 0.3 s"),
    "closes mid-env": (ENV_START, True, "during the environment block"),
    "garbage reply": (ENV_START + b"\nbogus reply\n", False, "not an AGI response"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_peer_is_closed_while_good_call_completes(
    case: str, caplog: pytest.LogCaptureFixture
) -> None:
    payload, close_after, message = BAD_INPUTS[case]

    async def body(reactor: Any) -> SimCallResult:
        port = await _server(reactor, env_timeout=0.3)
        peer = BadPeer(payload, close_after)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", bound_port(port)), peer)
        good = _call(reactor, port, SimCaller("100", inputs=[Keys("7")]))
        await peer.closed
        result = await good
        await stop_listening(port)
        return result

    with caplog.at_level(logging.WARNING, logger="hotline.agi.server"):
        result = run_on_reactor(body, timeout=10)
    assert result.variables["CHOICE"] == "7"
    assert message in caplog.text


def test_thousand_concurrent_calls() -> None:
    async def body(reactor: Any) -> list[SimCallResult]:
        port = await _server(reactor)
        calls = [
            _call(reactor, port, SimCaller(str(n), inputs=[Keys(str(n % 10))]))
            for n in range(CONCURRENT)
        ]
        results = await gatherResults(calls)
        await stop_listening(port)
        return results

    results = run_on_reactor(body, timeout=60)
    assert [r.variables["CHOICE"] for r in results] == [str(n % 10) for n in range(CONCURRENT)]
