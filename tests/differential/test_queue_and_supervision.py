"""The inbound queue path and the console's supervision, on the simulators and (with
``HOTLINE_TEST_ASTERISK``) on a real Asterisk, compared by what hotline reads of the AMI.

One run per PBX: `hotline serve`'s inbound flow hands two callers to the enquiries queue
(the shipped ``[hotline]`` dialplan after the AGI). The first is answered by agent 101 and,
while they talk, three supervisors listen, whisper and barge as `AgentActions.supervise` asks
(an Originate into ``[hotline-supervise]``); the second hangs up while the only free member,
109 (added at run time), rings. Then a supervisor spies on an agent with no call (ChanSpy waits
until the supervisor hangs up) and one without a phone is rung.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from ami_watch import EventLog, Match, channel_form, event, queue_view, value_form
from asterisk_pbx import AGENT_TALK_S, AMI_SECRET, AMI_USER, RealAsterisk, find_binary, free_port
from harness import PROMPT_SECONDS, ServeProcess, prepare_database, service_env, sleep
from pbxs import PrefixResidents, RealPBX
from scenario import InboundCall, Scenario
from twisted.internet.defer import Deferred

from hotline.core import dialplan as contract
from hotline.core.db import Database
from hotline.core.events import (
    AgentCallDone,
    CallConnected,
    CallOffered,
    OfferMissed,
    QueueCallerJoined,
    QueueCallerLeft,
)
from hotline.dialer.agent_actions import AgentActions, SpyMode
from hotline.dialer.ami_protocol import AMIMessage
from hotline.net.tcp import bound_port, stop_listening
from hotline.pbxsim import pbx as simulated
from hotline.pbxsim.ami_residents import AgentPlan
from hotline.pbxsim.fastagi import Keys, PBXOptions, Silence, SimCaller

from reactor_run import run_on_reactor

RESIDENTS = "unit,name,phone,phone2,lang,do_not_call\n3-1-202,Li Na,5551234,,en,no\n"
HOTLINE, CALLER = "88001234", "5551234"
QUEUE = contract.QUEUE_ENQUIRIES
TO_ENQUIRIES = (Silence(), Silence(), Keys("0"))  # greeting, "not your unit?", press 0
# dialer.agent_channel_template in this suite: agents and supervisors are Local channels into
# [test-agents], so ChanSpy's prefix is Local/101@test-agents- (asterisk_pbx.TEST_CONTEXTS).
PHONES = "Local/{agent}@test-agents"
# queues.conf's enquiries members (made Local channels), also in repairs, duty and outbound
MEMBERS: tuple[str, ...] = ("101", "102", "103")
RING_OUT_MEMBER = "109"
SPIES = (("201", SpyMode.LISTEN), ("202", SpyMode.WHISPER), ("203", SpyMode.BARGE))
IDLE_AGENT, NO_PHONE = "102", "299"
PATIENCE_S = 1.5  # the second caller's, while 109 rings
SPY_ON_NOBODY_S = 2.0  # how long the supervisor of an idle agent stays before hanging up
PAUSE_REASON = "differential"
WRAPUP_S = 10  # queues.conf [inbound] wrapuptime


def member(extension: str) -> str:
    return f"Local/{extension}@test-agents/n"


class SimulatedQueuePBX:
    """The PBX simulator: the flow over FastAGI, then the queue on the AMI side; the queues
    agent 101 is in, with the members of asterisk-conf/queues.conf made Local channels."""

    def __init__(self, reactor: Any, serve: ServeProcess) -> None:
        layout = {
            name: MEMBERS
            for name in (
                QUEUE,
                contract.QUEUE_REPAIRS,
                contract.QUEUE_DUTY,
                contract.QUEUE_OUTBOUND,
            )
        }
        queues = simulated.agent_queues(
            MEMBERS,
            ring_s=0.0,
            talk_s=(AGENT_TALK_S, AGENT_TALK_S),
            template=member("{agent}"),
            layout=layout,
            login_time=int(reactor.seconds()),  # static members log in when the PBX starts
        )
        for queue in queues:
            queue.wrapup_s = WRAPUP_S
        options = PBXOptions(
            time_scale=1.0,
            context="hotline",
            extension="s",
            language="zh",
            prompt_seconds=PROMPT_SECONDS,
        )
        self.pbx = simulated.SimulatedPBX(
            reactor,
            serve.port,
            queues=queues,
            options=options,
            users={AMI_USER: AMI_SECRET},
            residents=PrefixResidents(),
            agents={member(RING_OUT_MEMBER): AgentPlan(answer=False)},
        )
        self.listening = self.pbx.listen_ami()
        self.ami_port = bound_port(self.listening)

    async def start(self) -> None:
        pass

    async def inbound(self, call: InboundCall) -> str | None:
        result = await self.pbx.call(
            SimCaller(call.caller, None, list(call.inputs)),
            args=[call.dialled],
            patience_s=call.patience_s,
        )
        return result.queue

    async def close(self) -> None:
        await stop_listening(self.listening)


PBXFactory = Callable[[Any, ServeProcess], Any]
Response = tuple[str, str, str]  # action, Response, Message
Run = tuple[list[AMIMessage], list[Response]]  # what a PBX sent and replied
T = TypeVar("T")
Play = Callable[[Any, Any, EventLog], Awaitable[T]]  # reactor, PBX, its AMI events


def first_half(phone: str) -> Match:
    """The Newchannel of the ;1 of a supervisor's Local pair, whatever its sequence number."""
    pattern = re.compile(re.escape(phone) + r"-[0-9a-f]{8};1")
    return lambda e: e.name == "Newchannel" and pattern.fullmatch(e.get("Channel", "")) is not None


