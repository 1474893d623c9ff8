"""Hostile FastAGI peers against a real socket on 127.0.0.1: garbage, slowloris, silence after
the environment, an endless 520 block, 2,000 silent peers against the connection cap, and a
resident's name that would smuggle a second command onto the wire.

The server's timers run on a ``task.Clock`` (the factory's ``reactor``), the sockets on a real
reactor: timeouts are stepped, never waited for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock

from hotline.agi.channel import Channel
from hotline.agi.errors import AGIArgumentError
from hotline.agi.protocol import MAX_USAGE_LINES, AGIEnvironment
from hotline.agi.routes import RouteTable
from hotline.agi.server import AGIObserver, FastAGIFactory, FastAGIProtocol, listen_fastagi
from hotline.app import App
from hotline.core import dialplan as contract
from hotline.net.tcp import bound_port, connected, stop_listening
from hotline.pbxsim.fastagi import Keys, SimCaller, SimCallResult, simulate_call
from hotline.service import Service
from hotline.settings import load

from reactor_run import run_on_reactor

COMMAND_TIMEOUT = 120.0
ENV_TIMEOUT = 10.0
DIGIT_TIMEOUT_MS, DIGITS = 5000, 4
table = RouteTable()


@table.register("inbound")
async def menu(call: Channel, ctx: Any) -> None:
    await call.answer()
    choice = await call.get_data("menu", DIGIT_TIMEOUT_MS, DIGITS)
    await call.set_variable("CHOICE", choice)


@table.register("named")
async def named(call: Channel, ctx: Any) -> None:
    await call.answer()
    # A resident's name from a CSV import, as the inbound flow hands it to the agent's screen.
    await call.set_variable(contract.CALLERNAME, "Li Lei\nEXEC System touch /tmp/owned")
    await call.set_variable("AFTER", "never sent")


# The flow's own pause (database work, say) between two answered commands: (the flow says it
# is there, the test ends it).
PAUSES: list[tuple[Deferred[None], Deferred[None]]] = []


@table.register("paused")
async def paused(call: Channel, ctx: Any) -> None:
    await call.answer()
    reached, pause = PAUSES[0]
    reached.callback(None)
    await pause
    await call.set_variable("CHOICE", "after the pause")


# Enough long lines to fill the socket's buffers while the peer is not reading (4 MB).
LONG_LINES, LONG_TEXT = 600, "x" * 7000


@table.register("long")
async def long_lines(call: Channel, ctx: Any) -> None:
    for n in range(LONG_LINES):
        await call.verbose(f"{n} {LONG_TEXT}")


class Watch(AGIObserver):
    """Counts what the server reports; ``until`` fires once a condition holds, on the next
    reactor turn (so the server has finished what it was doing when it reported)."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self.started = 0
        self.sent = 0
        self.open = 0
        self.refused = 0
        self.dropped: list[str] = []
        self.errors: list[BaseException | None] = []
        self._waiters: list[tuple[Callable[[], bool], Deferred[None]]] = []

    def until(self, condition: Callable[[], bool]) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        self._waiters.append((condition, d))
        self._check()
        return d

    def _check(self) -> None:
        for waiter in [w for w in self._waiters if w[0]()]:
            self._waiters.remove(waiter)
            self.reactor.callLater(0, waiter[1].callback, None)

    def call_started(self, env: AGIEnvironment) -> None:
        self.started += 1
        self._check()

    def command_sent(self, env: AGIEnvironment, line: str) -> None:
        self.sent += 1
        self._check()

    def call_ended(self, env: AGIEnvironment, error: BaseException | None) -> None:
        self.errors.append(error)
        self._check()

    def connections_open(self, n: int) -> None:
        self.open = n
        self._check()

    def connection_refused(self) -> None:
        self.refused += 1
        self._check()

    def connection_dropped(self, reason: str) -> None:
        self.dropped.append(reason)
        self._check()


class Peer(Protocol):
    """Asterisk's side, scripted: sends ``payload``, then answers each command with ``reply``."""

    def __init__(self, payload: bytes, reply: Callable[[str], bytes] | None = None) -> None:
        self.payload, self.reply = payload, reply
        self.commands: list[str] = []
        self._buffer = b""
        self.closed: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        connected(self).write(self.payload)

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            self.commands.append(line.decode())
            if self.reply is not None:
                connected(self).write(self.reply(line.decode()))

    def connectionLost(self, reason: object = None) -> None:
        self.closed.callback(None)


