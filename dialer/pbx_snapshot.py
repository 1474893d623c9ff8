"""What the PBX has up now, asked for when AMI (re)connects: the live state of a restarted
service (or one whose AMI link dropped) knows the queue calls in progress again.

QueueStatus gives every queue's members (published as QueueEvents does their events) and its
waiting callers; CoreShowChannels every channel and its bridge, so a caller in `Queue()` bridged
with an agent's channel is a call that agent is talking on; Status the variables the flow left
on the caller's channel (core/dialplan.py: HOTLINE_TICKET, HOTLINE_UNIT). Each call becomes a
`CallInProgress`, then `PbxCallsListed` names them all (a call not among them has ended).
A campaign call is named by its attempt's id (`QueueEvents.dialer_call`): the service runs the
dialer's reconcile first, which follows again the calls a previous run placed (`Dialer._adopt`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hotline.core import dialplan
from hotline.core.event_bus import EventBus
from hotline.core.events import CallInProgress, PbxCallsListed

from .ami_client import AMIActionError, AMIClient, AMIListResult
from .ami_fields import FieldErrors
from .ami_protocol import AMIMessage
from .queue_events import QueueEvents

log = logging.getLogger(__name__)
QUEUE_APP = "Queue"
FLOW_VARIABLES = (dialplan.TICKET, dialplan.UNIT)
UNSET = "(null)"  # what Status says of a variable the channel does not have (manager.c)
MAX_UNIT = 40  # a unit code as the flow sets it; anything longer is not one


def _id_like(text: str) -> bool:
    """A database id as the flow wrote it: ASCII digits, within a 64-bit integer."""
    return text.isascii() and text.isdigit() and len(text) <= 18


@dataclass(frozen=True)
class Leg:
    """One channel of CoreShowChannels."""

    name: str
    uniqueid: str
    linkedid: str
    bridge: str
    application: str
    data: str
    caller: str | None
    seconds: int


def _seconds(duration: str) -> int:
    """CoreShowChannel's ``Duration`` (HH:MM:SS) in seconds; 0 when it does not read."""
    parts = duration.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return 0
    h, m, s = (int(p) for p in parts)
    return h * 3600 + m * 60 + s


def _leg(msg: AMIMessage) -> Leg:
    number = msg.get("CallerIDNum")
    return Leg(
        name=msg.get("Channel", ""),
        uniqueid=msg.get("Uniqueid", ""),
        linkedid=msg.get("Linkedid", ""),
        bridge=msg.get("BridgeId", ""),
        application=msg.get("Application", ""),
        data=msg.get("ApplicationData", ""),
        caller=None if not number or number == "<unknown>" else number,
        seconds=_seconds(msg.get("Duration", "")),
    )


def device_of(channel: str) -> str:
    """A channel's device, as a queue member's interface names it: ``PJSIP/agent101-0000002a``
    -> ``PJSIP/agent101``; ``Local/200@queue-agent-00000010;1`` -> ``Local/200@queue-agent``."""
    return channel.split(";", 1)[0].rsplit("-", 1)[0]


def channel_variables(status: AMIListResult, names: tuple[str, ...]) -> dict[str, str]:
    """The ``Variable: NAME=value`` headers of a one-channel Status answer, of ``names`` and set
    ones only."""
    found: dict[str, str] = {}
    for event in status.events:
        for item in event.get_all("Variable"):
            name, _, value = item.partition("=")
            if name in names and value and value != UNSET:
                found[name] = value
    return found


class PbxSnapshot:
    def __init__(
        self,
        ami: AMIClient,
        bus: EventBus,
        queue_events: QueueEvents,
        clock: Callable[[], datetime],
        fields: FieldErrors | None = None,
    ) -> None:
        self.ami, self.bus, self.queue_events, self.clock = ami, bus, queue_events, clock
        self.fields = fields or FieldErrors()

    async def take(self) -> list[CallInProgress]:
        """Ask, publish and return the calls in progress."""
        status = await self.ami.queue_status()
        members: dict[str, str] = {}  # device -> extension
        waiting: dict[str, AMIMessage] = {}  # caller channel -> its QueueEntry
        for item in status.events:
            if item.name == "QueueMember":
                self.queue_events.on_event(item)  # the members' state, as their events say it
                interface = item.get("StateInterface") or item.get("Location") or ""
                members[interface.removesuffix("/n")] = self.queue_events.agent_name(interface)
            elif item.name == "QueueEntry" and item.get("Channel"):
                waiting[item["Channel"]] = item
        channels = await self.ami.core_show_channels()
        legs = [_leg(m) for m in channels.events]
        bridges: dict[str, list[Leg]] = {}
        for leg in legs:
            if leg.bridge:
                bridges.setdefault(leg.bridge, []).append(leg)
        now = self.clock()
        calls = []
        for leg in legs:
            if leg.application != QUEUE_APP:
                continue
            queue = leg.data.split(",", 1)[0]
            agent = self._agent(leg, bridges, members)
            entry = waiting.get(leg.name)
            if agent is None and entry is None:
                continue  # in Queue() but neither waiting nor bridged: on its way out
            wait = self.fields.integer(entry, "Wait") if entry is not None else leg.seconds
            try:
                status = await self.ami.status(leg.name, FLOW_VARIABLES)
            except AMIActionError:  # "No such channel": it hung up since the listing
                continue
            variables = channel_variables(status, FLOW_VARIABLES)
            ticket, unit = variables.get(dialplan.TICKET, ""), variables.get(dialplan.UNIT)
            dialer_call = leg.linkedid and self.queue_events.dialer_call(leg.linkedid)
            calls.append(
                CallInProgress(
                    call_id=dialer_call or leg.uniqueid,
                    queue=queue,
                    agent=agent,
                    caller=leg.caller,
                    ticket_id=int(ticket) if _id_like(ticket) else None,
                    unit=unit if unit and len(unit) <= MAX_UNIT and unit.isprintable() else None,
                    since=now - timedelta(seconds=wait),
                    at=now,
                )
            )
        for call in calls:
            self.bus.publish(call)
        self.bus.publish(PbxCallsListed(call_ids=tuple(c.call_id for c in calls), at=now))
        log.info("PBX snapshot: %d queue call(s) in progress", len(calls))
        return calls

    @staticmethod
    def _agent(leg: Leg, bridges: dict[str, list[Leg]], members: dict[str, str]) -> str | None:
        """The queue member whose channel shares the caller's bridge, if any."""
        for other in bridges.get(leg.bridge, []) if leg.bridge else []:
            device = device_of(other.name)
            if other is not leg and device in members:
                return members[device]
        return None