async def scenario(reactor: Any, pbx: Any, log: EventLog) -> list[Response]:
    """The steps, the same on each PBX; returns the responses to the actions that are not
    the supervisors' Originates (AgentActions raises on an error there): (action, Response,
    Message)."""
    ami, actions = log.client, AgentActions(log.client, PHONES)
    responses: list[Response] = []

    async def send(action: str, *headers: tuple[str, str], then: Match | None = None) -> None:
        heard = log.next(then) if then else None
        reply = await ami.send_action(action, list(headers), raise_on_error=False)
        responses.append((action, reply.get("Response", ""), reply.get("Message", "")))
        if heard is not None:
            await heard

    async def pause(extension: str, paused: bool) -> None:
        reason = [("Reason", PAUSE_REASON)] if paused else []
        headers = [("Queue", QUEUE), ("Interface", member(extension))]
        then = event("QueueMemberPause", Interface=member(extension))
        await send("QueuePause", *headers, ("Paused", str(paused).lower()), *reason, then=then)

    async def supervise(supervisor: str, agent: str, mode: SpyMode) -> AMIMessage:
        answered = log.next(event("OriginateResponse", Exten=str(mode), CallerIDNum=agent))
        await actions.supervise(supervisor, agent, mode)
        return await answered

    async def hung_up(one: str) -> None:
        """Both halves of the pair whose ;1 is `one` have hung up."""
        for half in (one, one[:-1] + "2"):
            await log.first(event("Hangup", Channel=half))

    # 1. Agent 101 alone takes the first caller, and three supervisors spy on the call.
    for extension in MEMBERS[1:]:
        await pause(extension, True)
    answered_by_101 = InboundCall(HOTLINE, CALLER, TO_ENQUIRIES, patience_s=None)
    first = Deferred.fromCoroutine(pbx.inbound(answered_by_101))
    await log.first(event("AgentConnect", Queue=QUEUE))
    spies = [(await supervise(s, "101", mode)).get("Channel", "") for s, mode in SPIES]
    await first
    for spy in spies:
        await hung_up(spy)  # ChanSpy's E: the spy ends with the agent's call

    # 2. Only 109, who never answers, is free: the second caller gives up while it rings.
    await pause(MEMBERS[0], True)
    added = [("Queue", QUEUE), ("Interface", member(RING_OUT_MEMBER))]
    await send(
        "QueueAdd",
        *added,
        ("MemberName", f"Agent {RING_OUT_MEMBER}"),
        then=event("QueueMemberAdded", Interface=member(RING_OUT_MEMBER)),
    )
    await send("QueueAdd", *added)  # already there
    await pbx.inbound(InboundCall(HOTLINE, CALLER, TO_ENQUIRIES, patience_s=PATIENCE_S))
    removed = event("QueueMemberRemoved", Interface=member(RING_OUT_MEMBER))
    await send("QueueRemove", *added, then=removed)
    await send("QueueRemove", *added)  # not there any more

    # 3. A supervisor spies on an agent with no call: ChanSpy waits until they hang up.
    spy = (await supervise("201", IDLE_AGENT, SpyMode.LISTEN)).get("Channel", "")
    await sleep(reactor, SPY_ON_NOBODY_S)
    await send("Hangup", ("Channel", spy))
    await hung_up(spy)
    await send("Hangup", ("Channel", spy))  # gone

    # 4. A supervisor without a phone: the Originate fails.
    await supervise(NO_PHONE, "101", SpyMode.LISTEN)
    await hung_up((await log.first(first_half(PHONES.format(agent=NO_PHONE)))).get("Channel", ""))
    for extension in MEMBERS:
        await pause(extension, False)
    return responses


