"""The running service: one Twisted reactor carrying the FastAGI server and its helpers."""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from hotline.agi.flows import load_flows
from hotline.agi.flows.context import FlowContext, Runner
from hotline.agi.protocol import AGIEnvironment
from hotline.agi.server import AGIObserver, FastAGIFactory, listen_fastagi
from hotline.app import App
from hotline.core.call_records import call_facts, live_call_id
from hotline.core.db import flow_threads
from hotline.core.dialer_desk import DialerDesk
from hotline.core.event_bus import EventBus
from hotline.core.events import Event, RecordingIndexed
from hotline.core.instances import Heartbeat, instance_id
from hotline.core.intake import IntakeDesk
from hotline.core.outbound_desk import OutboundDesk
from hotline.core.spool import Spool
from hotline.core.vocabulary import DomainError
from hotline.core.webhook_desk import WebhookDesk
from hotline.core.webhook_prune import Retention
from hotline.dialer.agent_actions import AgentActions
from hotline.dialer.ami_client import AMIClient, AMIConfig
from hotline.dialer.engine import Dialer, DialerConfig
from hotline.dialer.pacing import PacingConfig
from hotline.dialer.pbx_snapshot import PbxSnapshot
from hotline.dialer.queue_events import QueueEvents, agent_namer
from hotline.live_relay import LiveRelay
from hotline.live_state import CallContext, LiveState
from hotline.live_stream import LiveStream
from hotline.log_once import LogOnce
from hotline.metrics import Metrics
from hotline.metrics_service import (
    AttachedMetrics,
    ObserverChain,
    attach_metrics,
    report_dialer,
    watch_ami,
)
from hotline.net.tcp import address_text, stop_listening
from hotline.recordings.worker import FOLDERS, ConversionWorker, scan
from hotline.webhooks.deliverer import Deliverer
from hotline.webhooks.pruner import Pruner
from hotline.webhooks.sender import Sender
from hotline.write_batches import WriteBatches

if TYPE_CHECKING:  # the web's modules load only when the service serves the API
    from hotline.web.reader import ReaderPool

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

RECORDINGS_BATCH = 20


def flow_context(
    app: App,
    env: AGIEnvironment,
    desk: IntakeDesk,
    outbound: OutboundDesk,
    run: Runner,
    write: Runner,
    clock: Callable[[], datetime],
    events: EventBus,
) -> FlowContext:
    """What one call's flow is given, from the settings (FastAGI and classic AGI alike)."""
    s = app.settings
    record = s.recordings.record_outbound if env.direction == "out" else s.recordings.record_inbound
    return FlowContext(
        desk=desk,
        rules=app.rules,
        run=run,
        write=write,
        clock=clock,
        recordings_dir=s.recordings_dir,
        menu_tries=s.inbound.menu_tries,
        digit_timeout_ms=s.inbound.digit_timeout_ms,
        record_max_seconds=s.inbound.record_max_seconds,
        record_calls=record,
        events=events,
        params=env.params,
        outbound=outbound,
    )


class CannotStart(RuntimeError):
    """The service cannot do its job here (a port taken, a folder it must write read-only)."""


