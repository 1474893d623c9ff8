"""Wire the metrics into the running service: hooks, the database gauges' refresh, ``/metrics``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort
from twisted.internet.task import LoopingCall

from hotline.agi.protocol import AGIEnvironment, AGIResponse
from hotline.agi.server import AGIObserver
from hotline.app import App
from hotline.core.figures import db_figures
from hotline.core.vocabulary import DialMode
from hotline.log_once import LogOnce
from hotline.metrics import Metrics
from hotline.metrics_http import listen_metrics
from hotline.net.tcp import address_text

if TYPE_CHECKING:
    from hotline.dialer.ami_client import AMIClient
    from hotline.dialer.engine import Dialer

log = logging.getLogger(__name__)

REFRESH_SECONDS = 15.0
P = ParamSpec("P")
T = TypeVar("T")


class MetricsHost(Protocol):
    """What the metrics use of the running service (`hotline.service.Service`), which imports
    this module to wire them in."""

    @property
    def app(self) -> App: ...
    @property
    def reactor(self) -> Any: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...
    @property
    def ports(self) -> list[IListeningPort]: ...

    def run_blocking(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Deferred[T]: ...


class ObserverChain(AGIObserver):
    """Several FastAGI observers behind the factory's one ``observer``."""

    def __init__(self, *observers: AGIObserver) -> None:
        self.observers = observers

    def call_started(self, env: AGIEnvironment) -> None:
        for o in self.observers:
            o.call_started(env)

    def command_sent(self, env: AGIEnvironment, line: str) -> None:
        for o in self.observers:
            o.command_sent(env, line)

    def response_received(self, env: AGIEnvironment, response: AGIResponse, seconds: float) -> None:
        for o in self.observers:
            o.response_received(env, response, seconds)

    def call_ended(self, env: AGIEnvironment, error: BaseException | None) -> None:
        for o in self.observers:
            o.call_ended(env, error)

    def connections_open(self, n: int) -> None:
        for o in self.observers:
            o.connections_open(n)

    def connection_refused(self) -> None:
        for o in self.observers:
            o.connection_refused()

    def connection_dropped(self, reason: str) -> None:
        for o in self.observers:
            o.connection_dropped(reason)


def watch_ami(client: AMIClient, metrics: Metrics) -> None:
    """``hotline_ami_connected`` follows the client's logins; every login after the first is a
    reconnect."""
    logins = 0

    def connected(_client: AMIClient) -> None:
        nonlocal logins
        logins += 1
        metrics.ami_connected(True)
        if logins > 1:
            metrics.ami_reconnected()

    client.on_connected(connected)
    client.on_disconnected(lambda _client: metrics.ami_connected(False))
    client.field_errors.listeners.append(metrics.ami_field_error)


@dataclass
class AttachedMetrics:
    metrics: Metrics
    port: IListeningPort  # also in service.ports, so Service.stop closes it
    refresher: LoopingCall

    def stop(self) -> None:
        """Stop the database refresh (call before ``Service.stop``, which stops the pool)."""
        if self.refresher.running:
            self.refresher.stop()


async def attach_metrics(
    service: MetricsHost,
    metrics: Metrics,
    listen: str | None = None,
    refresh_seconds: float = REFRESH_SECONDS,
) -> AttachedMetrics:
    """Refresh the database gauges every ``refresh_seconds`` in the service's thread pool and
    serve ``/metrics`` on ``listen`` (default: the ``metrics.listen`` setting). The service
    itself feeds the call, AGI, spool, AMI and dialer figures (``Service(metrics=...)``)."""

    def refresh_blocking() -> None:
        with service.app.db.session() as session:
            metrics.show_db_figures(db_figures(session, service.app.rules, service.clock()))

    said = LogOnce(log, "metrics: database gauges not refreshed", logging.WARNING)

    def refresh() -> Deferred[None]:
        # A failed refresh (database down) keeps the last figures and the loop going.
        return service.run_blocking(refresh_blocking).addCallbacks(said.succeeded, said.failed)

    refresher = LoopingCall(refresh)
    refresher.clock = service.reactor
    refresher.start(refresh_seconds, now=True)
    port = await listen_metrics(
        service.reactor, listen or service.app.settings.metrics.listen, metrics
    )
    service.ports.append(port)
    log.info("metrics on http://%s/metrics", address_text(port.getHost()))
    return AttachedMetrics(metrics, port, refresher)


def report_dialer(metrics: Metrics, dialer: Dialer) -> None:
    """After each dialer tick: calls ringing, dial level, abandon rate, agents by state."""
    pacer = dialer.agent_pacers[DialMode.PREDICTIVE]
    agents = pacer.agents_by_state()
    ringing = pacer.ringing + sum(p.ringing for p in dialer.line_pacers.values())
    metrics.dialer_state(
        ringing,
        pacer.dial_level,
        pacer.abandon_rate,
        agents.get("free", 0),
        agents.get("talking", 0),
        agents.get("wrapup", 0),
    )
    metrics.agent_ring_outs(dialer.ring_no_answer.missed)