def served_run(folder: Path, name: str, make_pbx: PBXFactory, play: Play[T], timeout: float) -> T:
    """`play` against a PBX and a real `hotline serve` on the queue scenario's database, the
    AMI events written to the folder for whoever reads a failure."""
    folder.mkdir(parents=True)
    db = Database(f"sqlite:///{folder / 'hotline.db'}")
    prepare_database(db, Scenario(name, RESIDENTS), folder)
    fastagi = free_port()

    async def body(reactor: Any) -> T:
        serve = ServeProcess({}, fastagi, folder / "serve.log")
        pbx = make_pbx(reactor, serve)
        await pbx.start()
        serve.env = service_env(folder / "home", db.url, fastagi, pbx.ami_port)
        serve.start()
        log = EventLog(reactor, pbx.ami_port)
        await log.start()
        try:
            return await play(reactor, pbx, log)
        finally:
            log.write(folder / "ami-events.txt")
            await log.stop()
            serve.stop()
            await pbx.close()

    return run_on_reactor(body, timeout=timeout)


def run(folder: Path, make_pbx: PBXFactory) -> Run:
    async def play(reactor: Any, pbx: Any, log: EventLog) -> Run:
        return log.events, await scenario(reactor, pbx, log)

    return served_run(folder, "queue-and-supervision", make_pbx, play, timeout=240)


ORIGINATE_FIELDS = ("Response", "Context", "Exten", "Reason", "Uniqueid", "CallerIDNum")


def supervision_view(events: list[AMIMessage]) -> dict[str, Any]:
    """Per supervisor's phone: its OriginateResponses, its channels' lives, what it spied on."""
    view: dict[str, Any] = {}
    for supervisor in sorted({s for s, _ in SPIES} | {NO_PHONE}):
        phone = PHONES.format(agent=supervisor)
        mine = [e for e in events if e.get("Channel", "").startswith(phone)]
        view[supervisor] = {
            "originate": [
                {
                    "Channel": channel_form(e.get("Channel", "")),
                    **{k: value_form(e.get(k)) for k in ORIGINATE_FIELDS},
                }
                for e in mine
                if e.name == "OriginateResponse"
            ],
            "channels": sorted(
                (e.name, channel_form(e.get("Channel", "")), e.get("Cause", ""))
                for e in mine
                if e.name in ("Newchannel", "Hangup")
            ),
            "spied on": [
                (e.name, channel_form(e.get("SpyeeChannel", "")))
                for e in events
                if e.get("SpyerChannel", "").startswith(f"{phone}-")
            ],
        }
    return view


CALL_EVENTS = frozenset(
    e.__name__
    for e in (
        QueueCallerJoined,
        QueueCallerLeft,
        CallOffered,
        OfferMissed,
        CallConnected,
        AgentCallDone,
    )
)