ENV = b"agi_network: yes\nagi_network_script: inbound\nagi_uniqueid: 1795327992.1\n\n"


def _answer_then_silence(line: str) -> bytes:
    return b"200 result=0\n" if line == "ANSWER" else b""


class Harness:
    def __init__(
        self, reactor: Any, factory: type[FastAGIFactory] = FastAGIFactory, **limits: Any
    ) -> None:
        self.reactor, self.clock, self.watch = reactor, Clock(), Watch(reactor)
        self.factory = factory(
            table,
            lambda env: None,
            self.watch,
            reactor=self.clock,
            env_timeout=ENV_TIMEOUT,
            command_timeout=COMMAND_TIMEOUT,
            **limits,
        )
        self.port: Any = None

    async def start(self) -> Harness:
        self.port = await listen_fastagi(self.reactor, ("127.0.0.1", 0), self.factory)
        return self

    def connect(self, peer: Peer) -> Deferred[Peer]:
        endpoint = TCP4ClientEndpoint(self.reactor, "127.0.0.1", bound_port(self.port))
        connecting: Deferred[Peer] = connectProtocol(endpoint, peer)
        return connecting

    def good_call(self, route: str = "inbound") -> Deferred[SimCallResult]:
        caller = SimCaller("100", inputs=[Keys("42#")])
        return simulate_call(self.reactor, "127.0.0.1", bound_port(self.port), caller, route)


