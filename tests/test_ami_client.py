"""AMI client against the simulator on loopback: each test body runs on a private reactor
(`reactor_run`); waits are for the event itself, and the client's timers run on a `Clock`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.protocol import connectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from hotline.core import dialplan as contract
from hotline.dialer.ami_client import (
    AMIActionError,
    AMIClient,
    AMIClientProtocol,
    AMIConfig,
    AMIConnectionLost,
    AMIListResult,
    AMILoginError,
)
from hotline.net.tcp import bound_port, stop_listening
from hotline.pbxsim.ami import AMISimulator
from hotline.pbxsim.ami_session import AMISession

from reactor_run import result_of, run_on_reactor

SECRET = "dialer-secret"
LOG = "hotline.dialer.ami_client"


class SilentPingSession(AMISession):
    """An Asterisk that has hung: it never answers Ping. `closed` fires once its side of the
    connection is gone."""

    def __init__(self, sim: AMISimulator) -> None:
        super().__init__(sim)
        self.closed: Deferred[None] = Deferred()

    def action_ping(self, request: Any) -> None:
        pass

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        super().connectionLost(reason)
        self.closed.callback(None)


def first(register: Callable[[Callable[[Any], object]], object]) -> Deferred[Any]:
    """Fires with the first value `register`'s callback is called with."""
    d: Deferred[Any] = Deferred()
    register(lambda value: None if d.called else d.callback(value))
    return d


@asynccontextmanager
async def simulator(
    reactor: Any, session: type[AMISession] = AMISession
) -> AsyncIterator[tuple[AMISimulator, int]]:
    """The simulator listening on loopback (its sessions of class `session`), and its port."""
    sim = AMISimulator(reactor, time_scale=0)
    factory = sim.factory()
    # Replaced on this one instance, to build the session class under test.
    factory.buildProtocol = lambda addr: session(sim)  # type: ignore[method-assign]
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    try:
        yield sim, bound_port(port)
    finally:
        await stop_listening(port)


@asynccontextmanager
async def client_of(
    reactor: Any,
    port: int,
    secret: str = SECRET,
    clock: Any = None,
    timers: AMIConfig | None = None,
) -> AsyncIterator[AMIClient]:
    """A client of the simulator on `port`, with the timers of `timers` (else the defaults)."""
    base = timers or AMIConfig()
    config = replace(base, host="127.0.0.1", port=port, username="dialer", secret=secret)
    client = AMIClient(config, reactor=reactor, clock=clock or reactor)
    try:
        yield client
    finally:
        await client.stop()


def test_login_actions_lists_and_events() -> None:
    async def body(reactor: Any) -> None:
        async with simulator(reactor) as (_, port), client_of(reactor, port) as client:
            connected: list[AMIClient] = []
            client.on_connected(connected.append)
            await client.start()
            assert connected == [client]
            pong = await client.ping()
            assert pong["Ping"] == "Pong"
            await client.setvar(None, "DIALER_GLOBAL", "x1")
            assert await client.getvar(None, "DIALER_GLOBAL") == "x1"
            version = await client.command("core show version")
            assert "Asterisk 22.10.1" in version.output
            channels = await client.core_show_channels()
            assert isinstance(channels, AMIListResult)
            assert channels.complete["ListItems"] == "0"

            names: list[str] = []
            response = first(lambda f: client.on("OriginateResponse", f))
            client.on_any(lambda m: names.append(m.name))
            queued = await client.originate(
                "Local/100@resident-sim",
                contract.FLOW_CONTEXT,
                "s",
                1,
                variables={contract.LEAD_ID: "lead-7"},
                timeout_ms=15000,
                caller_id='"Dialer" <5550100>',
                action_id="orig-1",
            )
            assert queued["Message"] == "Originate successfully queued"
            answered = await response
            assert (answered["Reason"], answered.action_id) == ("4", "orig-1")
            assert "Newchannel" in names

    run_on_reactor(body)


def test_error_response_fails_the_action() -> None:
    async def body(reactor: Any) -> None:
        async with simulator(reactor) as (_, port), client_of(reactor, port) as client:
            await client.start()
            with pytest.raises(AMIActionError, match="Invalid/unknown command"):
                await client.send_action("NoSuchAction")

    run_on_reactor(body)


def test_login_failure_is_clear_and_secret_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    wrong = "wrong-secret-123"

    async def body(reactor: Any) -> None:
        async with simulator(reactor) as (_, port), client_of(reactor, port, wrong) as client:
            with pytest.raises(AMILoginError) as err:
                await client.start()
            assert "'dialer' refused: Authentication failed" in str(err.value)
            assert not client.connected
            everything = caplog.text + repr(client) + repr(client.config) + str(err.value)
            assert wrong not in everything

    with caplog.at_level(logging.DEBUG, logger=LOG):
        run_on_reactor(body)


