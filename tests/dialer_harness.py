"""The live dialer end to end: the service (FastAGI, dialer), the AMI simulator, the PBX
simulator for answered calls' flows, and the real database.

The simulators' time is the reactor's, scaled (SCALE), since the service's sockets and thread
pool need a real reactor; so nothing here waits a fixed time or polls: a test waits for what it
means (`Live.when` a simulator state, `Live.event` on the bus, `Live.ticks` of the dialer), and
a run ends once the dialer has settled (`Live.settled`), checked after each stored outcome."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IAddress, IListeningPort
from twisted.internet.protocol import ServerFactory

from hotline.app import App
from hotline.core import dialplan as contract
from hotline.core.events import AgentMissed, AttemptFinished, Event
from hotline.core.models import Lead
from hotline.core.vocabulary import LeadState
from hotline.net.tcp import bound_port, connected, stop_listening
from hotline.pbxsim.ami import AMISimulator
from hotline.pbxsim.ami_pbx import OriginateRequest
from hotline.pbxsim.ami_queues import Queue, QueueMember
from hotline.pbxsim.ami_residents import AgentPlan, ResidentModel, ResidentPlan
from hotline.pbxsim.ami_session import AMISession
from hotline.pbxsim.fastagi import Input, PBXOptions, SimCaller, simulate_call
from hotline.service import Service

from flow_harness import make_app
from reactor_run import run_on_reactor

SCALE = 0.02  # simulated seconds per real second
DIALER_ENV = {
    "HOTLINE_AMI_USERNAME": "hotline",
    "HOTLINE_AMI_SECRET": "test-secret",
    "HOTLINE_DIALER_CHANNEL_TEMPLATE": "Local/{number}@residents",
    "HOTLINE_DIALER_WINDOW_START": "00:00",
    "HOTLINE_DIALER_WINDOW_END": "23:59",
    "HOTLINE_DIALER_POLL_SECONDS": "0.05",
}


def dialer_app(home: Path, db_url: str) -> App:
    return make_app(home, db_url, **DIALER_ENV)


class Residents(ResidentModel):
    """Each number's plan by name; unknown numbers do not exist."""

    def __init__(self, plans: dict[str, ResidentPlan]) -> None:
        self.plans = plans

    def plan(self, number: str, context: str) -> ResidentPlan | None:
        return self.plans.get(number)


Waiting = list[tuple[Callable[[], bool], Deferred[None]]]


class AMIGate(ServerFactory[AMISession]):
    """The simulator's AMI listener, refusing connections while `down`."""

    def __init__(self, sim: AMISimulator) -> None:
        self.protocol = lambda: AMISession(sim)
        self.down = False

    def buildProtocol(self, addr: IAddress | None) -> AMISession | None:
        return None if self.down else super().buildProtocol(addr)  # None: refused


class Live:
    """The running service and simulators, as a test's `during` sees them: Deferreds that fire
    on their events, and the AMI link to cut and restore."""

    def __init__(
        self,
        reactor: Any,
        sim: AMISimulator,
        service: Service,
        gate: AMIGate,
        ami_port: IListeningPort,
        hear: Callable[[Event], None],
    ) -> None:
        self.reactor, self.sim, self.gate, self.hear = reactor, sim, gate, hear
        self.ami_port = ami_port
        self.tick_count = 0
        self._on_sim: Waiting = []
        self._on_outcome: Waiting = []
        self._on_tick: Waiting = []
        publish = sim.publish

        def publishing(event: str, privilege: str, headers: Any) -> None:
            publish(event, privilege, headers)
            self._check_later(self._on_sim)

        # a stand-in on this one simulator, telling the waits that its state may have moved
        sim.publish = publishing  # type: ignore[method-assign]
        self._attach(service)

    def _attach(self, service: Service) -> None:
        assert service.dialer is not None
        self.service, self.dialer = service, service.dialer
        service.bus.subscribe(self.hear, (Event,))
        # Published once the outcome is stored (dialer._report), before it leaves the queue.
        stored = (AttemptFinished, AgentMissed)
        service.bus.subscribe(lambda _: self._check_later(self._on_outcome), stored)
        reported = self.dialer.on_state

        def ticked(dialer: Any) -> None:
            if reported is not None:
                reported(dialer)
            self.tick_count += 1
            self._check_later(self._on_tick)

        self.dialer.on_state = ticked

    def _check_later(self, waiting: Waiting) -> None:
        # On the next turn: the event's publisher has finished its work by then.
        if waiting:
            self.reactor.callLater(0, self._check, waiting)

    @staticmethod
    def _check(waiting: Waiting) -> None:
        for item in list(waiting):
            condition, d = item
            if condition():
                waiting.remove(item)
                d.callback(None)

    def _wait(self, waiting: Waiting, condition: Callable[[], bool]) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        waiting.append((condition, d))
        self._check(waiting)
        return d

    def when(self, condition: Callable[[], bool]) -> Deferred[None]:
        """Fires once `condition()` holds, checked now and after each event the AMI simulator
        sends."""
        return self._wait(self._on_sim, condition)

    def event(self, kind: type[Event]) -> Deferred[Event]:
        """The next event of `kind` on the service's bus."""
        d: Deferred[Event] = Deferred()

        def heard(event: Event) -> None:
            if not d.called:
                unsubscribe()
                d.callback(event)

        unsubscribe = self.service.bus.subscribe(heard, (kind,))
        return d

    def ticks(self, n: int) -> Deferred[None]:
        """Fires after `n` more of the dialer's ticks (its decisions, whatever the load)."""
        target = self.tick_count + n
        return self._wait(self._on_tick, lambda: self.tick_count >= target)

    def settled(self, done: Callable[[], bool]) -> Deferred[None]:
        """Fires once the dialer has ticked (made its campaigns' leads) and `done()` holds with
        no call in flight and no outcome left to store: checked now and after each outcome the
        dialer stores."""
        dialer = self.dialer
        idle = lambda: not dialer.tracker.in_flight() and not dialer._unrecorded  # noqa: E731
        return self._wait(self._on_outcome, lambda: self.tick_count > 0 and idle() and done())

    def drop_link(self) -> None:
        """Asterisk's AMI goes away: every connection is cut, new ones refused until
        `restore_link`; calls at the PBX go on."""
        self.gate.down = True
        for session in list(self.sim.sessions):
            connected(session).loseConnection()

    def restore_link(self) -> None:
        self.gate.down = False

    async def restart(self, while_down: Callable[[], Awaitable[None]]) -> None:
        """The service stops (its calls at the PBX go on), `while_down` runs, and a new service
        starts on the same database and PBX: its dialer follows nothing yet."""
        await self.service.stop()
        await while_down()
        service = Service(self.service.app, self.reactor)
        await service.start("127.0.0.1:0")
        service.start_dialer(ami_port=bound_port(self.ami_port))
        self._attach(service)