def _warnings(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_garbage_is_dropped_counted_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    async def body(reactor: Any) -> tuple[Harness, SimCallResult]:
        h = await Harness(reactor).start()
        peer = await h.connect(Peer(b"GET / HTTP/1.1\nHost: x\n\n" * 50))
        call = h.good_call()
        await peer.closed
        result = await call
        await stop_listening(h.port)
        return h, result

    with caplog.at_level(logging.WARNING, logger="hotline.agi.server"):
        h, result = run_on_reactor(body, timeout=20)
    assert result.variables["CHOICE"] == "42"
    assert h.watch.dropped == ["protocol_error"]
    assert _warnings(caplog, "not an AGI environment line") == 1


def test_slowloris_environment_is_dropped_at_the_environment_timeout() -> None:
    async def body(reactor: Any) -> Harness:
        h = await Harness(reactor).start()
        peer = await h.connect(Peer(b"agi_network: yes\nagi_network_scr"))
        await h.watch.until(lambda: h.watch.open == 1)
        h.clock.advance(ENV_TIMEOUT - 0.5)
        assert h.watch.dropped == [] and h.watch.open == 1
        connected(peer).write(b"ipt: inb")  # a byte now and then does not reset the clock
        h.clock.advance(1)
        await peer.closed
        await stop_listening(h.port)
        return h

    h = run_on_reactor(body, timeout=20)
    assert h.watch.dropped == ["environment_timeout"] and h.watch.open == 0


def test_peer_silent_after_the_environment_is_dropped_after_the_command_timeout() -> None:
    async def body(reactor: Any) -> tuple[Harness, Peer]:
        h = await Harness(reactor).start()
        peer = await h.connect(Peer(ENV))
        await h.watch.until(lambda: h.watch.started == 1)
        h.clock.advance(COMMAND_TIMEOUT - 1)
        assert h.watch.dropped == [] and h.watch.open == 1
        h.clock.advance(2)
        await peer.closed
        await h.watch.until(lambda: h.watch.open == 0)
        await stop_listening(h.port)
        return h, peer

    h, peer = run_on_reactor(body, timeout=20)
    assert peer.commands == ["ANSWER"]
    assert h.watch.dropped == ["command_timeout"]
    assert len(h.watch.errors) == 1 and h.watch.errors[0] is not None


def test_a_flow_busy_between_commands_is_not_taken_for_a_silent_peer() -> None:
    """The command timer is moved on by each command, not cancelled by each answer: when it
    comes due while the flow works between commands, nothing is awaited and it lapses."""

    async def body(reactor: Any) -> tuple[Harness, SimCallResult]:
        h = await Harness(reactor).start()
        reached, pause = Deferred[None](), Deferred[None]()
        PAUSES[:] = [(reached, pause)]
        call = h.good_call("paused")
        await reached
        h.clock.advance(COMMAND_TIMEOUT * 2)  # the answered ANSWER's timer comes due
        assert h.watch.dropped == []
        pause.callback(None)
        result = await call
        await stop_listening(h.port)
        return h, result

    h, result = run_on_reactor(body, timeout=20)
    assert result.variables["CHOICE"] == "after the pause"
    assert h.watch.dropped == [] and h.watch.errors == [None]


def test_half_a_response_line_does_not_hold_the_connection() -> None:
    async def body(reactor: Any) -> Harness:
        h = await Harness(reactor).start()
        peer = await h.connect(Peer(ENV, lambda line: b"200 res"))
        await h.watch.until(lambda: h.watch.started == 1)
        h.clock.advance(COMMAND_TIMEOUT + 1)
        await peer.closed
        await stop_listening(h.port)
        return h

    assert run_on_reactor(body, timeout=20).watch.dropped == ["command_timeout"]


def test_get_data_may_wait_its_own_timeouts_before_the_peer_is_dropped() -> None:
    async def body(reactor: Any) -> tuple[Harness, Peer]:
        h = await Harness(reactor).start()
        peer = await h.connect(Peer(ENV, _answer_then_silence))
        await h.watch.until(lambda: h.watch.sent == 2)
        # GET DATA waits up to its timeout for each digit, after the prompt has played.
        legitimate = COMMAND_TIMEOUT + DIGIT_TIMEOUT_MS / 1000 * DIGITS
        h.clock.advance(legitimate - 1)
        assert h.watch.dropped == []
        h.clock.advance(2)
        await peer.closed
        await stop_listening(h.port)
        return h, peer

    h, peer = run_on_reactor(body, timeout=20)
    assert peer.commands == ["ANSWER", f"GET DATA menu {DIGIT_TIMEOUT_MS} {DIGITS}"]
    assert h.watch.dropped == ["command_timeout"]


def test_endless_usage_block_is_cut_off_with_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lines = 50 * MAX_USAGE_LINES
    usage = b"520-Invalid command syntax.  Proper usage follows:\n" + b"x" * 70 + b"\n"

    def endless(line: str) -> bytes:
        return usage * lines if line == "ANSWER" else b""

    async def body(reactor: Any) -> tuple[Harness, SimCallResult]:
        h = await Harness(reactor).start()
        peer = await h.connect(Peer(ENV, endless))
        call = h.good_call()
        await peer.closed
        result = await call
        await stop_listening(h.port)
        return h, result

    with caplog.at_level(logging.WARNING, logger="hotline.agi.server"):
        h, result = run_on_reactor(body, timeout=30)
    assert h.watch.dropped == ["usage_block"]
    assert _warnings(caplog, "520 usage block longer than") == 1
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)
    assert result.variables["CHOICE"] == "42"  # the other call was served meanwhile


def test_two_thousand_silent_peers_meet_the_connection_cap(
    caplog: pytest.LogCaptureFixture,
) -> None:
    peers_n, cap = 2000, 1500

    async def body(reactor: Any) -> tuple[Harness, SimCallResult]:
        h = await Harness(reactor, max_connections=cap).start()
        peers = [Peer(ENV) for _ in range(peers_n)]
        await gatherResults([h.connect(p) for p in peers])
        await h.watch.until(lambda: h.watch.started == cap and h.watch.refused == peers_n - cap)
        assert h.factory.open_connections == cap
        # Every silent peer is dropped once the command timeout passes; the memory goes with them.
        h.clock.advance(COMMAND_TIMEOUT + 1)
        await gatherResults([p.closed for p in peers])
        await h.watch.until(lambda: h.watch.open == 0)
        result = await h.good_call()
        await stop_listening(h.port)
        return h, result

    with caplog.at_level(logging.WARNING, logger="hotline.agi.server"):
        h, result = run_on_reactor(body, timeout=120)
    assert result.variables["CHOICE"] == "42"
    assert h.watch.refused == peers_n - cap
    assert h.watch.dropped == ["command_timeout"] * cap
    assert _warnings(caplog, "refusing new ones") == 1
    assert _warnings(caplog, "accepting connections") == 1