def test_secret_not_in_logs_on_success(caplog: pytest.LogCaptureFixture) -> None:
    async def body(reactor: Any) -> None:
        async with simulator(reactor) as (_, port), client_of(reactor, port) as client:
            await client.start()
            await client.ping()
            assert SECRET not in repr(client.config)

    with caplog.at_level(logging.DEBUG, logger=LOG):
        run_on_reactor(body)
    assert "logged in" in caplog.text
    assert SECRET not in caplog.text


def test_ping_timeout_drops_and_reconnects_with_backoff(caplog: pytest.LogCaptureFixture) -> None:
    async def body(reactor: Any) -> None:
        clock = Clock()
        timers = AMIConfig(ping_interval=5, ping_timeout=2, backoff_initial=3, backoff_max=30)
        async with (
            simulator(reactor, SilentPingSession) as (sim, port),
            client_of(reactor, port, clock=clock, timers=timers) as client,
        ):
            events: list[str] = []
            client.on_connected(lambda c: events.append("up"))
            client.on_disconnected(lambda c: events.append("down"))
            await client.start()
            (session,) = sim.sessions
            assert isinstance(session, SilentPingSession)
            down = first(client.on_disconnected)
            pending = client.send_action("Ping")  # never answered: must fail on the drop
            with caplog.at_level(logging.ERROR, logger=LOG):
                clock.advance(5)  # keep-alive Ping goes out
                clock.advance(2)  # ... and is not answered in time
                await down
            assert "did not answer Ping" in caplog.text
            with pytest.raises(AMIConnectionLost):
                await pending
            await session.closed
            assert sim.sessions == []
            # No reconnect before the backoff delay has passed on the client's clock: the
            # attempt is still a timer in the clock's future.
            clock.advance(2.9)
            assert events == ["up", "down"]
            retry = clock.getDelayedCalls()
            assert retry and all(call.getTime() > clock.seconds() for call in retry)
            up = first(client.on_connected)
            clock.advance(30)  # past any backoff delay (with backoffPolicy's jitter)
            await up
            assert events == ["up", "down", "up"]
            assert client.connected

    run_on_reactor(body)


def test_not_connected_fails_at_once() -> None:
    async def body(reactor: Any) -> None:
        async with simulator(reactor) as (_, port), client_of(reactor, port) as client:
            with pytest.raises(AMIConnectionLost):
                await client.ping()

    run_on_reactor(body)


# ---------------------------------------------------------------- the protocol alone: no server,
# the client protocol over a StringTransport


def logged_in() -> tuple[AMIClientProtocol, StringTransport]:
    client = AMIClient(AMIConfig(username="dialer", secret=SECRET, ping_interval=0))
    proto = AMIClientProtocol(client)
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.dataReceived(b"Asterisk Call Manager/11.0.0\r\n")
    proto.dataReceived(b"Response: Success\r\nActionID: hotline-1\r\n\r\n")
    transport.clear()
    return proto, transport


def test_permission_denied() -> None:
    proto, _ = logged_in()
    d = proto.send_action("Originate", [("Channel", "Local/1@x")], action_id="o-1")
    proto.dataReceived(b"Response: Error\r\nActionID: o-1\r\nMessage: Permission denied\r\n\r\n")
    with pytest.raises(AMIActionError) as err:
        result_of(d)
    assert str(err.value) == "AMI Originate failed: Permission denied"


def test_event_list_collected_and_other_events_dispatched() -> None:
    proto, _ = logged_in()
    seen: list[str] = []
    proto.client.on_any(lambda m: seen.append(m.name))
    d = proto.send_action("QueueStatus", action_id="q-1")
    proto.dataReceived(
        b"Response: Success\r\nActionID: q-1\r\nEventList: start\r\n\r\n"
        b"Event: QueueParams\r\nQueue: support\r\nActionID: q-1\r\n\r\n"
        b"Event: Hangup\r\nChannel: Local/1@x-00000001;1\r\n\r\n"
        b"Event: QueueMember\r\nName: A\r\nActionID: q-1\r\n\r\n"
        b"Event: QueueStatusComplete\r\nActionID: q-1\r\nEventList: Complete\r\n"
        b"ListItems: 2\r\n\r\n"
    )
    result = result_of(d)
    assert [e.name for e in result.events] == ["QueueParams", "QueueMember"]
    assert result.complete["ListItems"] == "2"
    assert seen == ["Hangup"]


def test_pending_actions_fail_on_connection_loss() -> None:
    proto, transport = logged_in()
    d = proto.send_action("CoreShowChannels", action_id="c-1")
    transport.loseConnection()
    proto.connectionLost()
    with pytest.raises(AMIConnectionLost, match="CoreShowChannels"):
        result_of(d)


def test_garbled_input_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    proto, _ = logged_in()
    d = proto.send_action("Ping", action_id="p-1")
    with caplog.at_level(logging.ERROR, logger=LOG):
        proto.dataReceived(b"garbage line\r\n\r\nResponse: Success\r\nActionID: p-1\r\n\r\n")
    assert "garbled" in caplog.records[0].getMessage()
    assert result_of(d).name == "Success"
