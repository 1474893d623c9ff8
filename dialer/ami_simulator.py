"""Asterisk's side of AMI, simulated: a Twisted server speaking the bytes of Asterisk 22.

It reproduces the golden transcripts (``shared/asterisk-golden/ami-*``): login and its
security events, the simple actions, Originate through ``Local/`` channels with the
full event sequence per outcome, event masks and legacy regex filters, and a queue with
agents.  Who answers is decided by a :class:`ResidentModel`; calls live in the
:class:`AMISimulator`, not in a session, so they outlive an AMI connection.

All timing goes through ``clock.callLater`` scaled by ``time_scale`` (0 = as fast as the
reactor turns), so tests can drive it with ``twisted.internet.task.Clock``.
"""

from __future__ import annotations

import itertools
import random
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from twisted.internet import defer
from twisted.internet.interfaces import IListeningPort, IReactorTCP, IReactorTime
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python.failure import Failure

from hotline.dialer.ami_protocol import AMIMessage, AMIParser, AMIProtocolError, format_message

Header = tuple[str, str]

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
AMI_VERSION = "11.0.0"
ASTERISK_VERSION = "22.10.1"
UNKNOWN = "<unknown>"
STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}
CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    19: "User alerting, no answer",
    21: "Call Rejected",
}
# OriginateResponse Reason values (Asterisk's AST_CONTROL_* of the outgoing leg).
REASON_FAILED, REASON_HANGUP, REASON_NO_ANSWER, REASON_ANSWERED, REASON_BUSY = 0, 1, 3, 4, 5
CALLING_PRES = "0 (Presentation Allowed, Not Screened)"
BEEP_S = 0.9  # how long Playback(beep) takes in the golden capture
BAD_FILTER = "Filter did not compile.  Check the syntax of the filter given."


# --------------------------------------------------------------------------- residents
@dataclass(frozen=True)
class ResidentPlan:
    """What the called resident does.

    ``outcome``: ``answer``, ``noanswer`` (rings until the Originate timeout), ``busy``,
    ``reject`` (hangs up unanswered, cause 21), ``unallocated`` (cause 1) or ``queue``
    (answers and waits in ``queue`` for an agent, like ``[queue-test]``).
    An answering resident rings ``ring_s``, then presses ``digits`` after ``think_s``
    and hangs up ``talk_s`` later - the shape of ``[resident-sim]`` in the golden dialplan.
    """

    outcome: str
    ring_s: float = 0.0
    think_s: float = 1.0
    digits: str = "1"
    talk_s: float = 2.0
    queue: str = ""  # outcome ``queue``: answer and wait in this queue for an agent
    queue_timeout_s: float = 30.0


class ResidentModel:
    """Decides per dialled ``Local/number@context`` what happens; ``None`` means the
    extension does not exist (the Originate fails with Reason 0)."""

    def plan(self, number: str, context: str) -> ResidentPlan | None:
        raise NotImplementedError


class ScriptedResidents(ResidentModel):
    """The contexts of the golden dialplan (``resident-sim``, ``sim-noanswer`` ...)."""

    CONTEXTS = {  # noqa: RUF012 - read-only table
        "resident-sim": ResidentPlan("answer"),
        "sim-noanswer": ResidentPlan("noanswer"),
        "sim-busy": ResidentPlan("busy"),
        "sim-reject": ResidentPlan("reject"),
        "sim-unallocated": ResidentPlan("unallocated"),
        "queue-test": ResidentPlan("queue", queue="support"),
    }

    def plan(self, number: str, context: str) -> ResidentPlan | None:
        if not number.isdigit():
            return None
        return self.CONTEXTS.get(context)


@dataclass
class RandomResidents(ResidentModel):
    """Residents drawn at random per call (for demos and benches); ``context`` restricts
    which dialled context is ours, other contexts fall back to :class:`ScriptedResidents`."""

    context: str = "residents"
    answer_p: float = 0.6
    busy_p: float = 0.1
    reject_p: float = 0.05
    unallocated_p: float = 0.05
    ring_s: tuple[float, float] = (1.0, 12.0)
    talk_s: tuple[float, float] = (3.0, 30.0)
    digits: str = "123"
    rng: random.Random = field(default_factory=random.Random)

    def plan(self, number: str, context: str) -> ResidentPlan | None:
        if context != self.context:
            return ScriptedResidents().plan(number, context)
        if not number.isdigit():
            return None
        draw = self.rng.random()
        for candidate, p in (
            ("answer", self.answer_p),
            ("busy", self.busy_p),
            ("reject", self.reject_p),
            ("unallocated", self.unallocated_p),
        ):
            if draw < p:
                outcome = candidate
                break
            draw -= p
        else:
            outcome = "noanswer"
        return ResidentPlan(
            outcome,
            ring_s=self.rng.uniform(*self.ring_s),
            think_s=1.0,
            digits=self.rng.choice(self.digits),
            talk_s=self.rng.uniform(*self.talk_s),
        )


# --------------------------------------------------------------------------- channels
@dataclass
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    state: int = 0
    priority: int = 1
    cid_num: str = UNKNOWN
    cid_name: str = UNKNOWN
    connected_num: str = UNKNOWN
    connected_name: str = UNKNOWN
    application: str = ""
    app_data: str = ""
    created: float = 0.0
    answered: float | None = None
    variables: dict[str, str] = field(default_factory=dict)

    def block(self, prefix: str = "", *, name_key: str = "Channel") -> list[Header]:
        """The channel snapshot every channel event carries (``Dest``/``LocalOne``...)."""
        return [
            (prefix + name_key, self.name),
            (prefix + "ChannelState", str(self.state)),
            (prefix + "ChannelStateDesc", STATE_DESC[self.state]),
            (prefix + "CallerIDNum", self.cid_num),
            (prefix + "CallerIDName", self.cid_name),
            (prefix + "ConnectedLineNum", self.connected_num),
            (prefix + "ConnectedLineName", self.connected_name),
            (prefix + "Language", "en"),
            (prefix + "AccountCode", ""),
            (prefix + "Context", self.context),
            (prefix + "Exten", self.exten),
            (prefix + "Priority", str(self.priority)),
            (prefix + "Uniqueid", self.uniqueid),
            (prefix + "Linkedid", self.linkedid),
        ]


def parse_caller_id(text: str | None) -> tuple[str, str]:
    """``"Name" <num>`` -> (num, name); missing parts are ``<unknown>``."""
    if not text:
        return UNKNOWN, UNKNOWN
    m = re.fullmatch(r'\s*(?:"([^"]*)"|([^<]*?))\s*<([^>]*)>\s*', text)
    if m:
        name = m.group(1) if m.group(1) is not None else m.group(2)
        return m.group(3) or UNKNOWN, name or UNKNOWN
    return text.strip(), UNKNOWN


