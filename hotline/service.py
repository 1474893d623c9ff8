"""The running service: one Twisted reactor carrying the FastAGI server and its helpers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from hotline.agi.flows import load_flows
from hotline.agi.flows.context import FlowContext, FlowEvents, no_events
from hotline.agi.protocol import AGIEnvironment
from hotline.agi.server import AGIObserver, FastAGIFactory, listen_fastagi
from hotline.app import App
from hotline.core.intake import IntakeDesk
from hotline.core.spool import Spool

log = logging.getLogger(__name__)
T = TypeVar("T")

SPOOL_REPLAY_SECONDS = 5.0
RECORDING_FOLDERS = ("descriptions", "calls", "comments")


class Service:
    def __init__(
        self,
        app: App,
        reactor: Any,
        *,
        events: FlowEvents = no_events,
        observer: AGIObserver | None = None,
        clock: Callable[[], datetime] | None = None,
        db_threads: int = 8,
    ) -> None:
        self.app, self.reactor, self.events = app, reactor, events
        self.clock = clock or app.now
        self.desk = IntakeDesk(app.db, app.rules, Spool(app.settings.spool_path))
        # Blocking database work runs here, never on the reactor thread.
        self.pool = ThreadPool(minthreads=1, maxthreads=db_threads, name="hotline-db")
        self.routes = load_flows()
        self.fastagi = FastAGIFactory(
            self.routes,
            self.make_context,
            observer,
            reactor=reactor,
            env_timeout=app.settings.fastagi.environment_timeout,
        )
        self._replay = LoopingCall(self._replay_spool)
        self._replay.clock = reactor
        self.ports: list[IListeningPort] = []

    def run_blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Deferred[T]:
        return deferToThreadPool(self.reactor, self.pool, fn, *args, **kwargs)

    def make_context(self, env: AGIEnvironment) -> FlowContext:
        s = self.app.settings
        return FlowContext(
            desk=self.desk,
            rules=self.app.rules,
            run=self.run_blocking,
            clock=self.clock,
            recordings_dir=s.recordings_dir,
            menu_tries=s.inbound.menu_tries,
            digit_timeout_ms=s.inbound.digit_timeout_ms,
            record_max_seconds=s.inbound.record_max_seconds,
            record_calls=s.recordings.record_inbound,
            events=self.events,
            params=env.params,
        )

    def _replay_spool(self) -> Deferred[int] | None:
        if not self.desk.spool.path.exists():
            return None
        return self.run_blocking(self.desk.replay_spool)

    async def start(self, fastagi_listen: str | None = None) -> None:
        # RECORD FILE does not create folders: Asterisk writes into these (its monitor directory).
        for folder in RECORDING_FOLDERS:
            (self.app.settings.recordings_dir / folder).mkdir(parents=True, exist_ok=True)
        self.pool.start()
        self._pool_trigger = self.reactor.addSystemEventTrigger(
            "during", "shutdown", self.pool.stop
        )
        listen = fastagi_listen or self.app.settings.fastagi.listen
        port = await listen_fastagi(self.reactor, listen, self.fastagi)
        self.ports.append(port)
        address = port.getHost()
        log.info("FastAGI listening on %s:%s", address.host, address.port)
        self._replay.start(SPOOL_REPLAY_SECONDS, now=True)

    async def stop(self) -> None:
        if self._replay.running:
            self._replay.stop()
        for port in self.ports:
            await port.stopListening()
        self.ports.clear()
        self.reactor.removeSystemEventTrigger(self._pool_trigger)
        self.pool.stop()