def require_writable(folder: Path) -> None:
    """Create the folder and write a byte in it: a read-only or full disk stops the start."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder) as f:
            f.write(b"x")
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise CannotStart(f"cannot write in {folder}: {exc.strerror or exc}") from exc


class Service:
    def __init__(
        self,
        app: App,
        reactor: Any,
        *,
        bus: EventBus | None = None,
        observer: AGIObserver | None = None,
        clock: Callable[[], datetime] | None = None,
        metrics: Metrics | None = None,
        db_threads: int | None = None,
    ) -> None:
        self.app, self.reactor = app, reactor
        self.clock = clock or app.now
        self.metrics = metrics
        # The one bus the flows and the dialer publish on; metrics, the demo's view (and later
        # the API's live stream, webhooks and console) subscribe to it.
        self.bus = bus or EventBus()
        if metrics is not None:
            metrics.subscribe(self.bus)
            observer = ObserverChain(observer, metrics.observer) if observer else metrics.observer
        # This instance among others on the database: its calls are its own to settle.
        i = app.settings.instance
        self.heartbeat = Heartbeat(
            instance_id(app.settings.instance_id_path),
            timedelta(seconds=i.heartbeat_seconds),
            i.dead_after_beats,
        )
        self.desk = IntakeDesk(app.db, app.rules, Spool(app.settings.spool_path), self.heartbeat)
        self.outbound = OutboundDesk(app.db, app.rules)
        if metrics is not None:
            self.desk.on_spooled, self.desk.on_replayed = metrics.spooled, metrics.replayed
            self.desk.on_lost, self.desk.on_interrupted = metrics.lost, metrics.interrupted
            self.desk.spool.on_set_aside = metrics.set_aside
        # Blocking database work runs here, never on the reactor thread (flow_threads: why one
        # on SQLite).
        if db_threads is None:
            db_threads = flow_threads(app.db.url)
        self.pool = ThreadPool(minthreads=1, maxthreads=db_threads, name="hotline-db")
        # The API's reads, in threads of their own beside the flows' (hotline.web.server).
        web = app.settings.web
        self.web_pool = ThreadPool(minthreads=1, maxthreads=web.read_threads(), name="hotline-web")
        self.writes = WriteBatches(self.run_blocking, app.db.together, db_threads)
        self.routes = load_flows()
        self.fastagi = FastAGIFactory(
            self.routes,
            self.make_context,
            observer,
            reactor=reactor,
            **app.settings.fastagi.factory_options(),
        )
        # Brings the database up to date with what happened while it was away (a loop that
        # never dies: a failure is logged once and tried again next tick).
        self._catch_up = LoopingCall(self._catch_up_tick)
        self._catch_up.clock = reactor
        self._db_ready = False  # schema checked and interrupted calls settled since start
        self._catch_up_log = LogOnce(log, "catching up with the database")
        # Conversion has threads of its own, so it never holds the flows' database threads.
        self.recording_pool = ThreadPool(1, app.settings.recordings.workers, "hotline-recordings")
        self.converter = ConversionWorker(
            app.db, app.settings.recordings.conversion(), clock=self.clock
        )
        self._recordings = LoopingCall(self._archive_recordings)
        self._recordings.clock = reactor
        # The outbox's events to their subscribers (hotline.webhooks), database work in the pool.
        w = app.settings.webhooks
        self.webhooks = Deliverer(
            WebhookDesk(app.db, app.rules, w.retry, timedelta(seconds=w.lease_seconds)),
            Sender(reactor, w.timeout_seconds),
            self.run_blocking,
            self.clock,
            reactor,
            w.batch,
            ready=lambda: self._db_ready,
        )
        # ... and pruned once past their retention (webhooks.keep_days, keep_failed_days).
        self.webhook_pruner = Pruner(
            app.db,
            Retention.of(w.keep_days, w.keep_failed_days),
            self.run_blocking,
            self.clock,
            reactor,
            ready=lambda: self._db_ready,
        )
        self.ports: list[IListeningPort] = []
        self.ami: AMIClient | None = None
        self.dialer: Dialer | None = None
        self.attached_metrics: AttachedMetrics | None = None
        self.web_port: IListeningPort | None = None
        self.readers: ReaderPool | None = None  # the API's reader processes, while it runs them
        # What is happening now, from the bus alone, and its stream (SSE) for the console.
        rules = app.rules
        self.live_state = LiveState(
            rules.tz, rules.policy.answer.max_answer_seconds, reactor.callLater, self.clock
        )
        self.live = LiveStream(self.live_state, reactor, self._call_context)
        self.bus.subscribe(self.live.take, (Event,))
        # Other instances on the same PostgreSQL database see this one's events, and it theirs.
        self.relay: LiveRelay | None = None
        if app.db.url.startswith("postgresql"):
            self.relay = LiveRelay(
                app.db,
                reactor,
                self.live.take,
                lambda: self.ami is not None,
                self.clock,
                LiveState.EVENT_TYPES,
            )
            self.bus.subscribe(self.relay.publish, LiveState.EVENT_TYPES)

    def _call_context(self, call_id: str) -> Deferred[tuple[CallContext, str] | None]:
        """The screen pop's facts from the call's record, for a call whose flow another
        instance ran (this one saw none of its events)."""

        def read() -> tuple[CallContext, str] | None:
            with self.app.db.session() as session:
                facts = call_facts(session, call_id)
            if facts is None:
                return None
            context = CallContext(
                facts.unit,
                facts.resident_id,
                facts.resident_name,
                facts.ticket_id,
                facts.campaign_id,
                facts.lead_id,
            )
            return context, facts.direction

        return self.run_blocking(read)

    def run_blocking(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Deferred[T]:
        return deferToThreadPool(self.reactor, self.pool, fn, *args, **kwargs)

    def make_context(self, env: AGIEnvironment) -> FlowContext:
        return flow_context(
            self.app,
            env,
            self.desk,
            self.outbound,
            self.run_blocking,
            self.writes,
            self.clock,
            self.bus,
        )

    def _archive_blocking(self) -> tuple[list[RecordingIndexed], int]:
        """Index and convert; returns what was indexed (as events) and the conversions failed."""
        s = self.app.settings
        at = self.clock()
        with self.app.db.session() as session:
            found = scan(
                session,
                s.recordings_dir,
                at=at,
                retention_years=s.followup.retention_years,
                settle=timedelta(seconds=s.recordings.settle_seconds),
            )
            indexed = [
                RecordingIndexed(
                    recording_id=r.id,
                    kind=r.kind,
                    ticket_id=r.ticket_id,
                    call_id=live_call_id(session, r.call_id),
                    restricted=r.restricted,
                    at=at,
                )
                for r in found
            ]
        _archived, failed = self.converter.run_once(RECORDINGS_BATCH)
        return indexed, failed

    def _archive_recordings(self) -> Deferred[None]:
        """Index what Asterisk recorded and convert it to the archive format, off the reactor;
        each recording indexed is told on the bus (a pop's player appears)."""

        def done(result: tuple[list[RecordingIndexed], int]) -> None:
            indexed, failed = result
            for event in indexed:
                self.bus.publish(event)
            if failed and self.metrics is not None:
                self.metrics.conversion_failed(failed)

        d = deferToThreadPool(self.reactor, self.recording_pool, self._archive_blocking)
        return d.addCallbacks(done, lambda f: log.warning("recordings: %s", f.getErrorMessage()))

    def _catch_up_blocking(self) -> int:
        """Once the database answers: bring its schema to head, beat, settle the calls a stop of
        this instance (or a dead one) cut off, land the spool. Returns the count replayed."""
        try:
            at = self.clock()
            if not self._db_ready:
                if not self.app.db.is_current():
                    raise DomainError(
                        f"no hotline database at {self.app.db.url}: run `hotline init`"
                    )
                self.app.db.upgrade()  # a no-op at head; a newer version's migrations otherwise
                self._beat(at)
                self.desk.settle_interrupted(at)
                self._db_ready = True
                log.info("database ready (instance %s)", self.heartbeat.id)
            else:
                self._beat(at)
            replayed = self.desk.replay_spool()
            if replayed:
                # Spooled arrivals of a process that died with the database down have no ending.
                self.desk.settle_interrupted(self.clock())
            self.desk.settle_dead_instances(at)
            return replayed
        finally:
            # The spool is on local disk: its depth is known, and matters most, while the
            # database does not answer (HotlineSpoolNotDraining).
            if self.metrics is not None:
                self.metrics.spool_depth.set(self.desk.spool.depth())

    def _beat(self, at: datetime) -> None:
        with self.app.db.transaction() as c:
            self.heartbeat.beat(c, at)

    def _catch_up_tick(self) -> Deferred[None]:
        d = self.run_blocking(self._catch_up_blocking)
        return d.addCallbacks(self._catch_up_log.succeeded, self._catch_up_log.failed)

    def start_dialer(self, ami_port: int | None = None) -> None:
        """The AMI client and the dialer, in this reactor. Off while no AMI secret is set."""
        a, d = self.app.settings.ami, self.app.settings.dialer
        if not a.secret:
            log.warning("ami.secret is not set: AMI client and dialer are off")
            return
        # The classes the dialer and the live state read (manager.conf grants no more).
        config = AMIConfig(
            a.host,
            ami_port or a.port,
            a.username,
            a.secret,
            a.ping_interval,
            event_mask="call,agent,dialplan",
        )
        self.ami = AMIClient(config, reactor=self.reactor)
        pacing = PacingConfig(
            abandon_limit=d.abandon_limit,
            connect_limit=d.connect_limit_seconds,
            max_ring=d.ring_timeout_seconds,
            agentless_lines=d.agentless_lines,
        )
        self.dialer = dialer = Dialer(
            DialerConfig(
                channel_template=d.channel_template,
                agent_channel_template=d.agent_channel_template,
                ring_timeout_seconds=d.ring_timeout_seconds,
                poll_seconds=d.poll_seconds,
                agent_queue=d.agent_queue,
                caller_id=d.caller_id or None,
                recordings_dir=(
                    self.app.settings.recordings_dir
                    if self.app.settings.recordings.record_outbound
                    else None
                ),
                pacing=pacing,
            ),
            self.ami,
            DialerDesk(
                self.app.db,
                self.app.rules,
                d.retry,
                d.calling_window(self.app.rules.tz),
                worker=d.worker or socket.gethostname(),
                heartbeat=self.heartbeat,
            ),
            self.run_blocking,
            self.clock,
            self.reactor,
            events=self.bus,
        )
        # Every queue's events, dialer campaign or not, as typed events for the live state.
        queue_events = QueueEvents(
            self.bus,
            self.clock,
            agent_namer(d.agent_channel_template),
            self.dialer.tracker.call_of,
            self.ami.field_errors,
        )
        self.ami.on_any(queue_events.on_event)
        # What the PBX has up, asked at each (re)connect: the dialer follows its campaign calls
        # again first, so the snapshot names them by their attempts (their lead on the agent's
        # screen), then the live state knows every call in progress after a restart or an AMI
        # outage.
        snapshot = PbxSnapshot(self.ami, self.bus, queue_events, self.clock, self.ami.field_errors)
        self.ami.on_connected(
            lambda _client: Deferred.fromCoroutine(reconnected(dialer, snapshot)).addErrback(
                lambda f: log.warning("PBX snapshot: %s", f.getErrorMessage())
            )
        )
        if self.metrics is not None:
            metrics = self.metrics
            watch_ami(self.ami, metrics)
            self.dialer.on_state = lambda dialer: report_dialer(metrics, dialer)
        self.dialer.start()

        self.ami.start().addErrback(
            lambda f: log.error("AMI login to %s:%s failed: %s", a.host, config.port, f.value)
        )

    async def start(
        self,
        fastagi_listen: str | None = None,
        metrics_listen: str | None = None,
        web_listen: str | None = None,
    ) -> None:
        # RECORD FILE does not create folders: Asterisk writes into these (its monitor directory).
        s = self.app.settings
        for folder in (*(s.recordings_dir / f for f in FOLDERS), s.spool_path.parent):
            require_writable(folder)
        self.pool.start()
        self.recording_pool.start()
        self._pool_trigger = self.reactor.addSystemEventTrigger(
            "during", "shutdown", self._stop_pools
        )
        self._stopping_trigger = self.reactor.addSystemEventTrigger(
            "before", "shutdown", setattr, self.desk, "stopping", True
        )
        listen = fastagi_listen or self.app.settings.fastagi.listen
        port = await listen_fastagi(self.reactor, listen, self.fastagi)
        self.ports.append(port)
        log.info("FastAGI listening on %s", address_text(port.getHost()))
        self._catch_up.start(self.app.settings.instance.heartbeat_seconds, now=True)
        self._recordings.start(s.recordings.index_seconds, now=False)
        self.webhooks.start(self.app.settings.webhooks.poll_seconds)
        self.webhook_pruner.start()
        self.live.start()
        if self.relay is not None:
            self.relay.start()
        if self.metrics is not None:
            self.attached_metrics = await attach_metrics(self, self.metrics, metrics_listen)
        if web_listen:  # `hotline serve` passes web.listen; empty or None: no HTTP API
            await self._start_web(web_listen)

    async def _start_web(self, listen: str) -> None:
        from hotline.web.bounded import Bounded
        from hotline.web.reader import ReaderPool
        from hotline.web.server import listen_web, log_started
        from hotline.web.site import web_api

        web = self.app.settings.web
        self.web_pool.start()
        read = Bounded(partial(deferToThreadPool, self.reactor, self.web_pool), web.queue)
        processes = web.reader_processes(self.app.db.url)
        if processes:
            self.readers = ReaderPool(self.reactor, self.app.settings, processes)
            self.readers.start()
            # Shut down with the service: their stdin closed, their last answers sent.
            self._readers_trigger = self.reactor.addSystemEventTrigger(
                "before", "shutdown", self._stop_readers
            )
        api = web_api(
            self.app,
            self.run_blocking,
            self.clock,
            self.live,
            self.bus,
            self.agent_actions,
            read,
            None if self.readers is None else self.readers.read,
        )
        self.web_port = await listen_web(self.reactor, listen, api.resource())
        self.ports.append(self.web_port)
        log_started(self.web_port)

    def agent_actions(self) -> AgentActions | None:
        """The console's PBX actions, through the dialer's AMI client while it is logged in."""
        if self.ami is None or not self.ami.connected:
            return None
        return AgentActions(self.ami, self.app.settings.dialer.agent_channel_template)

    async def stop(self) -> None:
        for loop in (self._catch_up, self._recordings):
            if loop.running:
                loop.stop()
        self.webhooks.stop()
        self.webhook_pruner.stop()
        self.live.stop()
        if self.relay is not None:
            self.relay.stop()
        if self.attached_metrics is not None:
            self.attached_metrics.stop()
        if self.dialer is not None:
            self.dialer.stop()
        if self.ami is not None:
            await self.ami.stop()
        for port in self.ports:
            await stop_listening(port)
        self.ports.clear()
        self.reactor.removeSystemEventTrigger(self._pool_trigger)
        self.reactor.removeSystemEventTrigger(self._stopping_trigger)
        if self.readers is not None:
            self.reactor.removeSystemEventTrigger(self._readers_trigger)
            await self._stop_readers()
        self._stop_pools()

    def _stop_readers(self) -> Deferred[None]:
        assert self.readers is not None
        return Deferred.fromCoroutine(self.readers.stop())

    def _stop_pools(self) -> None:
        self.pool.stop()
        self.recording_pool.stop()
        self.web_pool.stop()


async def reconnected(dialer: Dialer, snapshot: PbxSnapshot) -> None:
    """At each AMI (re)connect: the dialer's reconcile, then the PBX snapshot."""
    try:
        await dialer.reconcile()
    except Exception:
        # The snapshot still goes out: the agents' screens need it, database or not.
        log.exception("dialer: reconcile failed")
    await snapshot.take()