@dataclass
class OriginateRequest:
    action_id: str | None
    dial: str  # e.g. Local/100@resident-sim
    context: str | None
    exten: str | None
    priority: str | None
    application: str | None
    data: str | None
    timeout_s: float
    cid_num: str
    cid_name: str
    variables: list[tuple[str, str]]
    is_async: bool


# Landing dialplan for answered calls without an ``on_answered`` hook, as in the golden
# ``[dialer-landing]``: s,1 NoOp(landed campaign=${CAMPAIGN_ID} lead=${LEAD_ID}), Wait(10).
DEFAULT_LANDING = {
    ("dialer-landing", "s"): [
        ("NoOp", "landed campaign=${CAMPAIGN_ID} lead=${LEAD_ID}"),
        ("Wait", "10"),
    ]
}


def _expand(template: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: variables.get(m.group(1), ""), template)


# --------------------------------------------------------------------------- queues
@dataclass
class QueueMember:
    """A queue agent; ``talk_s`` is the range a conversation's length is drawn from."""

    name: str
    interface: str
    talk_s: tuple[float, float] = (2.0, 2.0)
    wrapup_s: float = 0.0
    paused: bool = False
    paused_reason: str = ""
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = 0
    ringing_or_up: bool = False  # device state (Status 2) - set before InCall
    in_call: bool = False

    def _stats(self) -> list[Header]:
        return [
            ("Penalty", "0"),
            ("CallsTaken", str(self.calls_taken)),
            ("LastCall", str(self.last_call)),
            ("LastPause", str(self.last_pause)),
            ("LoginTime", str(self.login_time)),
            ("InCall", "1" if self.in_call else "0"),
            ("Status", "2" if self.ringing_or_up else "1"),
            ("Paused", "1" if self.paused else "0"),
            ("PausedReason", self.paused_reason),
        ]

    def status_headers(self, queue: str) -> list[Header]:
        """The ``QueueMember`` item of QueueStatus."""
        return [
            ("Queue", queue),
            ("Name", self.name),
            ("Location", self.interface),
            ("StateInterface", self.interface),
            ("Membership", "static"),
            *self._stats(),
            ("Wrapuptime", str(int(self.wrapup_s))),
        ]

    def event_headers(self, queue: str) -> list[Header]:
        """The body of QueueMemberStatus / QueueMemberPause events."""
        return [
            ("Queue", queue),
            ("MemberName", self.name),
            ("Interface", self.interface),
            ("StateInterface", self.interface),
            ("Membership", "static"),
            *self._stats(),
            ("Ringinuse", "0"),
            ("Wrapuptime", str(int(self.wrapup_s))),
        ]


@dataclass
class Queue:
    name: str
    members: list[QueueMember]
    strategy: str = "ringall"
    waiting: list[QueueCall] = field(default_factory=list)
    completed: int = 0
    abandoned: int = 0
    holdtime: int = 0
    talktime: int = 0

    def params(self) -> list[Header]:
        perf = "100.0" if self.completed else "0.0"
        return [
            ("Queue", self.name),
            ("Max", "0"),
            ("Strategy", self.strategy),
            ("Calls", str(len(self.waiting))),
            ("Holdtime", str(self.holdtime)),
            ("TalkTime", str(self.talktime)),
            ("Completed", str(self.completed)),
            ("Abandoned", str(self.abandoned)),
            ("ServiceLevel", "0"),
            ("ServicelevelPerf", perf),
            ("ServicelevelPerf2", perf),
            ("Weight", "0"),
        ]

    def summary(self, now: float) -> list[Header]:
        available = sum(1 for m in self.members if not m.paused and not m.ringing_or_up)
        longest = max((int(now - joined) for joined in self.waiting), default=0)
        return [
            ("Queue", self.name),
            ("LoggedIn", str(len(self.members))),
            ("Available", str(available)),
            ("Callers", str(len(self.waiting))),
            ("HoldTime", str(self.holdtime)),
            ("TalkTime", str(self.talktime)),
            ("LongestHoldTime", str(longest)),
        ]


def default_queues(clock: IReactorTime) -> list[Queue]:
    """Queue ``support`` with one agent, as in the golden ``queues.conf``."""
    login = int(clock.seconds())
    agent = QueueMember("Agent Local 200", "Local/200@queue-agent/n", login_time=login)
    return [Queue("support", [agent])]


