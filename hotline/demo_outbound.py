"""The demo's second half: a follow-up campaign (agentless survey) and an arrears campaign
(predictive, three simulated agents), dialled through the AMI simulator."""

from __future__ import annotations

import random
import zlib
from datetime import timedelta
from typing import Any, TextIO

from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater

from hotline.app import App
from hotline.core import dialplan, leads
from hotline.core.arrears import import_arrears
from hotline.core.campaigns import campaign_action, create_campaign
from hotline.core.residents import import_residents
from hotline.core.tickets import Intake, move_ticket, open_ticket
from hotline.net.tcp import bound_port
from hotline.pbxsim.ami_queues import Queue
from hotline.pbxsim.ami_residents import ResidentModel, ResidentPlan
from hotline.pbxsim.fastagi import PBXOptions, SimCaller, simulate_call
from hotline.pbxsim.pbx import SimulatedPBX, agent_queues
from hotline.service import Service

from . import demo_data
from .demo_view import LiveView, label_call

AMI_USER, AMI_SECRET = "hotline", "demo-secret"
SETTINGS = {  # the demo's dialer: the simulator's residents, any hour of the day
    "HOTLINE_AMI_USERNAME": AMI_USER,
    "HOTLINE_AMI_SECRET": AMI_SECRET,
    "HOTLINE_DIALER_CHANNEL_TEMPLATE": "Local/{number}@residents",
    "HOTLINE_DIALER_WINDOW_START": "00:00",
    "HOTLINE_DIALER_WINDOW_END": "23:59",
    "HOTLINE_DIALER_POLL_SECONDS": "0.2",
}


class DemoResidents(ResidentModel):
    """Follow-up residents always answer; building 9 answers like real people (about half)."""

    def plan(self, number: str, context: str) -> ResidentPlan | None:
        if context != "residents" or not number.isdigit():
            return None
        if number in demo_data.FOLLOWUP_ANSWERS:
            return ResidentPlan("answer", ring_s=4.0)
        rng = random.Random(zlib.crc32(number.encode()))
        outcome = rng.choices(
            ["answer", "noanswer", "busy", "reject", "unallocated"], [55, 25, 10, 5, 5]
        )[0]
        return ResidentPlan(outcome, ring_s=rng.uniform(4, 16), talk_s=rng.uniform(20, 60))


def seed(app: App) -> None:
    """Repairs done and a complaint resolved days ago (their follow-ups are due), and building
    9's arrears."""
    now = app.now()
    with app.db.session() as s:
        for unit, category, kind in (
            ("3-2-301", "plumbing", "repair"),
            ("3-1-202", "noise", "complaint"),
        ):
            at = now - timedelta(days=4)
            ticket = open_ticket(s, app.rules, Intake(kind, category, at, unit=unit))
            steps = (
                ("dispatched", "in_progress", "done")
                if kind == "repair"
                else ("escalated", "resolved")
            )
            for i, state in enumerate(steps, 1):
                move_ticket(s, app.rules, ticket.id, state, at + timedelta(hours=i), by="王师傅")
    residents, arrears = demo_data.arrears_estate_csv()
    folder = app.settings.home / "demo-data"
    (folder / "estate.csv").write_text(residents, encoding="utf-8")
    (folder / "estate-arrears.csv").write_text(arrears, encoding="utf-8")
    with app.db.session() as s:
        import_residents(s, folder / "estate.csv")
        import_arrears(s, app.rules, folder / "estate-arrears.csv", now)


def simulated_pbx(reactor: Any, service: Service, view: LiveView, speed: float) -> SimulatedPBX:
    """The demo's PBX: the inbound queues and the outbound one, the same three agents in each
    (ringing a few seconds, then talking), and the dialer's residents with their landing flows."""
    fastagi_port = bound_port(service.ports[0])
    answers = iter(demo_data.ARREARS_ANSWERS * 20)

    def landing_flow(info: dict[str, Any]) -> Deferred[Any]:
        variables = info["variables"]
        kind = variables[dialplan.CAMPAIGN_KIND]
        number = info["dial"].split("/", 1)[1].split("@", 1)[0]
        inputs = demo_data.FOLLOWUP_ANSWERS.get(number) or next(answers)
        caller = SimCaller(number, None, list(inputs))
        options = PBXOptions(time_scale=1 / speed, context=dialplan.FLOW_CONTEXT, extension="s")
        return simulate_call(
            reactor,
            "127.0.0.1",
            fastagi_port,
            caller,
            f"outbound/{kind}",
            options=options,
            variables=variables,
            observer=label_call(view, "", variables[dialplan.CALL_ID]),
        )

    # The queue reports wrap-up in its own seconds, which the dialer reads as real ones: at
    # demo speed a short wrap-up keeps the two views of the agents close.
    queues = agent_queues(
        [agent.removeprefix("PJSIP/agent") for agent in demo_data.AGENTS],
        ring_s=4.0,
        talk_s=(30.0, 90.0),
        wrapup_s=2.0,
        login_time=int(reactor.seconds()),
    )
    members = queues[-1].members  # duty: every agent
    return SimulatedPBX(
        reactor,
        fastagi_port,
        queues=[*queues, Queue(dialplan.QUEUE_OUTBOUND, list(members), strategy="ringall")],
        time_scale=1 / speed,
        users={AMI_USER: AMI_SECRET},
        residents=DemoResidents(),
        on_answered=landing_flow,
        landing_queues={dialplan.AGENT_CONTEXT: (dialplan.QUEUE_OUTBOUND, 2.0)},
    )


def leads_to_dial_now(app: App) -> int:
    """Leads being called or due now; retries hours away do not keep the demo waiting."""
    with app.db.session() as s:
        return leads.leads_to_dial_now(s, app.now())


async def run_outbound(
    reactor: Any,
    service: Service,
    app: App,
    view: LiveView,
    speed: float,
    out: TextIO,
    limit_seconds: float = 120.0,
) -> list[int]:
    seed(app)
    now = app.now()
    with app.db.session() as s:
        followup = create_campaign(s, "followup", "agentless", name="回访", at=now)
        arrears = create_campaign(s, "arrears", "predictive", name="催缴", at=now)
        for campaign in (followup, arrears):
            campaign_action(s, campaign.id, "start", now)
        ids = [followup.id, arrears.id]
    print(
        f"\n          campaigns started: follow-up #{ids[0]} (agentless survey), "
        f"arrears #{ids[1]} (predictive, {len(demo_data.AGENTS)} agents)\n",
        file=out,
    )
    dialer = service.dialer
    assert dialer is not None
    waited = 0.0
    while waited < limit_seconds:
        await deferLater(reactor, 1.0, lambda: None)
        waited += 1.0
        if waited > 3 and leads_to_dial_now(app) == 0 and not dialer.tracker.in_flight():
            break
    return ids