@dataclass
class QueueView:
    """What hotline's QueueEvents made of a run: the callers' and offers' events in order,
    each member's states in order per queue (app_queue tells a device's change to its queues
    in its own order, and apart from the call's events), and the seconds waited and talked."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    members: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    seconds: list[int] = field(default_factory=list)
    unreadable: int = 0


def queue_views(events: list[AMIMessage]) -> QueueView:
    rows, unreadable = queue_view(events, PHONES)
    view = QueueView(unreadable=unreadable)
    for row in rows:
        view.seconds += [row.pop(k) for k in ("hold_seconds", "talk_seconds") if k in row]
        if row["type"] in CALL_EVENTS:
            view.calls.append(row)
        else:
            view.members.setdefault(f"{row['queue']} {row['agent']}", []).append(row)
    return view


_runs: dict[str, Run] = {}


def on(name: str, tmp: pytest.TempPathFactory, make_pbx: PBXFactory) -> Run:
    if name not in _runs:
        _runs[name] = run(tmp.mktemp("queue-and-supervision") / name, make_pbx)
    return _runs[name]


def on_the_simulators(tmp: pytest.TempPathFactory) -> Run:
    return on("simulator", tmp, SimulatedQueuePBX)


# What each run must show (Asterisk 22.10.1 did; the simulator must, the real run equal it).
RESPONSES = [
    *[("QueuePause", "Success", "Interface paused successfully")] * 3,
    ("QueueAdd", "Success", "Added interface to queue"),
    ("QueueAdd", "Error", "Unable to add interface: Already there"),
    ("QueueRemove", "Success", "Removed interface from queue"),
    ("QueueRemove", "Error", "Unable to remove interface: Not there"),
    ("Hangup", "Success", "Channel Hungup"),
    ("Hangup", "Error", "No such channel"),
    *[("QueuePause", "Success", "Interface unpaused successfully")] * 3,
]
CALLS = [  # (event, call, agent or abandoned)
    ("QueueCallerJoined", "call-1", None),
    ("CallOffered", "call-1", "101"),
    ("QueueCallerLeft", "call-1", False),
    ("CallConnected", "call-1", "101"),
    ("AgentCallDone", "call-1", "101"),
    ("QueueCallerJoined", "call-2", None),
    ("CallOffered", "call-2", "109"),
    ("QueueCallerLeft", "call-2", True),  # QueueCallerAbandon
    ("QueueCallerLeft", "call-2", False),  # then QueueCallerLeave
]
BUSY_THEN_FREE = [("busy", False, None), ("free", False, None)]
PAUSED = ("free", True, PAUSE_REASON)
MEMBER_STATES = {  # (device, paused, reason); None: removed
    f"{QUEUE} 101": [*BUSY_THEN_FREE, PAUSED, ("free", False, None)],
    f"{QUEUE} 102": [PAUSED, ("free", False, None)],
    f"{QUEUE} 103": [PAUSED, ("free", False, None)],
    f"{QUEUE} 109": [("free", False, None), *BUSY_THEN_FREE, None],
    **{
        f"{q} 101": BUSY_THEN_FREE
        for q in (contract.QUEUE_OUTBOUND, contract.QUEUE_REPAIRS, contract.QUEUE_DUTY)
    },
}


def test_on_the_simulators(tmp_path_factory: pytest.TempPathFactory) -> None:
    events, responses = on_the_simulators(tmp_path_factory)
    assert responses == RESPONSES
    queues = queue_views(events)
    assert [
        (r["type"], r["call_id"], r.get("agent", r.get("abandoned"))) for r in queues.calls
    ] == CALLS
    assert {r["caller"] for r in queues.calls if "caller" in r} == {CALLER}
    states = {
        key: [
            (r["device"], r["paused"], r["paused_reason"]) if "device" in r else None for r in rows
        ]
        for key, rows in queues.members.items()
    }
    assert states == MEMBER_STATES
    # Asterisk reports a member's own wrapuptime, 0 with the shipped queues.conf, which sets the
    # queue's: hotline takes that one from the contract
    wrapups = {
        (r["queue"], r["wrapup_seconds"])
        for rows in queues.members.values()
        for r in rows
        if "device" in r
    }
    assert wrapups and all(s == contract.WRAPUP_SECONDS[q] for q, s in wrapups), wrapups
    hold, talk = queues.seconds[:2]
    assert hold <= 1 and abs(talk - AGENT_TALK_S) <= 1.5, queues.seconds
    assert queues.unreadable == 0
    spies = supervision_view(events)
    agents_call = f"{PHONES.format(agent='101')}-<n>;1"
    for supervisor, mode in SPIES:
        answer = spies[supervisor]["originate"][0]
        assert (answer["Response"], answer["Exten"], answer["Reason"]) == ("Success", mode, "4")
        assert spies[supervisor]["spied on"] == [
            ("ChanSpyStart", agents_call),
            ("ChanSpyStop", agents_call),
        ]
    # 201 spies again, on the idle agent: it waits until hung up (cause 0, ChanSpy's end: 16)
    causes = sorted(c for n, _, c in spies["201"]["channels"] if n == "Hangup")
    assert causes == ["0", "0", "16", "16"]
    (failed,) = spies[NO_PHONE]["originate"]
    assert (failed["Response"], failed["Reason"], failed["Channel"]) == (
        "Failure",
        "0",
        PHONES.format(agent=NO_PHONE),
    )


def test_a_real_asterisk_says_the_same(
    tmp_path_factory: pytest.TempPathFactory, real_asterisk: RealAsterisk | None
) -> None:
    """Hotline reads the same from both: each queue event's fields and their value forms, the
    supervisors' Originate outcomes and their channels' lives, the actions' replies."""
    if real_asterisk is None:
        pytest.skip(f"real Asterisk half: {find_binary()[1]}")
    simulated_events, simulated_responses = on_the_simulators(tmp_path_factory)
    scenario_ = Scenario("queue-and-supervision", RESIDENTS)
    events, responses = on(
        "asterisk", tmp_path_factory, lambda r, s: RealPBX(r, s, scenario_, real_asterisk)
    )
    assert responses == simulated_responses
    real, simulated = queue_views(events), queue_views(simulated_events)
    assert real.calls == simulated.calls
    assert real.members == simulated.members
    assert real.unreadable == simulated.unreadable == 0
    assert len(real.seconds) == len(simulated.seconds)
    assert all(abs(a - b) <= 1 for a, b in zip(real.seconds, simulated.seconds, strict=True))
    assert supervision_view(events) == supervision_view(simulated_events)