def test_a_newline_in_an_argument_never_reaches_the_wire(caplog: pytest.LogCaptureFixture) -> None:
    async def body(reactor: Any) -> SimCallResult:
        h = await Harness(reactor).start()
        result = await h.good_call("named")
        await stop_listening(h.port)
        return result

    with caplog.at_level(logging.ERROR, logger="hotline.agi.server"):
        result = run_on_reactor(body, timeout=20)
    sent = [line for direction, line, _ in result.transcript if direction == "<<"]
    assert not any(line.startswith(("EXEC", "touch")) for line in sent)
    assert contract.CALLERNAME not in result.variables and "AFTER" not in result.variables
    # The call fails to the dialplan's fallback.
    assert result.variables[contract.STATUS] == contract.STATUS_FAILED
    assert AGIArgumentError.__name__ in caplog.text


def test_an_odd_response_fails_the_flow_to_the_fallback(caplog: pytest.LogCaptureFixture) -> None:
    replies = {"ANSWER": b"200 result=0\n", "GET DATA": b"599 odd\n", "SET": b"200 result=1\n"}

    def odd(line: str) -> bytes:
        return next(reply for start, reply in replies.items() if line.startswith(start))

    async def body(reactor: Any) -> Peer:
        h = await Harness(reactor).start()
        peer = await h.connect(Peer(ENV, odd))
        await h.watch.until(lambda: len(h.watch.errors) == 1)
        connected(peer).loseConnection()
        await peer.closed
        await stop_listening(h.port)
        return peer

    with caplog.at_level(logging.WARNING, logger="hotline.agi.server"):
        peer = run_on_reactor(body, timeout=20)
    # Not a broken connection: the peer still hears that the flow failed.
    assert peer.commands[-1] == f"SET VARIABLE {contract.STATUS} {contract.STATUS_FAILED}"
    assert "flow 'inbound' failed" in caplog.text


def test_lines_the_socket_cannot_take_at_once_arrive_whole_and_in_order() -> None:
    """The server writes each command straight to the socket; when the socket takes only part
    of one (a peer that stopped reading), the rest and every later line go through the
    transport's buffer, in order."""

    class Capture(FastAGIFactory):
        last: FastAGIProtocol | None = None

        def buildProtocol(self, addr: Any) -> FastAGIProtocol | None:
            self.last = super().buildProtocol(addr)
            return self.last

    async def body(reactor: Any) -> tuple[Peer, FastAGIFactory]:
        h = await Harness(reactor, Capture).start()
        env = ENV.replace(b"script: inbound", b"script: long")
        # Every answer sent ahead, then no reading until the flow has sent its last command.
        peer = await h.connect(Peer(env + b"200 result=1\n" * LONG_LINES))
        reading = IPushProducer(connected(peer))
        reading.pauseProducing()
        await h.watch.until(lambda: h.watch.sent == LONG_LINES)
        reading.resumeProducing()
        await h.watch.until(lambda: len(peer.commands) == LONG_LINES)
        connected(peer).loseConnection()
        await peer.closed
        await stop_listening(h.port)
        return peer, h.factory

    peer, factory = run_on_reactor(body, timeout=30)
    assert peer.commands == [f'VERBOSE "{n} {LONG_TEXT}" 1' for n in range(LONG_LINES)]
    assert isinstance(factory, Capture) and factory.last is not None
    assert factory.last._socket is None  # the socket took part of a line: the transport took over


def test_the_limits_are_settings(tmp_path: Path) -> None:
    env = {"HOTLINE_FASTAGI_COMMAND_TIMEOUT": "30", "HOTLINE_FASTAGI_MAX_CONNECTIONS": "7"}
    app = App(load(tmp_path, env=env))
    factory = Service(app, Clock()).fastagi
    assert (factory.command_timeout, factory.max_connections) == (30.0, 7)
    assert factory.env_timeout == app.settings.fastagi.environment_timeout
