"""The live dialer end to end: the service (FastAGI, dialer), the AMI simulator, the PBX
simulator for answered calls' flows, and the real database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater

from hotline.app import App
from hotline.core import dialplan as contract
from hotline.core.events import Event
from hotline.core.models import Lead
from hotline.core.vocabulary import LeadState
from hotline.net.tcp import bound_port, stop_listening
from hotline.pbxsim.ami import AMISimulator
from hotline.pbxsim.ami_pbx import OriginateRequest
from hotline.pbxsim.ami_queues import Queue, QueueMember
from hotline.pbxsim.ami_residents import AgentPlan, ResidentModel, ResidentPlan
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
    during: Callable[[Any, AMISimulator, Service], Awaitable[None]] | None = None,
    limit: float = 30.0,
    preview_agents: dict[str, AgentPlan] | None = None,
    done: Callable[[App], bool] = lambda app: open_leads(app) == 0,
    away_agents: int = 0,
    mixmonitor: bool = False,
) -> Run:
    """Run the service's dialer until `done` (default: no lead is due) and no call is up
    (or `limit` s). `away_agents` of the `agents` never answer their phone; `mixmonitor`:
    queued calls leave the files MixMonitor would."""
    run = Run()

    async def body(reactor: Any) -> None:
        service = Service(app, reactor)
        service.bus.subscribe(run.events.append, (Event,))
        await service.start("127.0.0.1:0")
        fastagi = bound_port(service.ports[0])

        def landing(info: dict[str, Any]) -> Deferred[Any]:
            kind = info["variables"][contract.CAMPAIGN_KIND]
            number = info["dial"].split("/", 1)[1].split("@", 1)[0]
            run.flows.append(f"outbound/{kind}")
            caller = SimCaller(number, None, list(answers.get(number, [])))
            options = PBXOptions(time_scale=SCALE, context=contract.FLOW_CONTEXT, extension="s")
            return simulate_call(
                reactor,
                "127.0.0.1",
                fastagi,
                caller,
                f"outbound/{kind}",
                options=options,
                variables=info["variables"],
            )

        members = [
            QueueMember(
                f"agent{n}",
                f"PJSIP/agent{n}",
                talk_s=(20.0, 40.0),
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
        ami_port = sim.listen(reactor, 0)
        service.start_dialer(ami_port=bound_port(ami_port))
        assert service.dialer is not None
        start_campaigns(app)
        try:
            if during is not None:
                await during(reactor, sim, service)
            waited = 0.0
            while waited < limit:
                await deferLater(reactor, 0.2, lambda: None)
                waited += 0.2
                idle = not service.dialer.tracker.in_flight() and not service.dialer._unrecorded
                if waited > 1.0 and idle and done(app):
                    break
        finally:
            await service.stop()
            await stop_listening(ami_port)

    run_on_reactor(body, timeout=limit + 30)
    return run