# --------------------------------------------------------------------------- PBX state
class AMISimulator:
    """The simulated PBX: users, channels, queues, calls and the AMI sessions.

    ``on_answered(channel_info)`` (optional) receives a dict describing the answered
    outbound call's landing channel; if it returns a Deferred, the call is hung up
    from the landing side when it fires instead of following the resident's script.
    """

    def __init__(
        self,
        clock: IReactorTime,
        *,
        users: dict[str, str] | None = None,
        residents: ResidentModel | None = None,
        time_scale: float = 1.0,
        landing: dict[tuple[str, str], list[tuple[str, str]]] | None = None,
        on_answered: Callable[[dict[str, Any]], defer.Deferred[Any] | None] | None = None,
        queues: Iterable[Queue] = (),
        landing_queues: dict[str, tuple[str, float]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.clock = clock
        self.users = users if users is not None else {"dialer": "dialer-secret"}
        self.residents = residents or ScriptedResidents()
        self.time_scale = time_scale
        self.landing = dict(DEFAULT_LANDING if landing is None else landing)
        self.on_answered = on_answered
        self.queues = {q.name: q for q in queues}
        # Landing contexts whose dialplan is Queue(name,,,,timeout), as the shipped
        # [dialer-agent]: an answered call there waits for an agent, else is abandoned.
        self.landing_queues = dict(landing_queues or {})
        self.rng = rng or random.Random()
        self.sessions: list[AMISession] = []
        self.channels: dict[str, Channel] = {}
        self.global_vars: dict[str, str] = {}
        self.started = clock.seconds()
        self.processed_calls = 0
        self.calls: dict[str, OutboundCall] = {}  # by linkedid, until both halves are gone
        self._channel_seq = itertools.count(1)
        self._uniqueid_seq = itertools.count(1)
        self._session_seq = itertools.count(0x7F00_0000_1000, 0x10)

    # -- plumbing ------------------------------------------------------------
    def factory(self) -> Factory:
        return Factory.forProtocol(lambda: AMISession(self))

    def listen(self, reactor: IReactorTCP, port: int = 0) -> IListeningPort:
        return reactor.listenTCP(port, self.factory(), interface="127.0.0.1")

    def later(self, seconds: float, fn: Callable[..., object], *args: object) -> Any:
        return self.clock.callLater(seconds * self.time_scale, fn, *args)

    def now(self) -> float:
        return self.clock.seconds()

    def new_uniqueid(self) -> str:
        return f"{int(self.started)}.{next(self._uniqueid_seq)}"

    def new_session_id(self) -> str:
        return f"0x{next(self._session_seq):x}"

    def publish(self, event: str, privilege: str, headers: Iterable[Header]) -> None:
        """Send an event to every logged-in session whose mask and filters accept it."""
        message = [("Event", event), ("Privilege", f"{privilege},all"), *headers]
        data = format_message(message)
        for session in list(self.sessions):
            session.deliver_event(privilege, data)

    def channel_event(self, event: str, privilege: str, chan: Channel, *extra: Header) -> None:
        self.publish(event, privilege, [*chan.block(), *extra])

    def device_state(self, device: str, state: str) -> None:
        self.publish("DeviceStateChange", "call", [("Device", device), ("State", state)])

    def serve_queue(self, queue: Queue) -> None:
        """Hand waiting callers to free, unpaused agents (ringall: first free one)."""
        for member in queue.members:
            if not queue.waiting:
                return
            if not member.paused and not member.ringing_or_up:
                queue.waiting[0].connect(member)

    def pause_member(self, queue: Queue, member: QueueMember, paused: bool, reason: str) -> None:
        member.paused = paused
        member.paused_reason = reason if paused else ""
        if paused:
            member.last_pause = int(self.now())
        else:
            self.later(0, self.serve_queue, queue)
        device = f"Queue:{queue.name}_pause_{member.interface}"
        self.device_state(device, "INUSE" if paused else "NOT_INUSE")
        if not paused:
            self.device_state(f"Queue:{queue.name}_avail", "NOT_INUSE")
        self.publish("QueueMemberPause", "agent", member.event_headers(queue.name))

    # -- channel life ----------------------------------------------------------
    def new_local_pair(self, number: str, context: str) -> tuple[Channel, Channel]:
        base = f"Local/{number}@{context}-{next(self._channel_seq):08x}"
        now = self.now()
        one = Channel(f"{base};1", "", "", context, number, created=now)
        one.uniqueid = one.linkedid = self.new_uniqueid()
        two = Channel(f"{base};2", self.new_uniqueid(), one.linkedid, context, number, 4)
        two.created = now
        self.channels[one.name] = one
        self.channels[two.name] = two
        self.processed_calls += 1
        return one, two

    def set_state(self, chan: Channel, state: int) -> None:
        chan.state = state
        if state == 6 and chan.answered is None:
            chan.answered = self.now()
        self.channel_event("Newstate", "call", chan)

    def exten(self, chan: Channel, app: str, data: str, priority: int | None = None) -> None:
        if priority is not None:
            chan.priority = priority
        chan.application, chan.app_data = app, data
        self.channel_event(
            "Newexten",
            "dialplan",
            chan,
            ("Extension", chan.exten),
            ("Application", app),
            ("AppData", data),
        )

    def hangup_channel(self, chan: Channel, cause: int) -> None:
        self.channels.pop(chan.name, None)
        self.channel_event(
            "Hangup", "call", chan, ("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT[cause])
        )

    def cdr(self, chan: Channel, destination: str, cid: tuple[str, str], peer: str = "") -> None:
        end = self.now()
        answered = chan.answered if chan.answered is not None else end
        stamp = lambda t: time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))  # noqa: E731
        self.publish(
            "Cdr",
            "cdr",
            [
                ("AccountCode", ""),
                ("Source", cid[0]),
                ("Destination", destination),
                ("DestinationContext", chan.context),
                ("CallerID", f'"{cid[1]}" <{cid[0]}>'),
                ("Channel", chan.name),
                ("DestinationChannel", peer),
                ("LastApplication", chan.application),
                ("LastData", chan.app_data),
                ("StartTime", stamp(chan.created)),
                ("AnswerTime", stamp(answered)),
                ("EndTime", stamp(end)),
                ("Duration", str(int(end - chan.created))),
                ("BillableSeconds", str(int(end - answered))),
                ("Disposition", "ANSWERED"),
                ("AMAFlags", "DOCUMENTATION"),
                ("UniqueID", chan.uniqueid),
                ("UserField", ""),
            ],
        )

    # -- originate -------------------------------------------------------------
    def landing_exists(self, req: OriginateRequest) -> bool:
        if req.application is not None:
            return True
        return (req.context, req.exten) in self.landing or req.context in self.landing_queues

    def originate(self, req: OriginateRequest, respond: Callable[[bool], None]) -> None:
        """Run one Originate.  ``respond(ok)`` sends the synchronous action response:
        at once for async, at answer/failure for ``Async: false``."""
        call = OutboundCall(self, req, respond)
        if req.is_async:
            respond(True)
        call.start()


class OutboundCall:
    """One Originate through a ``Local/number@context`` channel pair."""

    def __init__(
        self, sim: AMISimulator, req: OriginateRequest, respond: Callable[[bool], None]
    ) -> None:
        self.sim = sim
        self.req = req
        self.respond = respond
        self.cid = (req.cid_num, req.cid_name)
        self.one: Channel | None = None
        self.two: Channel | None = None
        self.timeout_call: Any = None
        self.done = False
        self.dial_string = ""

    # -- outcome reporting -------------------------------------------------------
    def originate_response(self, reason: int, answered_channel: Channel | None) -> None:
        if self.req.is_async:
            req = self.req
            headers: list[Header] = []
            if req.action_id is not None:
                headers.append(("ActionID", req.action_id))
            headers += [
                ("Response", "Success" if answered_channel else "Failure"),
                ("Channel", answered_channel.name if answered_channel else req.dial),
            ]
            if req.application is not None:
                headers += [("Application", req.application), ("Data", req.data or "")]
            else:
                headers += [("Context", req.context or ""), ("Exten", req.exten or "")]
            headers += [
                ("Reason", str(reason)),
                ("Uniqueid", answered_channel.uniqueid if answered_channel else UNKNOWN),
                ("CallerIDNum", self.req.cid_num),
                ("CallerIDName", self.req.cid_name),
            ]
            self.sim.publish("OriginateResponse", "call", headers)
        else:
            self.respond(answered_channel is not None)

    # -- the call ----------------------------------------------------------------
    def start(self) -> None:
        sim, req = self.sim, self.req
        tech, _, rest = req.dial.partition("/")
        number, at, context = rest.partition("@")
        if tech.lower() != "local" or not at:
            self.originate_response(REASON_FAILED, None)
            return
        plan = sim.residents.plan(number, context)
        self.dial_string = rest
        one, two = self.one, self.two = sim.new_local_pair(number, context)
        sim.calls[one.linkedid] = self
        sim.channel_event("Newchannel", "call", one)
        sim.channel_event("Newchannel", "call", two)
        sim.exten(one, "AppDial2", "(Outgoing Line)")
        # Asterisk copies the variables onto ;1 in reverse order and onto ;2 in order.
        for key, value in reversed(req.variables):
            self.set_var(one, key, value)
        one.cid_num, one.cid_name = self.cid
        sim.channel_event(
            "NewCallerid",
            "call",
            one,
            ("CID-CallingPres", CALLING_PRES),
        )
        one.connected_num, one.connected_name = self.cid
        sim.channel_event("NewConnectedLine", "call", one)
        for key, value in req.variables:
            self.set_var(two, key, value)
        two.cid_num, two.cid_name = two.connected_num, two.connected_name = self.cid
        sim.channel_event(
            "NewCallerid",
            "call",
            two,
            ("CID-CallingPres", CALLING_PRES),
        )
        sim.channel_event("NewConnectedLine", "call", two)
        if plan is None:
            self.invalid()
            return
        self.local_bridge()
        sim.publish(
            "DialBegin",
            "call",
            [*one.block("Dest", name_key="Channel"), ("DialString", self.dial_string)],
        )
        self.timeout_call = sim.later(req.timeout_s, self.ring_timeout)
        getattr(self, f"callee_{plan.outcome}")(plan)

    def set_var(self, chan: Channel, key: str, value: str) -> None:
        chan.variables[key] = value
        self.sim.channel_event("VarSet", "dialplan", chan, ("Variable", key), ("Value", value))

    def device(self, state: str) -> None:
        self.sim.device_state(f"Local/{self.dial_string}", state)

    def local_bridge(self) -> None:
        assert self.one and self.two
        context, exten = self.two.context, self.two.exten
        self.sim.publish(
            "LocalBridge",
            "call",
            [
                *self.one.block("LocalOne"),
                *self.two.block("LocalTwo"),
                ("Context", context),
                ("Exten", exten),
                ("LocalOptimization", "Yes"),
            ],
        )

    def dial_event(self, event: str, status: str) -> None:
        assert self.one
        self.sim.publish(event, "call", [*self.one.block("Dest"), ("DialStatus", status)])

    def invalid(self) -> None:
        """No such context/extension: both halves die with cause 0."""
        sim, one, two = self.sim, self.one, self.two
        assert one and two
        if not self.req.is_async:
            self.originate_response(REASON_FAILED, None)
        sim.hangup_channel(two, 0)
        self.device("INVALID")
        sim.hangup_channel(one, 0)
        if self.req.is_async:
            self.originate_response(REASON_FAILED, None)
        self.device("INVALID")
        self.finish()

    # -- callee behaviours (``ResidentPlan.outcome``) -----------------------------
    def callee_answer(self, plan: ResidentPlan) -> None:
        if plan.ring_s > 0:
            self.ringing()
            self.sim.later(plan.ring_s, self.answer, plan, 2)
        else:
            self.answer(plan, 1)

    def callee_noanswer(self, plan: ResidentPlan) -> None:
        assert self.two
        self.ringing()
        self.sim.exten(self.two, "Wait", "60", 2)

    def callee_busy(self, plan: ResidentPlan) -> None:
        sim, one, two = self.sim, self.one, self.two
        assert one and two
        sim.exten(two, "Busy", "10")
        sim.set_state(two, 7)
        self.device("INUSE")
        self.dial_event("DialEnd", "BUSY")
        self.unanswered_end(two_cause=17, reason=REASON_BUSY)

    def callee_reject(self, plan: ResidentPlan) -> None:
        self.hangup_unanswered(21)

    def callee_unallocated(self, plan: ResidentPlan) -> None:
        self.hangup_unanswered(1)

    def hangup_unanswered(self, cause: int) -> None:
        assert self.two
        self.sim.exten(self.two, "Hangup", str(cause))
        self.device("INUSE")
        self.dial_event("DialEnd", "CHANUNAVAIL" if cause == 1 else "BUSY")
        self.unanswered_end(two_cause=cause, reason=REASON_HANGUP)

    def unanswered_end(self, *, two_cause: int, reason: int) -> None:
        sim, one, two = self.sim, self.one, self.two
        assert one and two
        self.cancel_timeout()
        sim.channel_event("HangupRequest", "call", two, ("Cause", "0"))
        sim.channel_event("SoftHangupRequest", "call", two, ("Cause", "16"))
        sim.hangup_channel(one, 0)
        self.device("NOT_INUSE")
        sim.hangup_channel(two, two_cause)
        self.originate_response(reason, None)
        self.device("NOT_INUSE")
        self.finish()

    def ringing(self) -> None:
        assert self.one and self.two
        self.sim.exten(self.two, "Ringing", "")
        self.sim.set_state(self.one, 5)
        self.device("INUSE")
        self.dial_event("DialState", "RINGING")

    def ring_timeout(self) -> None:
        """Originate Timeout while ringing: Reason 3, cause 19 on both halves."""
        self.timeout_call = None
        if self.done:
            return
        sim, one, two = self.sim, self.one, self.two
        assert one and two
        self.finish()
        sim.channel_event("HangupRequest", "call", two, ("Cause", "19"))
        sim.channel_event("SoftHangupRequest", "call", two, ("Cause", "16"))
        self.originate_response(REASON_NO_ANSWER, None)
        sim.hangup_channel(one, 19)
        self.device("NOT_INUSE")
        sim.hangup_channel(two, 19)
        self.device("NOT_INUSE")

    def cancel_timeout(self) -> None:
        if self.timeout_call is not None and self.timeout_call.active():
            self.timeout_call.cancel()
        self.timeout_call = None

    def answer(self, plan: ResidentPlan, priority: int) -> None:
        if self.done:
            return
        sim, one, two = self.sim, self.one, self.two
        assert one and two
        self.cancel_timeout()
        sim.exten(two, "Answer", "", priority)
        self.originate_response(REASON_ANSWERED, one)
        sim.set_state(two, 6)
        sim.set_state(one, 6)
        self.dial_event("DialEnd", "ANSWER")
        self.device("INUSE")
        self.device("INUSE")
        hook = self.land()
        landing_queue = sim.landing_queues.get(one.context)
        if isinstance(hook, defer.Deferred):
            hook.addBoth(self.landing_done)
        elif landing_queue is not None:
            queue, timeout = landing_queue
            plan = replace(plan, outcome="queue", queue=queue, queue_timeout_s=timeout)
            QueueCall(self, plan, priority + 1).join()
        elif plan.outcome == "queue":
            QueueCall(self, plan, priority + 1).join()
        else:
            self.resident_script(plan, priority + 1)

    def callee_queue(self, plan: ResidentPlan) -> None:
        self.callee_answer(plan)

    def land(self) -> defer.Deferred[Any] | None:
        """Run the landing side on ;1: the ``on_answered`` hook, else the Originate's
        application or the landing dialplan (``landing``) for as long as its Waits last."""
        sim, one, req = self.sim, self.one, self.req
        assert one
        if req.application is not None:
            one.application, one.app_data = req.application, req.data or ""
        else:
            one.context, one.exten, one.priority = req.context or "", req.exten or "", 1
        if one.context in sim.landing_queues:
            return None  # the queue decides how long the call lasts
        if sim.on_answered is not None:
            return sim.on_answered(
                {
                    "channel": one.name,
                    "uniqueid": one.uniqueid,
                    "dial": req.dial,
                    "context": one.context,
                    "exten": one.exten,
                    "caller_id": self.cid,
                    "variables": dict(one.variables),
                }
            )
        if req.application is None:
            steps = sim.landing.get((one.context, one.exten), [])
            for priority, (app, data) in enumerate(steps, start=1):
                sim.exten(one, app, _expand(data, one.variables), priority)
        sim.later(self.landing_seconds(), self.landing_done, None)
        return None

    def finish(self) -> None:
        self.done = True
        if self.one is not None:
            self.sim.calls.pop(self.one.linkedid, None)

    def landing_seconds(self) -> float:
        """How long the landing side stays up: its ``Wait`` applications."""
        req = self.req
        if req.application is not None:
            steps = [(req.application, req.data or "")]
        else:
            steps = self.sim.landing.get((req.context or "", req.exten or ""), [])
        return sum(float(data or 0) for app, data in steps if app.lower() == "wait")

    def landing_done(self, result: object) -> None:
        if not self.done:
            self.hangup_answered(from_resident=False)
        if isinstance(result, Failure):
            result.trap(Exception)

    def resident_script(self, plan: ResidentPlan, priority: int) -> None:
        sim, two = self.sim, self.two
        assert two
        think = plan.think_s
        sim.later(0, sim.exten, two, "Wait", f"{think:g}", priority)
        sim.later(think, self.send_dtmf, plan, priority + 1)

    def send_dtmf(self, plan: ResidentPlan, priority: int) -> None:
        if self.done:
            return
        sim, one, two = self.sim, self.one, self.two
        assert one and two
        sim.exten(two, "SendDTMF", plan.digits, priority)
        for i, digit in enumerate(plan.digits):
            sim.later(0.1 + 0.25 * i, self.dtmf_event, "DTMFBegin", digit, ())
            sim.later(0.2 + 0.25 * i, self.dtmf_event, "DTMFEnd", digit, (("DurationMs", "100"),))
        talk_start = 0.35 + 0.25 * (len(plan.digits) - 1)
        sim.later(talk_start, self.talk, plan, priority + 1)

    def dtmf_event(self, event: str, digit: str, extra: tuple[Header, ...]) -> None:
        if self.done or self.one is None:
            return
        self.sim.channel_event(
            event, "dtmf", self.one, ("Digit", digit), *extra, ("Direction", "Received")
        )

    def talk(self, plan: ResidentPlan, priority: int) -> None:
        if self.done:
            return
        assert self.two
        self.sim.exten(self.two, "Wait", f"{plan.talk_s:g}", priority)
        self.sim.later(plan.talk_s, self.resident_hangup, priority + 1)

    def resident_hangup(self, priority: int) -> None:
        if self.done:
            return
        assert self.two
        self.sim.exten(self.two, "Hangup", "", priority)
        self.hangup_answered(from_resident=True)

    def hangup_answered(self, *, from_resident: bool, destination: str = "") -> None:
        """Normal clearing of an answered call, started by either half."""
        sim, one, two = self.sim, self.one, self.two
        assert one and two
        self.finish()
        first, second = (two, one) if from_resident else (one, two)
        sim.channel_event("SoftHangupRequest", "call", first, ("Cause", "16"))
        sim.channel_event("HangupRequest", "call", second, ("Cause", "16"))
        sim.hangup_channel(first, 16)
        # A ;1 running dialplan is soft-hung-up; one running an Originate application
        # (ami-11's Wait) just ends.
        if not (from_resident and self.req.application is not None):
            sim.channel_event("SoftHangupRequest", "call", second, ("Cause", "16"))
        sim.hangup_channel(second, 16)
        sim.cdr(two, two.exten, self.cid, destination)
        sim.cdr(one, one.exten, self.cid)
        self.device("NOT_INUSE")
        self.device("NOT_INUSE")

    def hangup_by_request(self, chan: Channel) -> None:
        """``Action: Hangup`` on either half."""
        if self.done:
            return
        if self.one is not None and self.one.answered is not None:
            self.hangup_answered(from_resident=chan is self.two)
        else:
            self.unanswered_end(two_cause=16, reason=REASON_HANGUP)


class QueueCall:
    """A caller (the ;2 half of an answered Local call) inside ``Queue(name,,,,timeout)``,
    served by the first free agent; the agent side runs ``[queue-agent]``'s shape:
    Answer, Wait, Playback(beep), Wait, Hangup."""

    def __init__(self, call: OutboundCall, plan: ResidentPlan, priority: int) -> None:
        self.call = call
        self.sim = call.sim
        self.queue = self.sim.queues[plan.queue]
        self.plan = plan
        self.priority = priority
        self.caller = call.two
        self.agent: QueueMember | None = None
        self.a1: Channel | None = None
        self.a2: Channel | None = None
        self.bridge = ""
        self.joined = 0.0
        self.connected = 0.0
        self.timeout: Any = None

    def var(self, chan: Channel, name: str, value: str) -> None:
        chan.variables[name] = value
        self.sim.channel_event("VarSet", "dialplan", chan, ("Variable", name), ("Value", value))

    def join(self) -> None:
        sim, caller, queue = self.sim, self.caller, self.queue
        assert caller
        data = f"{queue.name},,,,{self.plan.queue_timeout_s:g}"
        sim.exten(caller, "Queue", data, self.priority)
        for name in ("ANSWEREDTIME", "DIALEDTIME", "QUEUEWAIT"):
            self.var(caller, name, "")
            self.var(caller, f"{name}_MS", "")
        sim.device_state(f"Queue:{queue.name}", "RINGING")
        queue.waiting.append(self)
        self.joined = sim.now()
        sim.channel_event(
            "QueueCallerJoin",
            "agent",
            caller,
            ("Queue", queue.name),
            ("Position", str(len(queue.waiting))),
            ("Count", str(len(queue.waiting))),
        )
        self.timeout = sim.later(self.plan.queue_timeout_s, self.give_up)
        sim.serve_queue(queue)

    def give_up(self) -> None:
        """Queue timeout: leave the queue and hang up (the dialplan's next step)."""
        self.timeout = None
        if self not in self.queue.waiting or self.call.done:
            return
        self.leave()
        self.queue.abandoned += 1
        assert self.caller
        self.sim.exten(self.caller, "Hangup", "", self.priority + 1)
        self.call.hangup_answered(from_resident=True)

    def leave(self) -> None:
        queue, caller = self.queue, self.caller
        assert caller
        position = queue.waiting.index(self) + 1
        queue.waiting.remove(self)
        self.sim.channel_event(
            "QueueCallerLeave",
            "agent",
            caller,
            ("Queue", queue.name),
            ("Position", str(position)),
            ("Count", str(len(queue.waiting))),
        )

    def member_event(self, event: str, *extra: Header) -> None:
        assert self.caller and self.a1 and self.agent
        self.sim.publish(
            event,
            "agent",
            [
                *self.caller.block(),
                *self.a1.block("Dest"),
                ("Queue", self.queue.name),
                ("Interface", self.agent.interface),
                ("MemberName", self.agent.name),
                *extra,
            ],
        )

    def bridge_event(self, event: str, count: int, chan: Channel | None) -> None:
        headers: list[Header] = [
            ("BridgeUniqueid", self.bridge),
            ("BridgeType", "basic"),
            ("BridgeTechnology", "simple_bridge"),
            ("BridgeCreator", UNKNOWN),
            ("BridgeName", UNKNOWN),
            ("BridgeNumChannels", str(count)),
            ("BridgeVideoSourceMode", "none"),
        ]
        self.sim.publish(event, "call", [*headers, *(chan.block() if chan else [])])

    def connect(self, agent: QueueMember) -> None:
        """Ring ``agent`` (answers at once) and bridge it with the caller."""
        sim, caller, queue = self.sim, self.caller, self.queue
        assert caller
        self.agent = agent
        agent.ringing_or_up = True
        if self.timeout is not None and self.timeout.active():
            self.timeout.cancel()
        dial = agent.interface.removeprefix("Local/").removesuffix("/n")
        number, _, context = dial.partition("@")
        cid = (caller.cid_num, caller.cid_name)
        a1, a2 = self.a1, self.a2 = sim.new_local_pair(number, context)
        sim.channel_event("Newchannel", "call", a1)
        sim.channel_event("Newchannel", "call", a2)
        a1.cid_num, a1.cid_name = cid
        sim.exten(a1, "AppQueue", "(Outgoing Line)")
        sim.channel_event("NewCallerid", "call", a1, ("CID-CallingPres", CALLING_PRES))
        self.var(a1, "DIALEDPEERNUMBER", f"{dial}/n")
        self.var(a2, "DIALEDPEERNUMBER", f"{dial}/n")
        a2.cid_num, a2.cid_name = a2.connected_num, a2.connected_name = cid
        sim.channel_event("NewCallerid", "call", a2, ("CID-CallingPres", CALLING_PRES))
        sim.channel_event("NewConnectedLine", "call", a2)
        sim.publish(
            "LocalBridge",
            "call",
            [
                *a1.block("LocalOne"),
                *a2.block("LocalTwo"),
                ("Context", context),
                ("Exten", number),
                ("LocalOptimization", "No"),
            ],
        )
        # Asterisk raises AgentCalled from the queue thread after the dial has moved on:
        # its snapshot already shows the connected line and the caller's extension.
        dialing = (a1.connected_num, a1.connected_name, a1.exten)
        a1.connected_num, a1.connected_name, a1.exten = (*cid, caller.exten)
        self.member_event("AgentCalled")
        a1.connected_num, a1.connected_name, a1.exten = dialing
        sim.publish(
            "DialBegin",
            "call",
            [*caller.block(), *a1.block("Dest"), ("DialString", agent.interface)],
        )
        sim.exten(a2, "Answer", "")
        sim.set_state(a2, 6)
        sim.device_state(f"Local/{dial}", "INUSE")
        a1.exten = caller.exten
        a1.connected_num, a1.connected_name = cid
        sim.set_state(a1, 6)
        sim.exten(a1, "AppQueue", "(Outgoing Line)")
        sim.channel_event("NewConnectedLine", "call", a1)
        sim.publish("QueueMemberStatus", "agent", agent.event_headers(queue.name))
        sim.publish(
            "DialEnd", "call", [*caller.block(), *a1.block("Dest"), ("DialStatus", "ANSWER")]
        )
        sim.device_state(f"Queue:{queue.name}_avail", "INUSE")
        sim.device_state(f"Queue:{queue.name}", "NOT_INUSE")
        self.leave()
        wait = sim.now() - self.joined
        self.var(caller, "QUEUEPOSITION", "1")
        self.var(caller, "QUEUEWAIT", str(int(wait)))
        self.var(caller, "QUEUEWAIT_MS", str(int(wait * 1000)))
        sim.device_state(f"Local/{dial}", "INUSE")
        self.connected = sim.now()
        self.member_event("AgentConnect", ("HoldTime", str(int(wait))), ("RingTime", "0"))
        agent.in_call = True
        self.bridge = str(uuid.UUID(int=sim.rng.getrandbits(128), version=4))
        self.bridge_event("BridgeCreate", 0, None)
        self.bridge_event("BridgeEnter", 1, a1)
        self.bridge_event("BridgeEnter", 2, caller)
        self.var(a1, "BRIDGEPEER", caller.name)
        self.var(caller, "BRIDGEPEER", a1.name)
        self.agent_script(sim.rng.uniform(*agent.talk_s))

    def agent_script(self, talk: float) -> None:
        sim, a2 = self.sim, self.a2
        assert a2
        half = talk / 2
        sim.exten(a2, "Wait", f"{half:g}", 2)

        def playback() -> None:
            sim.exten(a2, "Playback", "beep", 3)
            self.var(a2, "PLAYBACKSTATUS", "SUCCESS")

        sim.later(half, playback)
        sim.later(half + BEEP_S, sim.exten, a2, "Wait", f"{half:g}", 4)
        sim.later(talk + BEEP_S, self.agent_hangup)

    def agent_hangup(self) -> None:
        sim, caller, a1, a2, agent = self.sim, self.caller, self.a1, self.a2, self.agent
        assert caller and a1 and a2 and agent
        queue, cid = self.queue, (caller.cid_num, caller.cid_name)
        talk = sim.now() - self.connected
        sim.exten(a2, "Hangup", "", 5)
        sim.channel_event("SoftHangupRequest", "call", a2, ("Cause", "16"))
        sim.channel_event("HangupRequest", "call", a1, ("Cause", "16"))
        sim.cdr(a2, a2.exten, cid)
        hold = int(self.connected - self.joined)
        self.member_event(
            "AgentComplete",
            ("HoldTime", str(hold)),
            ("TalkTime", str(round(talk))),
            ("Reason", "agent"),
        )
        sim.hangup_channel(a2, 16)
        self.var(a1, "BRIDGEPEER", "")
        self.var(caller, "BRIDGEPEER", "")
        self.bridge_event("BridgeLeave", 1, a1)
        sim.hangup_channel(a1, 16)
        self.bridge_event("BridgeLeave", 0, caller)
        dialed = sim.now() - self.joined
        self.var(caller, "ANSWEREDTIME", str(int(talk)))
        self.var(caller, "ANSWEREDTIME_MS", str(int(talk * 1000)))
        self.var(caller, "DIALEDTIME", str(int(dialed)))
        self.var(caller, "DIALEDTIME_MS", str(int(dialed * 1000)))
        queue.completed += 1
        queue.talktime = round(talk)
        agent.calls_taken += 1
        agent.last_call = int(sim.now())
        agent.in_call = agent.ringing_or_up = False
        self.call.hangup_answered(from_resident=True, destination=a1.name)
        device = agent.interface.removesuffix("/n")
        sim.device_state(device, "NOT_INUSE")
        sim.device_state(device, "NOT_INUSE")
        sim.publish("QueueMemberStatus", "agent", agent.event_headers(queue.name))
        sim.device_state(f"Queue:{queue.name}_avail", "NOT_INUSE")
        self.bridge_event("BridgeDestroy", 0, None)
        sim.later(agent.wrapup_s, sim.serve_queue, queue)


# --------------------------------------------------------------------------- sessions
class AMISession(Protocol):
    """One AMI connection to the simulator."""

    def __init__(self, sim: AMISimulator) -> None:
        self.sim = sim
        self.parser = AMIParser(expect_banner=False)
        self.username: str | None = None
        self.session_id = sim.new_session_id()
        self.session_tv = ""
        self.events_mask: set[str] | None = None  # None = all classes
        self.filters: list[re.Pattern[str]] = []
        self.closing = False
        self.gone = False

    def connectionMade(self) -> None:
        self.sim.sessions.append(self)
        self.session_tv = _event_tv(self.sim.now())
        self.transport.write(BANNER)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.gone = True
        if self in self.sim.sessions:
            self.sim.sessions.remove(self)

    def dataReceived(self, data: bytes) -> None:
        messages: list[AMIMessage] = []
        while True:
            try:
                messages += self.parser.feed(data)
                break
            except AMIProtocolError as exc:
                messages += exc.messages  # Asterisk skips what it cannot parse
                data = b""
        for message in messages:
            if self.closing:
                return
            self.handle(message)

    # -- output ----------------------------------------------------------------
    def send(self, headers: Iterable[Header]) -> None:
        self.transport.write(format_message(headers))

    def respond(
        self, request: AMIMessage, status: str, *headers: Header, message: str | None = None
    ) -> None:
        out: list[Header] = [("Response", status)]
        if request.action_id is not None:
            out.append(("ActionID", request.action_id))
        if message is not None:
            out.append(("Message", message))
        out.extend(headers)
        self.send(out)

    def error(self, request: AMIMessage, message: str) -> None:
        self.respond(request, "Error", message=message)

    def deliver_event(self, privilege: str, data: bytes) -> None:
        if self.username is None or self.closing:
            return
        if self.events_mask is not None and privilege not in self.events_mask:
            return
        if self.filters:
            text = data.decode("utf-8", "surrogateescape")
            if not any(f.search(text) for f in self.filters):
                return
        self.transport.write(data)

    def security_headers(self) -> list[Header]:
        host = self.transport.getHost()
        peer = self.transport.getPeer()
        return [
            ("EventTV", _event_tv(self.sim.now())),
            ("Severity", "Informational"),
            ("Service", "AMI"),
            ("EventVersion", "1"),
            ("SessionID", self.session_id),
            ("LocalAddress", f"IPV4/TCP/{host.host}/{host.port}"),
            ("RemoteAddress", f"IPV4/TCP/{peer.host}/{peer.port}"),
        ]

    def list_response(
        self, request: AMIMessage, message: str, items: list[tuple[str, list[Header]]], done: str
    ) -> None:
        self.respond(request, "Success", ("EventList", "start"), ("Message", message))
        aid = [("ActionID", request.action_id)] if request.action_id is not None else []
        for event, headers in items:
            self.send([("Event", event), *headers, *aid])
        self.send(
            [("Event", done), *aid, ("EventList", "Complete"), ("ListItems", str(len(items)))]
        )

    # -- dispatch --------------------------------------------------------------
    def handle(self, request: AMIMessage) -> None:
        action = (request.get("Action") or "").lower()
        if action == "login":
            self.action_login(request)
            return
        if self.username is None:
            self.error(request, "Permission denied")
            return
        handler = getattr(self, f"action_{action}", None)
        if handler is None:
            self.error(
                request,
                f"Invalid/unknown command: {request.get('Action')}. "
                "Use Action: ListCommands to show available commands.",
            )
            bad = self.security_headers()
            bad[1] = ("Severity", "Error")
            self.sim.publish(
                "RequestBadFormat",
                "security",
                [
                    *bad,
                    ("RequestType", f"Action: {request.get('Action')}"),
                    ("SessionTV", self.session_tv),
                    ("AccountID", self.username),
                ],
            )
            return
        handler(request)

    # -- actions -----------------------------------------------------------------
    def action_login(self, request: AMIMessage) -> None:
        user, secret = request.get("Username", ""), request.get("Secret", "")
        if user not in self.sim.users or self.sim.users[user] != secret:
            self.closing = True
            # Asterisk delays a failed login by a second before answering and closing.
            self.sim.later(1.0, self._refuse_login, request)
            return
        self.username = user
        self.respond(request, "Success", message="Authentication accepted")
        uptime = str(int(self.sim.now() - self.sim.started))
        self.sim_event_to_self(
            "FullyBooted",
            "system",
            [("Uptime", uptime), ("LastReload", uptime), ("Status", "Fully Booted")],
        )
        security = self.security_headers()
        self.sim_event_to_self(
            "SuccessfulAuth",
            "security",
            [
                *security[:4],
                ("AccountID", user),
                *security[4:],
                ("UsingPassword", "0"),
                ("SessionTV", self.session_tv),
            ],
        )

    def sim_event_to_self(self, event: str, privilege: str, headers: list[Header]) -> None:
        data = format_message([("Event", event), ("Privilege", f"{privilege},all"), *headers])
        self.deliver_event(privilege, data)

    def _refuse_login(self, request: AMIMessage) -> None:
        if self.gone:
            return
        self.error(request, "Authentication failed")
        self.transport.loseConnection()

    def action_logoff(self, request: AMIMessage) -> None:
        self.respond(request, "Goodbye", message="Thanks for all the fish.")
        self.closing = True
        self.transport.loseConnection()

    def action_ping(self, request: AMIMessage) -> None:
        self.respond(request, "Success", ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}"))

    def action_corestatus(self, request: AMIMessage) -> None:
        started = time.gmtime(self.sim.started)
        day, clock = time.strftime("%Y-%m-%d", started), time.strftime("%H:%M:%S", started)
        calls = sum(1 for c in self.sim.channels.values() if c.name.endswith(";1"))
        self.respond(
            request,
            "Success",
            ("CoreStartupDate", day),
            ("CoreStartupTime", clock),
            ("CoreReloadDate", day),
            ("CoreReloadTime", clock),
            ("CoreCurrentCalls", str(calls)),
            ("CoreProcessedCalls", str(self.sim.processed_calls)),
        )

    def action_coresettings(self, request: AMIMessage) -> None:
        self.respond(
            request,
            "Success",
            ("AMIversion", AMI_VERSION),
            ("AsteriskVersion", ASTERISK_VERSION),
            ("SystemName", ""),
            ("CoreMaxCalls", "0"),
            ("CoreMaxLoadAvg", "0.000000"),
            ("CoreRunUser", ""),
            ("CoreRunGroup", ""),
            ("CoreMaxFilehandles", "0"),
            ("CoreRealTimeEnabled", "No"),
            ("CoreCDRenabled", "Yes"),
            ("CoreHTTPenabled", "No"),
            ("SoundsSearchCustomDir", "No"),
        )

    def action_command(self, request: AMIMessage) -> None:
        command = request.get("Command", "")
        if command.strip() == "core show version":
            built = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.sim.started))
            self.respond(
                request,
                "Success",
                (
                    "Output",
                    f"Asterisk {ASTERISK_VERSION} built by root @ vm on a x86_64 running "
                    f"Linux on {built} UTC",
                ),
                message="Command output follows",
            )
            return
        # Asterisk names the best-matching command prefix; two words is what it shows for
        # unknown commands in practice ("no such cli command" -> "no such").
        first = " ".join(command.split()[:2])
        self.respond(
            request,
            "Error",
            (
                "Output",
                f"No such command '{command}' (type 'core show help {first}' "
                "for other possible commands)",
            ),
            message="Command output follows",
        )

    def action_getvar(self, request: AMIMessage) -> None:
        name = request.get("Variable", "")
        channel = request.get("Channel")
        if channel:
            chan = self.sim.channels.get(channel)
            if chan is None:
                self.error(request, "No such channel")
                return
            value = chan.variables.get(name, "")
        else:
            value = self.sim.global_vars.get(name, "")
        self.respond(request, "Success", ("Variable", name), ("Value", value))

    def action_setvar(self, request: AMIMessage) -> None:
        name, value = request.get("Variable", ""), request.get("Value", "")
        channel = request.get("Channel")
        if channel:
            chan = self.sim.channels.get(channel)
            if chan is None:
                self.error(request, "No such channel")
                return
            chan.variables[name] = value
            self.respond(request, "Success", message="Variable Set")
            self.sim.channel_event("VarSet", "dialplan", chan, ("Variable", name), ("Value", value))
            return
        self.sim.global_vars[name] = value
        self.respond(request, "Success", message="Variable Set")
        self.sim.publish(
            "VarSet",
            "dialplan",
            [("Channel", "none"), ("Uniqueid", "none"), ("Variable", name), ("Value", value)],
        )

    def action_coreshowchannels(self, request: AMIMessage) -> None:
        now = self.sim.now()
        items = []
        for chan in self.sim.channels.values():
            secs = int(now - chan.created)
            items.append(
                (
                    "CoreShowChannel",
                    [
                        *chan.block(),
                        ("Application", chan.application),
                        ("ApplicationData", chan.app_data),
                        ("Duration", f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"),
                        ("BridgeId", ""),
                    ],
                )
            )
        self.list_response(request, "Channels will follow", items, "CoreShowChannelsComplete")

    def action_hangup(self, request: AMIMessage) -> None:
        chan = self.sim.channels.get(request.get("Channel", ""))
        if chan is None:
            self.error(request, "No such channel")
            return
        self.respond(request, "Success", message="Channel Hungup")
        call = self.sim.calls.get(chan.linkedid)
        if call is not None:
            call.hangup_by_request(chan)

    def action_events(self, request: AMIMessage) -> None:
        mask = request.get("EventMask", "on").strip().lower()
        if mask in ("off", "no", "false", "0"):
            self.events_mask = set()
            self.respond(request, "Success", ("Events", "Off"))
            return
        if mask in ("on", "yes", "true", "all", "1"):
            self.events_mask = None
        else:
            self.events_mask = {part.strip() for part in mask.split(",") if part.strip()}
        self.respond(request, "Success", ("Events", "On"))

    def action_filter(self, request: AMIMessage) -> None:
        if request.get("Operation", "Add").lower() != "add":
            self.error(request, "Unknown operation")
            return
        try:
            self.filters.append(re.compile(request.get("Filter", "")))
        except re.error:
            self.error(request, BAD_FILTER)
            return
        self.respond(request, "Success", message="Success")

    def action_originate(self, request: AMIMessage) -> None:
        cid_num, cid_name = parse_caller_id(request.get("CallerID"))
        variables = []
        for item in request.get_all("Variable"):
            key, _, value = item.partition("=")
            variables.append((key, value))
        try:
            timeout_ms = int(request.get("Timeout", "30000"))
        except ValueError:
            self.error(request, "Invalid timeout")
            return
        req = OriginateRequest(
            action_id=request.action_id,
            dial=request.get("Channel", ""),
            context=request.get("Context"),
            exten=request.get("Exten"),
            priority=request.get("Priority"),
            application=request.get("Application"),
            data=request.get("Data"),
            timeout_s=timeout_ms / 1000,
            cid_num=cid_num,
            cid_name=cid_name,
            variables=variables,
            is_async=(request.get("Async", "false").lower() in ("true", "yes", "1")),
        )
        if not req.dial:
            self.error(request, "Channel not specified")
            return
        if not self.sim.landing_exists(req):
            self.error(request, "Extension does not exist.")
            return

        def respond(ok: bool) -> None:
            if self.gone or self.closing:
                return
            if ok:
                self.respond(request, "Success", message="Originate successfully queued")
            else:
                self.error(request, "Originate failed")

        self.sim.originate(req, respond)

    # -- queues --------------------------------------------------------------------
    def _queues(self, request: AMIMessage) -> list[Queue]:
        name = request.get("Queue")
        queues = self.sim.queues
        return list(queues.values()) if not name else [queues[name]] if name in queues else []

    def action_queuestatus(self, request: AMIMessage) -> None:
        items: list[tuple[str, list[Header]]] = []
        for queue in self._queues(request):
            items.append(("QueueParams", queue.params()))
            items.extend(("QueueMember", m.status_headers(queue.name)) for m in queue.members)
        self.list_response(request, "Queue status will follow", items, "QueueStatusComplete")

    def action_queuesummary(self, request: AMIMessage) -> None:
        items = [("QueueSummary", q.summary(self.sim.now())) for q in self._queues(request)]
        self.list_response(request, "Queue summary will follow", items, "QueueSummaryComplete")

    def action_queuepause(self, request: AMIMessage) -> None:
        interface = request.get("Interface", "")
        paused = request.get("Paused", "").lower() in ("true", "yes", "1")
        found = [
            (queue, member)
            for queue in self._queues(request)
            for member in queue.members
            if member.interface == interface
        ]
        if not found:
            self.error(request, "Interface not found")
            return
        word = "paused" if paused else "unpaused"
        self.respond(request, "Success", message=f"Interface {word} successfully")
        for queue, member in found:
            self.sim.pause_member(queue, member, paused, request.get("Reason", ""))


def _event_tv(seconds: float) -> str:
    millis = int(seconds * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}+0000"
