"""Twisted AMI client: login, ActionID correlation, event lists, events, keep-alive, reconnect.

Framing lives in :mod:`hotline.dialer.ami_protocol`; this module only adds the
conversation.  One :class:`AMIClient` owns a ``ClientService`` (reconnects with
exponential backoff) and, while connected, one :class:`AMIClientProtocol`.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet import defer, task
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import IReactorTCP, IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python.failure import Failure

from hotline.dialer.ami_fields import FieldErrors
from hotline.dialer.ami_protocol import (
    AMIMessage,
    AMIParser,
    AMIProtocolError,
    Header,
    format_action,
)
from hotline.net.tcp import connected

log = logging.getLogger(__name__)

EventCallback = Callable[[AMIMessage], object]
ConnectionCallback = Callable[["AMIClient"], object]


@dataclass(frozen=True)
class AMIConfig:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = ""
    # Kept out of repr so the secret cannot reach a log line through the config.
    secret: str = field(default="", repr=False)
    ping_interval: float = 20.0
    ping_timeout: float = 5.0
    backoff_initial: float = 1.0
    backoff_factor: float = 2.0
    backoff_max: float = 60.0
    # Event classes to ask for after login (Action: Events), None = leave Asterisk's default.
    event_mask: str | None = None
    action_id_prefix: str = "hotline"


class AMIError(Exception):
    """Base of every AMI client error."""


class AMIConnectionLost(AMIError):
    """The AMI connection dropped (or was never up) before the action was answered."""


class AMILoginError(AMIError):
    """Asterisk refused the Login (wrong user or secret, or an ACL)."""


class AMIActionError(AMIError):
    """Asterisk answered an action with ``Response: Error``."""

    def __init__(self, action: str, response: AMIMessage) -> None:
        self.action = action
        self.response = response
        super().__init__(f"AMI {action} failed: {response.get('Message', '')}")


@dataclass(frozen=True)
class AMIListResult:
    """An event-list action: the ``EventList: start`` response, the item events and the
    ``...Complete`` event (which carries ``ListItems``)."""

    response: AMIMessage
    events: tuple[AMIMessage, ...]
    complete: AMIMessage


@dataclass
class _Pending:
    action: str
    deferred: defer.Deferred[Any]
    raise_on_error: bool
    list_response: AMIMessage | None = None
    list_events: list[AMIMessage] = field(default_factory=list)


class AMIClientProtocol(Protocol):
    """One AMI connection: banner, Login, correlation by ActionID, keep-alive."""

    def __init__(self, client: AMIClient) -> None:
        self.client = client
        self.clock = client.clock
        self._parser = AMIParser(expect_banner=True)
        self._pending: dict[str, _Pending] = {}
        self._pinger: task.LoopingCall | None = None
        self._ping_timer: Any = None
        self.logged_in = False

    # -- transport events ------------------------------------------------
    def dataReceived(self, data: bytes) -> None:
        had_banner = self._parser.banner is not None
        messages: list[AMIMessage] = []
        while True:
            try:
                messages += self._parser.feed(data)
                break
            except AMIProtocolError as exc:
                # Drop the bad message, keep the good ones around it.
                log.error("AMI %s:%s sent garbled data: %s", *self._peer(), exc)
                messages += exc.messages
                if self._parser.banner is None:
                    connected(self).loseConnection()
                    return
                data = b""
        if not had_banner and self._parser.banner is not None:
            log.info("AMI %s:%s banner %r", *self._peer(), self._parser.banner)
            self._login()
        for message in messages:
            self._handle(message)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._stop_keepalive()
        pending, self._pending = self._pending, {}
        for item in pending.values():
            item.deferred.errback(
                AMIConnectionLost(
                    f"AMI connection lost before {item.action} was answered: "
                    f"{reason.getErrorMessage()}"
                )
            )
        self.client._connection_lost(self, reason)

    def _peer(self) -> tuple[str, int]:
        return self.client.config.host, self.client.config.port

    # -- actions ---------------------------------------------------------
    def send_action(
        self,
        action: str,
        headers: Iterable[Header] = (),
        *,
        variables: dict[str, str] | None = None,
        action_id: str | None = None,
        raise_on_error: bool = True,
    ) -> defer.Deferred[Any]:
        if action_id is None:
            action_id = self.client.next_action_id()
        if action_id in self._pending:
            raise ValueError(f"ActionID {action_id!r} is already in flight")
        data = format_action(action, headers, action_id=action_id, variables=variables)
        d: defer.Deferred[Any] = defer.Deferred()
        self._pending[action_id] = _Pending(action, d, raise_on_error)
        connected(self).write(data)
        return d

    def _handle(self, message: AMIMessage) -> None:
        kind = message.kind
        action_id = message.action_id
        pending = self._pending.get(action_id) if action_id is not None else None
        if kind == "response":
            if action_id is None or pending is None:
                log.warning("AMI response for unknown ActionID %r", action_id)
                return
            if message.get("EventList", "").lower() == "start":
                pending.list_response = message
                return
            del self._pending[action_id]
            if pending.raise_on_error and message.name.lower() == "error":
                pending.deferred.errback(AMIActionError(pending.action, message))
            else:
                pending.deferred.callback(message)
        elif kind == "event":
            if action_id is not None and pending is not None and pending.list_response is not None:
                if message.get("EventList", "").lower() == "complete":
                    del self._pending[action_id]
                    pending.deferred.callback(
                        AMIListResult(pending.list_response, tuple(pending.list_events), message)
                    )
                else:
                    pending.list_events.append(message)
                return
            self.client._dispatch(message)
        else:
            log.warning("AMI message that is neither response nor event: %r", message.keys())

    # -- login and keep-alive ---------------------------------------------
    def _login(self) -> None:
        config = self.client.config
        # The Login bytes hold the secret: they go to the socket only, never to a log.
        d = self.send_action("Login", [("Username", config.username), ("Secret", config.secret)])
        d.addCallbacks(self._logged_in, self._login_failed)

    def _logged_in(self, _response: AMIMessage) -> None:
        self.logged_in = True
        log.info("AMI logged in to %s:%s as %r", *self._peer(), self.client.config.username)
        if self.client.config.ping_interval > 0:
            self._pinger = task.LoopingCall(self._ping)
            self._pinger.clock = self.clock
            self._pinger.start(self.client.config.ping_interval, now=False)
        self.client._logged_in(self)

    def _login_failed(self, failure: Failure) -> None:
        if isinstance(failure.value, AMIActionError):
            error = AMILoginError(
                f"AMI login to {self.client.config.host}:{self.client.config.port} as "
                f"{self.client.config.username!r} refused: "
                f"{failure.value.response.get('Message', '')}"
            )
            log.error("%s", error)
            self.client._login_refused(error)
            connected(self).loseConnection()
        # AMIConnectionLost is reported by connectionLost already.

    def _ping(self) -> None:
        if self._ping_timer is not None:
            return
        self._ping_timer = self.clock.callLater(
            self.client.config.ping_timeout, self._ping_timed_out
        )
        d = self.send_action("Ping")
        d.addBoth(self._pong)

    def _pong(self, result: object) -> None:
        if self._ping_timer is not None and self._ping_timer.active():
            self._ping_timer.cancel()
        self._ping_timer = None
        if isinstance(result, Failure) and not result.check(AMIConnectionLost):
            log.warning("AMI Ping failed: %s", result.getErrorMessage())

    def _ping_timed_out(self) -> None:
        self._ping_timer = None
        log.error(
            "AMI %s:%s did not answer Ping within %ss; dropping the connection",
            *self._peer(),
            self.client.config.ping_timeout,
        )
        connected(self).abortConnection()

    def _stop_keepalive(self) -> None:
        if self._pinger is not None and self._pinger.running:
            self._pinger.stop()
        self._pinger = None
        if self._ping_timer is not None and self._ping_timer.active():
            self._ping_timer.cancel()
        self._ping_timer = None


class _AMIFactory(Factory):
    def __init__(self, client: AMIClient) -> None:
        self.client = client

    def buildProtocol(self, addr: object) -> AMIClientProtocol:
        return AMIClientProtocol(self.client)


class AMIClient:
    """AMI client with reconnection.  Actions issued while disconnected fail at once
    with :class:`AMIConnectionLost`; the dialer reconciles in its ``on_connected``."""

    def __init__(
        self,
        config: AMIConfig,
        *,
        reactor: IReactorTCP | None = None,
        clock: IReactorTime | None = None,
        endpoint: IStreamClientEndpoint | None = None,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.config = config
        # A reactor is both IReactorTCP and IReactorTime; Twisted names no interface for the two.
        self.clock: IReactorTime = clock or reactor  # type: ignore[assignment]
        self._endpoint = endpoint or TCP4ClientEndpoint(reactor, config.host, config.port)
        self._ids = itertools.count(1)
        self._protocol: AMIClientProtocol | None = None
        self._subscribers: dict[str, list[EventCallback]] = {}
        self._catch_all: list[EventCallback] = []
        self._on_connected: list[ConnectionCallback] = []
        self._on_disconnected: list[ConnectionCallback] = []
        self._ready_waiters: list[defer.Deferred[AMIClient]] = []
        self._service: ClientService | None = None
        self.login_error: AMILoginError | None = None
        self.field_errors = FieldErrors()  # the event handlers' unparsable fields, by kind
        self._failures_logged: set[tuple[str, str]] = set()

    def __repr__(self) -> str:
        return f"<AMIClient {self.config.username}@{self.config.host}:{self.config.port}>"

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> defer.Deferred[AMIClient]:
        """Start connecting (and reconnecting); fires once logged in, or fails with
        :class:`AMILoginError` (after which the client stops retrying)."""
        if self._service is None:
            self.login_error = None
            self._service = ClientService(
                self._endpoint,
                _AMIFactory(self),
                retryPolicy=backoffPolicy(
                    initialDelay=self.config.backoff_initial,
                    factor=self.config.backoff_factor,
                    maxDelay=self.config.backoff_max,
                ),
                clock=self.clock,
            )
            self._service.startService()
        return self.when_ready()

    def when_ready(self) -> defer.Deferred[AMIClient]:
        if self.connected:
            return defer.succeed(self)
        d: defer.Deferred[AMIClient] = defer.Deferred()
        self._ready_waiters.append(d)
        return d

    def stop(self) -> defer.Deferred[None]:
        """Stop reconnecting and close the connection."""
        service, self._service = self._service, None
        if service is None:
            return defer.succeed(None)
        return defer.ensureDeferred(_stop(service))

    @property
    def connected(self) -> bool:
        return self._protocol is not None and self._protocol.logged_in

    def next_action_id(self) -> str:
        return f"{self.config.action_id_prefix}-{next(self._ids)}"

    # -- callbacks -----------------------------------------------------------
    def on(self, event: str, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback(message)`` for every event named ``event`` (case-insensitive).
        Returns a function that unsubscribes."""
        callbacks = self._subscribers.setdefault(event.lower(), [])
        callbacks.append(callback)
        return lambda: callbacks.remove(callback)

    def on_any(self, callback: EventCallback) -> Callable[[], None]:
        self._catch_all.append(callback)
        return lambda: self._catch_all.remove(callback)

    def on_connected(self, callback: ConnectionCallback) -> None:
        """Called after every successful login (first connect and each reconnect)."""
        self._on_connected.append(callback)

    def on_disconnected(self, callback: ConnectionCallback) -> None:
        self._on_disconnected.append(callback)

    def _dispatch(self, message: AMIMessage) -> None:
        for callback in (*self._subscribers.get(message.name.lower(), ()), *self._catch_all):
            try:
                callback(message)
            except Exception as exc:
                # A traceback per kind of failure, not per event: a peer repeating the event
                # that trips a subscriber must not flood the log (and stall the reactor).
                kind = (getattr(callback, "__qualname__", repr(callback)), type(exc).__name__)
                if kind not in self._failures_logged:
                    self._failures_logged.add(kind)
                    log.exception("AMI event subscriber failed on %s (logged once)", message.name)

    def _notify(self, callbacks: list[ConnectionCallback]) -> None:
        for callback in list(callbacks):
            try:
                callback(self)
            except Exception:
                log.exception("AMI connection callback failed")

    def _logged_in(self, protocol: AMIClientProtocol) -> None:
        self._protocol = protocol
        if self.config.event_mask is not None:
            self.events(self.config.event_mask).addErrback(
                lambda f: log.warning("AMI Events failed: %s", f.getErrorMessage())
            )
        self._notify(self._on_connected)
        waiters, self._ready_waiters = self._ready_waiters, []
        for d in waiters:
            d.callback(self)

    def _login_refused(self, error: AMILoginError) -> None:
        self.login_error = error
        waiters, self._ready_waiters = self._ready_waiters, []
        # Retrying a refused secret only hammers Asterisk (and fills its security log).
        self.stop()
        for d in waiters:
            d.errback(error)

    def _connection_lost(self, protocol: AMIClientProtocol, reason: Failure) -> None:
        if protocol is not self._protocol:
            return
        self._protocol = None
        # After stop()/logoff() the close is ours; otherwise it is news.
        log.log(
            logging.WARNING if self._service is not None else logging.INFO,
            "AMI connection to %s:%s lost: %s",
            self.config.host,
            self.config.port,
            reason.getErrorMessage(),
        )
        self._notify(self._on_disconnected)

    # -- actions ---------------------------------------------------------------
    def send_action(
        self,
        action: str,
        headers: Iterable[Header] = (),
        *,
        variables: dict[str, str] | None = None,
        action_id: str | None = None,
        raise_on_error: bool = True,
    ) -> defer.Deferred[Any]:
        """Send an action; the Deferred fires with the response :class:`AMIMessage`
        (or an :class:`AMIListResult` for event-list actions)."""
        if not self.connected:
            return defer.fail(AMIConnectionLost(f"AMI not connected; cannot send {action}"))
        assert self._protocol is not None
        return self._protocol.send_action(
            action,
            headers,
            variables=variables,
            action_id=action_id,
            raise_on_error=raise_on_error,
        )

    def ping(self, *, action_id: str | None = None) -> defer.Deferred[AMIMessage]:
        return self.send_action("Ping", action_id=action_id)

    def originate(
        self,
        channel: str,
        context: str,
        exten: str,
        priority: int | str,
        *,
        variables: dict[str, str] | None = None,
        timeout_ms: int | None = None,
        caller_id: str | None = None,
        async_: bool = True,
        action_id: str | None = None,
    ) -> defer.Deferred[AMIMessage]:
        """Originate ``channel`` and, once answered, send it to ``context,exten,priority``.
        With ``async_`` the response only says "queued"; the outcome arrives as an
        ``OriginateResponse`` event carrying the same ActionID."""
        target = [("Context", context), ("Exten", exten), ("Priority", str(priority))]
        return self._originate(channel, target, variables, timeout_ms, caller_id, async_, action_id)

    def originate_application(
        self,
        channel: str,
        application: str,
        data: str = "",
        *,
        variables: dict[str, str] | None = None,
        timeout_ms: int | None = None,
        caller_id: str | None = None,
        async_: bool = True,
        action_id: str | None = None,
    ) -> defer.Deferred[AMIMessage]:
        """Originate ``channel`` and run ``application(data)`` on it once answered."""
        target = [("Application", application), ("Data", data)]
        return self._originate(channel, target, variables, timeout_ms, caller_id, async_, action_id)

    def _originate(
        self,
        channel: str,
        target: list[Header],
        variables: dict[str, str] | None,
        timeout_ms: int | None,
        caller_id: str | None,
        async_: bool,
        action_id: str | None,
    ) -> defer.Deferred[AMIMessage]:
        headers: list[Header] = [("Channel", channel), *target]
        if timeout_ms is not None:
            headers.append(("Timeout", str(timeout_ms)))
        if caller_id is not None:
            headers.append(("CallerID", caller_id))
        # Variables go before Async, as in the golden transcripts.
        headers.extend(("Variable", f"{k}={v}") for k, v in (variables or {}).items())
        headers.append(("Async", "true" if async_ else "false"))
        return self.send_action("Originate", headers, action_id=action_id)

    def core_show_channels(self, *, action_id: str | None = None) -> defer.Deferred[AMIListResult]:
        return self.send_action("CoreShowChannels", action_id=action_id)

    def status(
        self, channel: str, variables: Iterable[str] = (), *, action_id: str | None = None
    ) -> defer.Deferred[AMIListResult]:
        """One channel's Status, with the channel variables named (``Variable: NAME=value``)."""
        headers: list[Header] = [("Channel", channel), ("Variables", ",".join(variables))]
        return self.send_action("Status", headers, action_id=action_id)

    def getvar(
        self, channel: str | None, name: str, *, action_id: str | None = None
    ) -> defer.Deferred[str]:
        headers: list[Header] = [] if channel is None else [("Channel", channel)]
        headers.append(("Variable", name))
        d = self.send_action("Getvar", headers, action_id=action_id)
        return d.addCallback(lambda r: r.get("Value", ""))

    def setvar(
        self, channel: str | None, name: str, value: str, *, action_id: str | None = None
    ) -> defer.Deferred[AMIMessage]:
        headers: list[Header] = [] if channel is None else [("Channel", channel)]
        headers += [("Variable", name), ("Value", value)]
        return self.send_action("Setvar", headers, action_id=action_id)

    def hangup(
        self, channel: str, cause: int | None = None, *, action_id: str | None = None
    ) -> defer.Deferred[AMIMessage]:
        headers: list[Header] = [("Channel", channel)]
        if cause is not None:
            headers.append(("Cause", str(cause)))
        return self.send_action("Hangup", headers, action_id=action_id)

    def command(self, command: str, *, action_id: str | None = None) -> defer.Deferred[AMIMessage]:
        """CLI command; the output is ``response.output``."""
        return self.send_action("Command", [("Command", command)], action_id=action_id)

    def queue_status(
        self, queue: str | None = None, *, action_id: str | None = None
    ) -> defer.Deferred[AMIListResult]:
        return self.send_action(
            "QueueStatus", [] if queue is None else [("Queue", queue)], action_id=action_id
        )

    def queue_summary(
        self, queue: str | None = None, *, action_id: str | None = None
    ) -> defer.Deferred[AMIListResult]:
        return self.send_action(
            "QueueSummary", [] if queue is None else [("Queue", queue)], action_id=action_id
        )

    def queue_pause(
        self,
        interface: str,
        paused: bool,
        *,
        queue: str | None = None,
        reason: str | None = None,
        action_id: str | None = None,
    ) -> defer.Deferred[AMIMessage]:
        headers: list[Header] = [] if queue is None else [("Queue", queue)]
        headers += [("Interface", interface), ("Paused", "true" if paused else "false")]
        if reason is not None:
            headers.append(("Reason", reason))
        return self.send_action("QueuePause", headers, action_id=action_id)

    def events(self, mask: str, *, action_id: str | None = None) -> defer.Deferred[AMIMessage]:
        """``Action: Events``; mask is ``on``, ``off`` or classes such as ``call,agent``."""
        return self.send_action("Events", [("EventMask", mask)], action_id=action_id)

    def filter(
        self, expression: str, operation: str = "Add", *, action_id: str | None = None
    ) -> defer.Deferred[AMIMessage]:
        """Add a (legacy regex) event filter, e.g. ``Event: OriginateResponse``."""
        return self.send_action(
            "Filter", [("Operation", operation), ("Filter", expression)], action_id=action_id
        )

    def logoff(self, *, action_id: str | None = None) -> defer.Deferred[AMIMessage]:
        """Logoff and stop reconnecting."""
        service, self._service = self._service, None
        d = self.send_action("Logoff", raise_on_error=False, action_id=action_id)

        def stopped(result: object) -> object:
            if service is not None:
                return defer.ensureDeferred(_stop(service)).addCallback(lambda _: result)
            return result

        return d.addBoth(stopped)


async def _stop(service: ClientService) -> None:
    await service.stopService()
