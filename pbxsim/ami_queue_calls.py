"""A caller waiting in a simulated queue, then bridged with the agent that takes it."""

from __future__ import annotations

import uuid
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotline.core import dialplan
from hotline.dialer.ami_protocol import Header
from hotline.pbxsim.ami_channels import CALLING_PRES, UNKNOWN, Channel
from hotline.pbxsim.ami_pbx import AnsweredCall

if TYPE_CHECKING:
    from hotline.pbxsim.ami_queues import QueueMember
    from hotline.pbxsim.ami_residents import ResidentPlan


BEEP_S = 0.9  # how long Playback(beep) takes in the golden capture


class QueueCall:
    """A caller (the ;2 half of an answered Local call) inside ``Queue(name,,,,timeout)``,
    served by the first free agent; the agent side runs ``[queue-agent]``'s shape:
    Answer, Wait, Playback(beep), Wait, Hangup."""

    def __init__(self, call: AnsweredCall, plan: ResidentPlan, priority: int) -> None:
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

    def entry_headers(self, queue: str, position: int, now: float) -> list[Header]:
        """Its ``QueueEntry`` in QueueStatus (app_queue's order; the ActionID follows)."""
        caller = self.caller
        assert caller
        return [
            ("Queue", queue),
            ("Position", str(position)),
            ("Channel", caller.name),
            ("Uniqueid", caller.uniqueid),
            # app_queue says an unset one "unknown", not "<unknown>" as the channel's snapshot does
            *(
                (header, "unknown" if value == UNKNOWN else value)
                for header, value in (
                    ("CallerIDNum", caller.cid_num),
                    ("CallerIDName", caller.cid_name),
                    ("ConnectedLineNum", caller.connected_num),
                    ("ConnectedLineName", caller.connected_name),
                )
            ),
            ("Wait", str(int(now - self.joined))),
            ("Priority", "0"),
        ]

    def mixmonitor(self, talk_s: float) -> None:
        """The file of `MixMonitor(${HOTLINE_RECORDING},b)` (hotline-agent): `b` records only
        while bridged, so a call no agent took leaves a 44-byte header-only WAV (Asterisk 22)."""
        path = self.caller.variables.get(dialplan.RECORDING) if self.caller else None
        if not self.sim.mixmonitor or not path:
            return
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with wave.open(path, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(8000)
            wav.writeframes(bytes(2 * round(8000 * talk_s)))

    def give_up(self) -> None:
        """Queue timeout: leave the queue and hang up (the dialplan's next step)."""
        self.timeout = None
        if self not in self.queue.waiting or self.call.done:
            return
        self.mixmonitor(0.0)
        self.leave()
        self.queue.abandoned += 1
        assert self.caller
        self.sim.exten(self.caller, "Hangup", "", self.priority + 1)
        self.call.hangup_answered(from_resident=True)

    def abandon(self) -> None:
        """The caller hangs up while waiting (or while an agent's phone rings):
        QueueCallerAbandon, then QueueCallerLeave, as app_queue records an abandon."""
        if self not in self.queue.waiting or self.call.done:
            return
        if self.timeout is not None and self.timeout.active():
            self.timeout.cancel()
        sim, caller, queue = self.sim, self.caller, self.queue
        assert caller
        position = str(queue.waiting.index(self) + 1)
        sim.channel_event(
            "QueueCallerAbandon",
            "agent",
            caller,
            ("Queue", queue.name),
            ("Position", position),
            ("OriginalPosition", position),
            ("HoldTime", str(int(sim.now() - self.joined))),
        )
        self.leave()
        queue.abandoned += 1
        agent, a1, a2 = self.agent, self.a1, self.a2
        self.agent = self.a1 = self.a2 = None
        if agent is not None and a1 is not None and a2 is not None:  # stop the ringing phone
            dest = [*caller.block(), *a1.block("Dest"), ("DialStatus", "CANCEL")]
            sim.publish("DialEnd", "call", dest)
            sim.hangup_channel(a1, 16)
            sim.hangup_channel(a2, 16)
            agent.ringing_or_up = False
            sim.device_state(agent.interface.removesuffix("/n"), "NOT_INUSE")
            sim.member_status(agent)
        self.call.hangup_answered(from_resident=True)
        sim.serve_queue(queue)

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
        """Ring ``agent``: one who answers does so after ``ring_s`` (at once by default) and is
        bridged with the caller; one who does not rings until the member timeout or the
        caller's queue timeout, whichever comes first (app_queue's `timeoutpriority = app`)."""
        self.agent = agent
        agent.ringing_or_up = True
        if self.timeout is not None and self.timeout.active():
            self.timeout.cancel()
        if not agent.answers:
            self.ring(agent)
            return
        dial = agent.interface.removeprefix("Local/").removesuffix("/n")
        a1, a2 = self.call_agent(dial)
        if agent.ring_s > 0:
            self.sim.device_state(f"Local/{dial}", "RINGING")
            self.sim.later(agent.ring_s, self.answered, agent, dial, a1, a2)
            return
        self.answered(agent, dial, a1, a2)

    def answered(self, agent: QueueMember, dial: str, a1: Channel, a2: Channel) -> None:
        """The member answers: the caller leaves the queue and is bridged with them."""
        if self.call.done or self.agent is not agent:
            return  # the caller hung up while the phone rang (abandon cleared the ring)
        sim, caller, queue = self.sim, self.caller, self.queue
        assert caller
        cid = (caller.cid_num, caller.cid_name)
        sim.exten(a2, "Answer", "")
        sim.set_state(a2, 6)
        sim.device_state(f"Local/{dial}", "INUSE")
        a1.exten = caller.exten
        a1.connected_num, a1.connected_name = cid
        sim.set_state(a1, 6)
        sim.exten(a1, "AppQueue", "(Outgoing Line)")
        sim.channel_event("NewConnectedLine", "call", a1)
        sim.member_status(agent)
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
        a1.bridge = caller.bridge = self.bridge
        self.bridge_event("BridgeEnter", 1, a1)
        self.bridge_event("BridgeEnter", 2, caller)
        self.var(a1, "BRIDGEPEER", caller.name)
        self.var(caller, "BRIDGEPEER", a1.name)
        self.agent_script(sim.rng.uniform(*agent.talk_s))

    def call_agent(self, dial: str) -> tuple[Channel, Channel]:
        """The member's Local pair rung from the queue: up to AgentCalled and DialBegin."""
        sim, caller, agent = self.sim, self.caller, self.agent
        assert caller and agent
        number, _, context = dial.partition("@")
        cid = (caller.cid_num, caller.cid_name)
        a1, a2 = self.a1, self.a2 = sim.new_local_pair(number, context)
        if not agent.interface.startswith("Local/"):
            # A phone (PJSIP/agent101) is rung as itself: PJSIP/agent101-0000000a.
            del sim.channels[a1.name]
            a1.name = f"{agent.interface}-{a1.name.rsplit('-', 1)[1].split(';')[0]}"
            sim.channels[a1.name] = a1
        sim.channel_event("Newchannel", "call", a1)
        sim.channel_event("Newchannel", "call", a2)
        # app_queue gives the member's channel the caller's connected line as its caller id,
        # and the caller's id as its connected line; the Local pair's other half the reverse
        line = (caller.connected_num, caller.connected_name)
        a1.cid_num, a1.cid_name = line
        sim.exten(a1, "AppQueue", "(Outgoing Line)")
        sim.channel_event("NewCallerid", "call", a1, ("CID-CallingPres", CALLING_PRES))
        self.var(a1, "DIALEDPEERNUMBER", f"{dial}/n")
        self.var(a2, "DIALEDPEERNUMBER", f"{dial}/n")
        (a2.cid_num, a2.cid_name), (a2.connected_num, a2.connected_name) = cid, line
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
        return a1, a2

    def ring(self, agent: QueueMember) -> None:
        sim = self.sim
        dial = agent.interface.removeprefix("Local/").removesuffix("/n")
        a1, _ = self.call_agent(dial)
        caller = self.caller
        assert caller
        # The phone rings: its channel says so and shows whom (Asterisk 22.10.1's order)
        a1.connected_num, a1.connected_name = caller.cid_num, caller.cid_name
        a1.exten = caller.exten
        sim.set_state(a1, 5)
        sim.channel_event("NewConnectedLine", "call", a1)
        sim.publish("DialState", "call", [*caller.block(), *a1.block("Dest")])
        sim.device_state(f"Local/{dial}", "RINGING")
        sim.member_status(agent)  # a ringing Local member is in use (Status 2) on Asterisk 22
        left = self.joined + self.plan.queue_timeout_s - sim.now()
        ring_s = max(0.0, min(self.queue.member_timeout_s, left))
        sim.later(ring_s, self.ring_no_answer, ring_s, ring_s >= left)

    def ring_no_answer(self, ring_s: float, queue_timed_out: bool) -> None:
        """The member's phone rang out: AgentRingNoAnswer, DialEnd NOANSWER, the pair hangs
        up; the caller waits on (rung again) or, its queue time over, leaves."""
        sim, caller, a1, a2, agent = self.sim, self.caller, self.a1, self.a2, self.agent
        assert caller and a1 and a2 and agent
        if not self.call.done:
            self.member_event("AgentRingNoAnswer", ("RingTime", str(round(ring_s * 1000))))
            dest = [*caller.block(), *a1.block("Dest"), ("DialStatus", "NOANSWER")]
            sim.publish("DialEnd", "call", dest)
        sim.channel_event("HangupRequest", "call", a2, ("Cause", "16"))
        sim.hangup_channel(a1, 16)
        sim.hangup_channel(a2, 16)
        sim.device_state(agent.interface.removesuffix("/n"), "NOT_INUSE")
        agent.ringing_or_up = False
        self.agent = self.a1 = self.a2 = None
        sim.member_status(agent)
        if self.call.done:  # the caller hung up meanwhile
            sim.serve_queue(self.queue)
            return
        if queue_timed_out:
            self.give_up()
            return
        left = self.joined + self.plan.queue_timeout_s - sim.now()
        self.timeout = sim.later(left, self.give_up)
        sim.serve_queue(self.queue)

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
        self.mixmonitor(talk)
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
        a1.bridge = caller.bridge = ""
        self.bridge_event("BridgeLeave", 1, a1)
        sim.hangup_channel(a1, 16)
        self.bridge_event("BridgeLeave", 0, caller)
        dialed = sim.now() - self.joined
        self.var(caller, "ANSWEREDTIME", str(int(talk)))
        self.var(caller, "ANSWEREDTIME_MS", str(int(talk * 1000)))
        self.var(caller, "DIALEDTIME", str(int(dialed)))
        self.var(caller, "DIALEDTIME_MS", str(int(dialed * 1000)))
        queue.completed += 1
        # app_queue's average: three parts the old figure, one part this call's whole seconds
        queue.talktime = (3 * queue.talktime + int(talk)) // 4
        agent.calls_taken += 1
        agent.last_call = int(sim.now())
        agent.in_call = agent.ringing_or_up = False
        self.call.hangup_answered(from_resident=True, destination=a1.name)
        device = agent.interface.removesuffix("/n")
        sim.device_state(device, "NOT_INUSE")
        sim.device_state(device, "NOT_INUSE")
        sim.member_status(agent)
        sim.device_state(f"Queue:{queue.name}_avail", "NOT_INUSE")
        self.bridge_event("BridgeDestroy", 0, None)
        sim.later(queue.wrapup_of(agent), sim.serve_member, agent)
