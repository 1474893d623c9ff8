"""Asterisk's side of AMI, simulated: a Twisted server speaking the bytes of Asterisk 22.

It reproduces the golden transcripts (``shared/asterisk-golden/ami-*``): login and its
security events, the simple actions, Originate through ``Local/`` channels with the
full event sequence per outcome, event masks and legacy regex filters, and a queue with
agents.  Who answers is decided by a :class:`ResidentModel`; calls live in the
:class:`AMISimulator`, not in a session, so they outlive an AMI connection.

All timing goes through ``clock.callLater`` scaled by ``time_scale`` (0 = as fast as the
reactor turns), so tests can drive it with ``twisted.internet.task.Clock``.

The pieces live beside it: residents (``ami_residents``), channels
(``ami_channels``), Originate calls (``ami_calls``), queues (``ami_queues``,
``ami_queue_calls``) and the AMI session (``ami_session``).
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Iterable
from typing import Any

from twisted.internet import defer
from twisted.internet.interfaces import IListeningPort, IReactorTCP, IReactorTime
from twisted.internet.protocol import ServerFactory

from hotline.core import dialplan
from hotline.dialer.ami_protocol import Header, format_message
from hotline.pbxsim.ami_agent_calls import AgentFirstCall
from hotline.pbxsim.ami_calls import DEFAULT_LANDING, OutboundCall
from hotline.pbxsim.ami_channels import CAUSE_TEXT, Channel
from hotline.pbxsim.ami_pbx import EventSink, LiveCall, OriginateRequest
from hotline.pbxsim.ami_queues import Queue, QueueMember
from hotline.pbxsim.ami_residents import AgentPlan, ResidentModel, ScriptedResidents
from hotline.pbxsim.ami_session import AMISession
from hotline.pbxsim.ami_spy import SpyCall


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
        agents: dict[str, AgentPlan] | None = None,
        mixmonitor: bool = False,
        denied_events: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.clock = clock
        # By user, manager.conf's `eventfilter = !regex`: events Asterisk never sends them.
        self.denied_events = dict(denied_events or {})
        # Calls landing in a queue with HOTLINE_RECORDING set get the file MixMonitor(,b)
        # writes (`QueueCall.mixmonitor`); off by default: no files from tests that need none.
        self.mixmonitor = mixmonitor
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
        # Agents' phones: a preview call's by the Originate's channel (PJSIP/agent101), a member
        # added with QueueAdd by its interface; others answer.
        self.agents = dict(agents or {})
        self.sessions: list[EventSink] = []
        self.channels: dict[str, Channel] = {}
        self.global_vars: dict[str, str] = {}
        self.started = clock.seconds()
        self.processed_calls = 0
        self.calls: dict[str, LiveCall] = {}  # by linkedid, until both halves are gone
        self._channel_seq = itertools.count(1)
        self._uniqueid_seq = itertools.count(1)
        self._session_seq = itertools.count(0x7F00_0000_1000, 0x10)

    # -- plumbing ------------------------------------------------------------
    def factory(self) -> ServerFactory:
        factory = ServerFactory()
        factory.protocol = lambda: AMISession(self)
        return factory

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
        """Hand waiting callers to free, unpaused agents (ringall: first free one); a caller
        whose member is ringing waits for that member's answer or ring-out."""
        for member in queue.members:
            waiting = [call for call in queue.waiting if call.agent is None]
            if not waiting:
                return
            if not member.paused and not member.ringing_or_up:
                waiting[0].connect(member)

    def member_status(self, member: QueueMember) -> None:
        """Its device changed: QueueMemberStatus in every queue it is a member of, as
        app_queue tells each queue of a device state (checked on Asterisk 22.10.1)."""
        for queue in list(self.queues.values()):
            if any(m is member for m in queue.members):
                self.publish("QueueMemberStatus", "agent", member.event_headers(queue.name))

    def serve_member(self, member: QueueMember) -> None:
        """The member is free again: every queue they belong to may hand them a caller."""
        for queue in list(self.queues.values()):
            if any(m is member for m in queue.members):
                self.serve_queue(queue)

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
    def new_local_pair(
        self, number: str, context: str, linkedid: str | None = None
    ) -> tuple[Channel, Channel]:
        """A ``Local/`` pair; ``linkedid``: the call it is dialled from (else its own)."""
        base = f"Local/{number}@{context}-{next(self._channel_seq):08x}"
        now = self.now()
        one = Channel(f"{base};1", "", "", context, number, created=now)
        one.uniqueid = self.new_uniqueid()
        one.linkedid = linkedid or one.uniqueid
        two = Channel(f"{base};2", self.new_uniqueid(), one.linkedid, context, number, 4)
        two.created = now
        self.channels[one.name] = one
        self.channels[two.name] = two
        self.processed_calls += 1
        return one, two

    def new_channel(self, interface: str, context: str, exten: str) -> Channel:
        """A phone's channel (``PJSIP/agent101-00000001``), its own Linkedid."""
        chan = Channel(f"{interface}-{next(self._channel_seq):08x}", "", "", context, exten)
        chan.uniqueid = chan.linkedid = self.new_uniqueid()
        chan.created = self.now()
        self.channels[chan.name] = chan
        self.processed_calls += 1
        return chan

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
        if req.application is not None or req.context in (
            dialplan.PREVIEW_CONTEXT,
            dialplan.SUPERVISE_CONTEXT,
        ):
            return True
        return (req.context, req.exten) in self.landing or req.context in self.landing_queues

    def originate(self, req: OriginateRequest, respond: Callable[[bool], None]) -> None:
        """Run one Originate.  ``respond(ok)`` sends the synchronous action response:
        at once for async, at answer/failure for ``Async: false``."""
        # An agent's phone into [dialer-preview]: the agent first, then Dial() to the resident.
        agent_first = req.context == dialplan.PREVIEW_CONTEXT and not req.dial.lower().startswith(
            "local/"
        )
        kind = AgentFirstCall if agent_first else OutboundCall
        call = (SpyCall if req.context == dialplan.SUPERVISE_CONTEXT else kind)(self, req, respond)
        if req.is_async:
            respond(True)
        call.start()
