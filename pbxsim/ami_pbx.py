"""What the AMI simulator's parts use of the PBX and of each other.

The calls, the queue calls and the AMI sessions are handed the simulator (`ami.AMISimulator`);
they name what they use of it in `PBX` instead of importing it, as a queue call names what it
uses of its answered call in `AnsweredCall`, so the simulator's modules form no import cycle.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from twisted.internet import defer
from twisted.internet import protocol as twisted_protocol

from hotline.dialer.ami_protocol import Header
from hotline.pbxsim.ami_channels import Channel
from hotline.pbxsim.ami_queues import Queue, QueueMember
from hotline.pbxsim.ami_residents import AgentPlan, ResidentModel


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


class EventSink(twisted_protocol.Protocol):
    """An AMI connection the PBX publishes its events to (`ami_session.AMISession`)."""

    def deliver_event(self, privilege: str, data: bytes) -> None:
        raise NotImplementedError


class LiveCall(Protocol):
    """A call in progress, as an AMI session's `Action: Hangup` reaches it."""

    def hangup_by_request(self, chan: Channel) -> None: ...


class PBX(Protocol):
    """The simulated PBX as its calls and sessions use it: its state and the events it sends."""

    mixmonitor: bool
    users: dict[str, str]
    denied_events: dict[str, tuple[str, ...]]
    residents: ResidentModel
    agents: dict[str, AgentPlan]
    landing: dict[tuple[str, str], list[tuple[str, str]]]
    landing_queues: dict[str, tuple[str, float]]
    on_answered: Callable[[dict[str, Any]], defer.Deferred[Any] | None] | None
    queues: dict[str, Queue]
    rng: random.Random
    sessions: list[EventSink]
    channels: dict[str, Channel]
    calls: dict[str, LiveCall]  # by linkedid, until both halves are gone
    global_vars: dict[str, str]
    started: float
    processed_calls: int

    def later(self, seconds: float, fn: Callable[..., object], *args: object) -> Any: ...
    def now(self) -> float: ...
    def new_session_id(self) -> str: ...
    def publish(self, event: str, privilege: str, headers: Iterable[Header]) -> None: ...
    def channel_event(self, event: str, privilege: str, chan: Channel, *extra: Header) -> None: ...
    def device_state(self, device: str, state: str) -> None: ...
    def serve_queue(self, queue: Queue) -> None: ...
    def member_status(self, member: QueueMember) -> None: ...
    def serve_member(self, member: QueueMember) -> None: ...
    def pause_member(
        self, queue: Queue, member: QueueMember, paused: bool, reason: str
    ) -> None: ...
    def new_local_pair(
        self, number: str, context: str, linkedid: str | None = None
    ) -> tuple[Channel, Channel]: ...
    def new_channel(self, interface: str, context: str, exten: str) -> Channel: ...
    def set_state(self, chan: Channel, state: int) -> None: ...
    def exten(self, chan: Channel, app: str, data: str, priority: int | None = None) -> None: ...
    def hangup_channel(self, chan: Channel, cause: int) -> None: ...
    def cdr(
        self, chan: Channel, destination: str, cid: tuple[str, str], peer: str = ""
    ) -> None: ...
    def landing_exists(self, req: OriginateRequest) -> bool: ...
    def originate(self, req: OriginateRequest, respond: Callable[[bool], None]) -> None: ...


class AnsweredCall(Protocol):
    """A call whose caller waits in a queue: an answered Originate's landing half
    (`ami_calls.OutboundCall`) or a resident's inbound call (`ami_inbound.InboundCall`)."""

    sim: PBX
    two: Channel | None  # the landing half: the queue's caller
    done: bool

    def hangup_answered(self, *, from_resident: bool, destination: str = "") -> None: ...