@dataclass
class Run:
    dialled: list[str] = field(default_factory=list)  # every Originate's number, in order
    flows: list[str] = field(default_factory=list)  # answered calls' flow routes
    events: list[Event] = field(default_factory=list)


def open_leads(app: App) -> int:
    with app.db.session() as s:
        states = (LeadState.READY, LeadState.CALLING)
        leads = s.scalars(select(Lead).where(Lead.state.in_(states))).all()
        now = app.now()
        return sum(
            1 for lead in leads if lead.next_attempt_at is None or lead.next_attempt_at <= now
        )


def run_dialer(
    app: App,
    plans: dict[str, ResidentPlan],
    answers: dict[str, list[Input]],
    start_campaigns: Callable[[App], None],
    *,
    agents: int = 0,
    during: Callable[[Live], Awaitable[None]] | None = None,
    limit: float = 30.0,
    preview_agents: dict[str, AgentPlan] | None = None,
    done: Callable[[App], bool] = lambda app: open_leads(app) == 0,
    away_agents: int = 0,
    mixmonitor: bool = False,
    talk_s: tuple[float, float] = (20.0, 40.0),
) -> Run:
    """Run the service's dialer, and `during` alongside, until `done` (default: no lead is
    due) and no call is up; failing if that takes over `limit` s. `away_agents` of the `agents`
    never answer their phone, the others talk `talk_s` (simulated seconds); `mixmonitor`: queued
    calls leave the files MixMonitor would."""
    run = Run()

    async def body(reactor: Any) -> None:
        service = Service(app, reactor)
        await service.start("127.0.0.1:0")

        def landing(info: dict[str, Any]) -> Deferred[Any]:
            kind = info["variables"][contract.CAMPAIGN_KIND]
            number = info["dial"].split("/", 1)[1].split("@", 1)[0]
            run.flows.append(f"outbound/{kind}")
            caller = SimCaller(number, None, list(answers.get(number, [])))
            options = PBXOptions(time_scale=SCALE, context=contract.FLOW_CONTEXT, extension="s")
            return simulate_call(
                reactor,
                "127.0.0.1",
                bound_port(live.service.ports[0]),  # the service of the moment (`Live.restart`)
                caller,
                f"outbound/{kind}",
                options=options,
                variables=info["variables"],
            )

        members = [
            QueueMember(
                f"agent{n}",
                f"PJSIP/agent{n}",
                talk_s=talk_s,
                wrapup_s=0.0,
                answers=n >= 101 + away_agents,
            )
            for n in range(101, 101 + agents)
        ]
        sim = AMISimulator(
            reactor,
            users={"hotline": "test-secret"},
            residents=Residents(plans),
            time_scale=SCALE,
            on_answered=landing,
            queues=[Queue(contract.QUEUE_OUTBOUND, members)],
            landing_queues={contract.AGENT_CONTEXT: (contract.QUEUE_OUTBOUND, 2.0)},
            agents=preview_agents,
            mixmonitor=mixmonitor,
        )
        originate = sim.originate

        def counting(req: OriginateRequest, respond: Callable[[bool], None]) -> None:
            run.dialled.append(req.dial.split("/", 1)[1].split("@", 1)[0])
            originate(req, respond)

        # a stand-in on this one simulator, counting what it is asked
        sim.originate = counting  # type: ignore[method-assign]
        gate = AMIGate(sim)
        ami_port = reactor.listenTCP(0, gate, interface="127.0.0.1")
        service.start_dialer(ami_port=bound_port(ami_port))
        live = Live(reactor, sim, service, gate, ami_port, run.events.append)
        start_campaigns(app)
        try:
            if during is not None:
                await during(live)
            await live.settled(lambda: done(app)).addTimeout(limit, reactor)
        finally:
            await live.service.stop()
            await stop_listening(ami_port)

    run_on_reactor(body, timeout=limit + 30)
    return run
