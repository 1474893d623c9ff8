"""Twisted FastAGI server: Asterisk connects, sends its environment, our flow sends commands.

Framing is ``AGIStreamParser``'s job; this module only moves lines between the socket and one
call flow, one command at a time, and enforces the limits that keep bad peers cheap.
"""

from __future__ import annotations

import logging
import math
import socket
import time
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import TCP4ServerEndpoint, serverFromString
from twisted.internet.interfaces import (
    IDelayedCall,
    IHalfCloseableProtocol,
    IListeningPort,
    IReactorTCP,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.internet.protocol import ServerFactory, connectionDone
from twisted.internet.tcp import Server as TCPServerConnection
from twisted.protocols.basic import LineOnlyReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from hotline.agi.channel import Channel
from hotline.agi.errors import AGIError, AGIProtocolError, ChannelHungUp, UsageBlockTooLong
from hotline.agi.protocol import AGIEnvironment, AGIResponse, AGIStreamParser, HangupNotice
from hotline.agi.routes import RouteTable, UnknownRoute
from hotline.core import dialplan
from hotline.net.tcp import address_text, connected

log = logging.getLogger(__name__)

BACKLOG = 1024  # Asterisk may open hundreds of AGI connections in one burst
# Labels of AGIObserver.connection_dropped: why we closed a connection.
ENVIRONMENT_TIMEOUT, COMMAND_TIMEOUT = "environment_timeout", "command_timeout"
USAGE_BLOCK, PROTOCOL_ERROR = "usage_block", "protocol_error"
DROP_REASONS = (ENVIRONMENT_TIMEOUT, COMMAND_TIMEOUT, USAGE_BLOCK, PROTOCOL_ERROR)


class AGIObserver:
    """Hooks for metrics and live views; subclass and override what you need."""

    def call_started(self, env: AGIEnvironment) -> None:
        pass

    def command_sent(self, env: AGIEnvironment, line: str) -> None:
        pass

    def response_received(self, env: AGIEnvironment, response: AGIResponse, seconds: float) -> None:
        pass

    def call_ended(self, env: AGIEnvironment, error: BaseException | None) -> None:
        """``error`` is None when the flow returned, ``ChannelHungUp`` on a hang-up."""

    def connections_open(self, n: int) -> None:
        """FastAGI connections open now (each is a call, or a peer still sending its env)."""

    def connection_refused(self) -> None:
        """A connection closed unserved: ``max_connections`` were open already."""

    def connection_dropped(self, reason: str) -> None:
        """We closed a connection: ``environment_timeout``, ``command_timeout`` (the peer never
        answered a command), ``usage_block`` (an endless 520 block) or ``protocol_error``."""


class FastAGIFactory(ServerFactory):
    def __init__(
        self,
        routes: RouteTable,
        make_context: Callable[[AGIEnvironment], Any],
        observer: AGIObserver | None = None,
        *,
        reactor: IReactorTime | None = None,
        env_timeout: float = 10.0,
        hangup_grace: float = 0.2,
        close_timeout: float = 10.0,
        command_timeout: float = 120.0,
        max_connections: int = 1500,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.routes = routes
        self.make_context = make_context
        self.observer = observer or AGIObserver()
        self.reactor: IReactorTime = reactor
        self.env_timeout = env_timeout  # connected but no complete environment yet
        self.hangup_grace = hangup_grace  # how long a result=-1 waits for Asterisk's HANGUP line
        self.close_timeout = close_timeout  # after our half-close, for Asterisk to close
        # For a response, on top of what the command itself may wait for (Channel's wait_s):
        # long enough for the longest prompt a STREAM FILE plays.
        self.command_timeout = command_timeout
        self.max_connections = max_connections
        self.open_connections = 0
        self._at_cap = False  # logged once per episode, not once per refused peer

    def buildProtocol(self, addr: Any) -> FastAGIProtocol | None:
        if self.open_connections >= self.max_connections:
            if not self._at_cap:
                self._at_cap = True
                log.warning(
                    "FastAGI: %d connections open (fastagi.max_connections); refusing new ones",
                    self.open_connections,
                )
            self.observer.connection_refused()
            return None  # the port closes the socket at once
        return FastAGIProtocol(self)

    def _opened(self) -> None:
        self.open_connections += 1
        self.observer.connections_open(self.open_connections)

    def _closed(self) -> None:
        self.open_connections -= 1
        self.observer.connections_open(self.open_connections)
        if self._at_cap and self.open_connections < self.max_connections:
            self._at_cap = False
            log.warning("FastAGI: below fastagi.max_connections again; accepting connections")


class _FastAGIChannel(Channel):
    def __init__(self, env: AGIEnvironment, connection: FastAGIProtocol) -> None:
        super().__init__(env)
        self._connection = connection

    async def _command(self, line: str, wait_s: float) -> AGIResponse:
        return await self._connection.send_command(line, wait_s)

    async def _hangup_follows(self) -> bool:
        return await self._connection.hangup_notice()


@implementer(IHalfCloseableProtocol)
class FastAGIProtocol(LineOnlyReceiver):
    delimiter = b"\n"
    MAX_LENGTH = 8192

    def __init__(self, factory: FastAGIFactory) -> None:
        self.factory = factory
        self.env: AGIEnvironment | None = None
        self._parser = AGIStreamParser()
        self._pending: Deferred[AGIResponse] | None = None
        self._sent_at = 0.0
        self._hangup_seen = False
        self._hangup_waiter: Deferred[bool] | None = None
        self._closed = False
        self._aborted = False  # we closed it, and said why
        self._counted = False  # in the factory's open connections
        self._timer: IDelayedCall | None = None
        # One timer a connection, moved on by each command rather than made and cancelled for
        # each: it may fire between commands, and then only lapses (nothing is awaited).
        self._command_timer: IDelayedCall | None = None
        self._command_line = ""
        self._command_seconds = 0.0
        self._socket: socket.socket | None = None  # written at once while set (see _write)

    # --- connection events ---

    def connectionMade(self) -> None:
        # One small command per round trip: Nagle would hold it back waiting for an ACK.
        if hasattr(self.transport, "setTcpNoDelay"):
            connected(self).setTcpNoDelay(True)
        # Plain TCP (or UNIX) only: under TLS the socket carries records, not our lines.
        if isinstance(self.transport, TCPServerConnection):
            self._socket = self.transport.getHandle()
        self._counted = True
        self.factory._opened()
        self._timer = self.factory.reactor.callLater(self.factory.env_timeout, self._env_timeout)

    def lineReceived(self, line: bytes) -> None:
        try:
            event = self._parser.feed(line.decode("utf-8", "replace").removesuffix("\r"))
        except AGIProtocolError as e:
            self._abort(str(e), USAGE_BLOCK if isinstance(e, UsageBlockTooLong) else PROTOCOL_ERROR)
            return
        if event is None:
            return
        if isinstance(event, AGIEnvironment):
            self._start(event)
        elif isinstance(event, HangupNotice):  # HANGUP, the one instance
            self._on_hangup_notice()
        else:
            self._on_response(event)

    def lineLengthExceeded(self, line: bytes) -> None:
        self._abort(f"line longer than {self.MAX_LENGTH} bytes")

    def readConnectionLost(self) -> None:
        # Asterisk closed its side: after our half-close that is the normal end, otherwise the
        # call is gone (AGIEXITONHANGUP, Asterisk restart).
        self._gone("Asterisk closed the connection")
        connected(self).loseConnection()

    def writeConnectionLost(self) -> None:
        pass  # our half-close went out; Asterisk answers with HANGUP and closes

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._socket = None
        self._gone("connection lost")
        self._cancel_timer()
        self._cancel_command_timer()
        if self._counted:
            self._counted = False
            self.factory._closed()

    def _gone(self, why: str) -> None:
        if self._closed:
            return
        self._closed = True
        if self._parser.in_environment:
            log.warning("FastAGI %s: %s during the environment block", self._peer(), why)
        self._on_hangup_notice()
        self._fail_pending(ChannelHungUp(why))

    def _abort(self, why: str, reason: str = PROTOCOL_ERROR) -> None:
        log.warning("FastAGI %s: %s; closing the connection", self._peer(), why)
        self._closed = self._aborted = True
        self.factory.observer.connection_dropped(reason)
        self._cancel_command_timer()
        self._fail_pending(AGIProtocolError(why))
        connected(self).loseConnection()

    def _env_timeout(self) -> None:
        self._timer = None
        self._abort(
            f"no AGI environment within {self.factory.env_timeout:g} s", ENVIRONMENT_TIMEOUT
        )

    def _command_timeout(self) -> None:
        self._command_timer = None
        if self._pending is None:
            return  # set for a command answered since: none is awaited now
        line, seconds = self._command_line, self._command_seconds
        self._abort(f"no response to {line[:40]!r} within {seconds:g} s", COMMAND_TIMEOUT)

    def _cancel_command_timer(self) -> None:
        if self._command_timer is not None and self._command_timer.active():
            self._command_timer.cancel()
        self._command_timer = None

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _peer(self) -> str:
        peer = connected(self).getPeer() if self.transport else None
        where = address_text(peer)
        return f"{where} {self.env.channel}" if self.env else where

    # --- the call ---

    def _start(self, env: AGIEnvironment) -> None:
        self._cancel_timer()
        if "agi_network_script" not in env.raw:
            self._abort("environment without agi_network_script")
            return
        self.env = env
        try:
            flow = self.factory.routes.resolve(env)
        except UnknownRoute:
            self._abort(f"unknown route {env.route!r}")
            return
        Deferred.fromCoroutine(self._run_call(flow, env))

    async def _run_call(self, flow: Any, env: AGIEnvironment) -> None:
        observer = self.factory.observer
        channel = _FastAGIChannel(env, self)
        error: BaseException | None = None
        observer.call_started(env)
        try:
            await flow(channel, self.factory.make_context(env))
        except ChannelHungUp as e:
            error = e
        except Exception as e:
            error = e
            if not (isinstance(e, AGIProtocolError) and self._aborted):
                log.exception("FastAGI %s: flow %r failed", self._peer(), env.route)
                await self._mark_failed(channel)
            # else the peer broke the protocol: _abort logged it and closed the connection
        finally:
            observer.call_ended(env, error)
            self._finish()

    async def _mark_failed(self, channel: Channel) -> None:
        """Tell the dialplan, so its fallback takes the call, if the channel can still hear it.
        The dialplan trusts only STATUS_DONE: a service that dies mid-call leaves no marker, and
        Asterisk then reports AGISTATUS=SUCCESS exactly as for a flow that ended normally."""
        if self._closed or self._hangup_seen:
            return
        try:
            await channel.set_variable(dialplan.STATUS, dialplan.STATUS_FAILED)
        except AGIError as e:
            log.warning("FastAGI %s: could not set %s: %s", self._peer(), dialplan.STATUS, e)

    def _finish(self) -> None:
        if self._closed:
            connected(self).loseConnection()
            return
        # Half-close like a script that exits: Asterisk sends HANGUP, then closes its side.
        connected(self).loseWriteConnection()
        self._timer = self.factory.reactor.callLater(
            self.factory.close_timeout, connected(self).loseConnection
        )

    # --- commands and responses ---

    def send_command(self, line: str, wait_s: float = 0.0) -> Deferred[AGIResponse]:
        """Send one command; a peer that does not answer within ``command_timeout`` plus
        ``wait_s`` (what the command may wait for the caller) is dropped."""
        if self._closed:
            raise ChannelHungUp("connection closed")
        if self._pending is not None:
            raise RuntimeError("an AGI command is already in progress on this channel")
        assert self.env is not None
        self._write(line.encode() + b"\n")
        self.factory.observer.command_sent(self.env, line)
        self._sent_at = time.monotonic()
        self._pending = Deferred()
        seconds = self.factory.command_timeout + wait_s
        self._command_line, self._command_seconds = line, seconds
        timer = self._command_timer
        if math.isinf(seconds):
            self._cancel_command_timer()
        elif timer is not None and timer.active():
            timer.reset(seconds)
        else:
            self._command_timer = self.factory.reactor.callLater(seconds, self._command_timeout)
        return self._pending

    def _write(self, data: bytes) -> None:
        """Send at once, in this reactor turn. The transport would buffer the line, have epoll
        watch the socket, send it on the next turn and stop watching: two epoll_ctl calls and a
        reactor event a command (docs/benchmarks.md, Inbound). One short command is out at a
        time, so the send buffer takes it whole; what it does not (a peer that stopped reading,
        an error) goes to the transport, which then carries every later line, in order, and
        reports the error as ever."""
        sock = self._socket
        if sock is not None:
            try:
                sent = sock.send(data)
            except OSError:
                sent = 0
            if sent == len(data):
                return
            data, self._socket = data[sent:], None
        connected(self).write(data)

    def _on_response(self, response: AGIResponse) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            self._abort(f"response {response.describe()!r} without a command")
            return
        assert self.env is not None
        self.factory.observer.response_received(
            self.env, response, time.monotonic() - self._sent_at
        )
        pending.callback(response)

    def _fail_pending(self, error: Exception) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.errback(Failure(error))

    def _on_hangup_notice(self) -> None:
        self._hangup_seen = True
        waiter, self._hangup_waiter = self._hangup_waiter, None
        if waiter is not None:
            waiter.callback(True)

    def hangup_notice(self) -> Deferred[bool]:
        """True once Asterisk's HANGUP line arrives (or came already), False after the grace."""
        if self._hangup_seen:
            return succeed(True)
        waiter: Deferred[bool] = Deferred()
        self._hangup_waiter = waiter
        return waiter.addTimeout(
            self.factory.hangup_grace, self.factory.reactor, onTimeoutCancel=self._no_hangup
        )

    def _no_hangup(self, result: object, timeout: float) -> bool:
        self._hangup_waiter = None
        return False


def listen_fastagi(
    reactor: IReactorTCP, endpoint: str | tuple[str, int], factory: FastAGIFactory
) -> Deferred[IListeningPort]:
    """Listen on ``(host, port)``, ``"host:port"`` or a Twisted endpoint string (``tcp:...``)."""
    if isinstance(endpoint, tuple):
        host, port = endpoint
        server: IStreamServerEndpoint = TCP4ServerEndpoint(reactor, port, BACKLOG, host)
    elif endpoint.split(":", 1)[0] in ("tcp", "tcp6", "unix", "ssl", "systemd"):
        server = serverFromString(reactor, endpoint)
    else:
        host, _, number = endpoint.rpartition(":")
        server = TCP4ServerEndpoint(reactor, int(number), BACKLOG, host or "127.0.0.1")
    listening: Deferred[IListeningPort] = server.listen(factory)
    return listening
