"""app_queue's AMI events as typed events on the bus: who is offered which call, who takes it,
who waits, and each member's state, for every queue of the PBX (the live views and the console).

Only AMI header names are known here. A member is named by its extension, read from its
interface with the agent channel template (the shipped ``PJSIP/agent{agent}`` and
``PJSIP/agent101`` give "101"); an interface the template does not match is
named by the digits at the end of its device (``Local/200@queue-agent/n`` -> "200"), else whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from hotline.core.dialplan import WRAPUP_SECONDS
from hotline.core.event_bus import EventBus
from hotline.core.events import (
    AgentCallDone,
    CallConnected,
    CallOffered,
    Event,
    OfferMissed,
    QueueCallerJoined,
    QueueCallerLeft,
    QueueMemberRemoved,
    QueueMemberState,
)

from .ami_fields import FieldErrors
from .ami_protocol import AMIMessage

# QueueMemberStatus Status (Asterisk's device state) as the console shows a phone.
DEVICE = {
    "1": "free",
    "2": "busy",
    "3": "busy",
    "6": "ringing",
    "7": "busy",
    "8": "busy",
    "0": "offline",
    "4": "offline",
    "5": "offline",
}
MEMBER_EVENTS = ("QueueMemberStatus", "QueueMemberPause", "QueueMemberAdded", "QueueMember")
CALL_EVENTS = ("AgentCalled", "AgentConnect", "AgentComplete", "AgentRingNoAnswer")
CALLER_EVENTS = ("QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon")
HANDLED = frozenset((*MEMBER_EVENTS, *CALL_EVENTS, *CALLER_EVENTS, "QueueMemberRemoved"))
# What this module publishes: the PBX's own account, which every AMI client hears itself.
PUBLISHED: tuple[type[Event], ...] = (
    QueueCallerJoined,
    QueueCallerLeft,
    CallOffered,
    OfferMissed,
    CallConnected,
    AgentCallDone,
    QueueMemberState,
    QueueMemberRemoved,
)
_TRAILING_DIGITS = re.compile(r"(\d+)$")


def agent_namer(template: str) -> Callable[[str], str]:
    """interface -> extension, by the agent channel template (see the module's text)."""
    head, _, tail = template.partition("{agent}")
    pattern = re.compile(re.escape(head) + r"([^/@;]+)" + re.escape(tail) + r"(?:/n)?")

    def name(interface: str) -> str:
        m = pattern.fullmatch(interface)
        if m:
            return m[1]
        device = interface.removesuffix("/n").split("/", 1)[-1].split("@", 1)[0]
        digits = _TRAILING_DIGITS.search(device)
        return digits[1] if digits else interface

    return name


def _caller(msg: AMIMessage) -> str | None:
    number = msg.get("CallerIDNum")
    return None if not number or number == "<unknown>" else number


class QueueEvents:
    """Feed it every AMI event (``AMIClient.on_any``); it publishes what app_queue said."""

    def __init__(
        self,
        bus: EventBus,
        clock: Callable[[], datetime],
        agent_name: Callable[[str], str],
        dialer_call: Callable[[str], str | None] = lambda linkedid: None,
        fields: FieldErrors | None = None,
    ) -> None:
        self.bus, self.clock, self.agent_name = bus, clock, agent_name
        # A dialer call's caller is the resident's channel: the call is the dialer's
        # `lead-<lead>-<attempt>`, found by the channel's Linkedid (CallTracker.call_of).
        self.dialer_call = dialer_call
        self.fields = fields or FieldErrors()

    def call_id(self, msg: AMIMessage) -> str | None:
        linkedid = msg.get("Linkedid")
        return (linkedid and self.dialer_call(linkedid)) or msg.get("Uniqueid") or None

    def on_event(self, msg: AMIMessage) -> None:
        name = msg.name
        if name not in HANDLED:
            return
        queue = msg.get("Queue")
        if not queue:
            return
        event = self._translate(name, msg, queue, self.clock())
        if event is not None:
            self.bus.publish(event)

    def _translate(self, name: str, msg: AMIMessage, queue: str, at: datetime) -> Event | None:
        if name in CALLER_EVENTS:
            call_id = self.call_id(msg)
            if not call_id:
                return None
            if name == "QueueCallerJoin":
                position = self.fields.integer(msg, "Position", 1)
                return QueueCallerJoined(
                    call_id=call_id, queue=queue, caller=_caller(msg), position=position, at=at
                )
            abandoned = name == "QueueCallerAbandon"
            return QueueCallerLeft(call_id=call_id, queue=queue, abandoned=abandoned, at=at)
        interface = msg.get("Interface") or msg.get("StateInterface") or msg.get("Location")
        if not interface:
            return None
        agent = self.agent_name(interface)
        if name in MEMBER_EVENTS:
            reason = msg.get("PausedReason")
            return QueueMemberState(
                agent=agent,
                name=msg.get("MemberName") or msg.get("Name") or None,
                queue=queue,
                device=DEVICE.get(msg.get("Status") or "", "offline"),
                paused=msg.get("Paused") == "1",
                paused_reason=reason or None,
                # the member's own wrap-up when its line sets one, else its queue's
                wrapup_seconds=self.fields.integer(msg, "Wrapuptime")
                or WRAPUP_SECONDS.get(queue, 0),
                at=at,
            )
        if name == "QueueMemberRemoved":
            return QueueMemberRemoved(agent=agent, queue=queue, at=at)
        call_id = self.call_id(msg)
        if not call_id:
            return None
        if name == "AgentCalled":
            return CallOffered(
                call_id=call_id, agent=agent, queue=queue, caller=_caller(msg), at=at
            )
        if name == "AgentConnect":
            hold = self.fields.integer(msg, "HoldTime")
            return CallConnected(
                call_id=call_id, agent=agent, queue=queue, hold_seconds=hold, at=at
            )
        if name == "AgentComplete":
            talk = self.fields.integer(msg, "TalkTime")
            return AgentCallDone(
                call_id=call_id, agent=agent, queue=queue, talk_seconds=talk, at=at
            )
        return OfferMissed(call_id=call_id, agent=agent, queue=queue, at=at)
