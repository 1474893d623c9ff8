"""What happens on a call and in the dialer, as typed events published on one bus.

Plain frozen dataclasses (no Twisted, no database) so the flows (`agi.flows`), the dialer and
every subscriber (metrics, the demo's live view; later the API's live stream, webhooks and the
console) share one vocabulary. Each names the call it is about by `call_id`: the flows' id
(Asterisk's uniqueid) for flow events, the dialer's call id (`lead-<lead>-<attempt>`) for the
dialer's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Every event; subscribe to this type to hear them all."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEvent(Event):
    call_id: str


# --- call flows (agi/flows) ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class CallArrived(CallEvent):
    """A call reached a call flow."""

    direction: str  # "in", or "out" for a dialer call's flow
    route: str
    caller: str | None
    callee: str | None
    uniqueid: str
    arrived_at: datetime  # when Asterisk made the channel, else when the flow started
    arrival_known: bool  # False: the uniqueid did not say, so rings before answer are unknown


@dataclass(frozen=True, slots=True, kw_only=True)
class CallAnswered(CallEvent):
    direction: str
    caller: str | None
    answered_at: datetime
    arrived_at: datetime | None  # None: not known (outbound, or no plausible uniqueid)
    rings: int | None  # ring bursts heard before the answer; None when the arrival is unknown


@dataclass(frozen=True, slots=True, kw_only=True)
class CallerIdentified(CallEvent):
    """The unit the call is about is settled: the console's screen pop."""

    unit: str
    how: str  # "caller-id", "chosen" (among the caller's units) or "keyed" in
    resident_id: int | None  # None when keyed in: the caller is not known to be the resident
    resident_name: str | None
    units: tuple[str, ...]  # every unit the caller ID matched


@dataclass(frozen=True, slots=True, kw_only=True)
class StepTaken(CallEvent):
    """A step of the call's path as the call record stores it (``main-menu:1``, ``record``):
    for display; counting uses the typed events."""

    step: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MenuChoice(CallEvent):
    """A keypad answer to a menu: a key, or "wrong" / "none" when no valid key came."""

    menu: str
    choice: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportFiled(CallEvent):
    """A report was stored (again after each change), or spooled: ticket_id None."""

    ticket_id: int | None
    kind: str
    category: str
    unit: str | None
    resident_id: int | None
    complete: bool  # False: kept incomplete (the caller has not confirmed, or hung up)
    recording: str | None  # the voice description, as Asterisk wrote it
    about_staff: bool = False  # a complaint about staff: restricted


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowUpRecorded(CallEvent):
    """A follow-up survey's answers are stored; a low score reopened the matter as a complaint."""

    lead_id: int
    rating: int  # 1-5
    done_properly: bool | None  # None: no answer
    complaint_ticket_id: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class HandedToQueue(CallEvent):
    """The flow hands the caller to an agent queue (the dialplan queues the call)."""

    queue: str
    ticket_id: int | None
    unit: str | None
    resident_id: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEnded(CallEvent):
    """A call flow ended. Inbound: completed, to_agent, caller_hangup, failed; an outbound
    flow: done or error (its attempt's outcome is the dialer's AttemptFinished)."""

    direction: str
    disposition: str
    seconds: float  # from arrival to the end
    path: tuple[str, ...]
    ticket_id: int | None


# --- the dialer ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class OriginatePlaced(CallEvent):
    number: str
    lead_id: int
    campaign_id: int
    campaign_kind: str
    mode: str
    resident: str | None
    unit: str | None
    agent: str | None  # preview calls ring this agent first


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundAnswered(CallEvent):
    number: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentConnected(CallEvent):
    agent: str  # the agent's extension, "101", as the queue's events name it


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentMissed(CallEvent):
    """A preview call's agent did not answer: not an attempt, the lead is not charged."""

    agent: str | None  # the extension the request named


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptFinished(CallEvent):
    """An outbound attempt ended and its outcome is stored."""

    disposition: str
    next_step: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentStateChanged(Event):
    """A member of the dialer's agent queue changed state, as app_queue's events tell it."""

    agent: str  # the member's interface, PJSIP/agent101
    queue: str
    state: str  # free, talking, wrapup, gone (paused, unavailable or removed)
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentPaused(Event):
    """The dialer paused an agent in its queue (they let a delivered call ring out)."""

    agent: str
    queue: str
    reason: str


# --- the PBX's queues, from app_queue's AMI events (dialer/queue_events.py) ----------------------
# `agent` is the member's extension (PJSIP/agent101 -> "101"), the console's name for a person;
# `call_id` the caller channel's uniqueid (the flow's call_id for an inbound call).
@dataclass(frozen=True, slots=True, kw_only=True)
class QueueCallerJoined(CallEvent):
    queue: str
    caller: str | None
    position: int
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueCallerLeft(CallEvent):
    """The caller left the queue's waiting list: taken by an agent (AgentConnect follows),
    out of time, or ``abandoned`` (hung up while waiting)."""

    queue: str
    abandoned: bool
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CallOffered(CallEvent):
    """An agent's phone rings with a queue call (AgentCalled): the screen pop."""

    agent: str
    queue: str
    caller: str | None
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferMissed(CallEvent):
    """The agent let the call ring out (AgentRingNoAnswer); the caller waits on."""

    agent: str
    queue: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CallConnected(CallEvent):
    """An agent took the queue call (AgentConnect)."""

    agent: str
    queue: str
    hold_seconds: int  # how long the caller waited in the queue
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentCallDone(CallEvent):
    """The agent's conversation ended (AgentComplete): the agent goes to wrap-up."""

    agent: str
    queue: str
    talk_seconds: int
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CallInProgress(CallEvent):
    """A queue call the PBX has up, found by asking it (QueueStatus, CoreShowChannels, Status)
    at start or after AMI reconnected, not seen beginning: waiting, or talking with an agent."""

    queue: str
    agent: str | None  # the agent (extension) talking with the caller; None: waiting
    caller: str | None
    ticket_id: int | None  # the flow's HOTLINE_TICKET on the caller's channel
    unit: str | None  # the flow's HOTLINE_UNIT
    since: datetime  # when it joined the queue, or was answered (as near as the PBX says)
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PbxCallsListed(Event):
    """Every queue call the PBX has up was listed (a CallInProgress each, just before): a call
    the live state holds that is not among them ended while nobody was listening."""

    call_ids: tuple[str, ...]
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingIndexed(Event):
    """A recording was indexed (it can be played now): a voice description's player appears."""

    recording_id: int
    kind: str  # call, description, comment
    ticket_id: int | None
    call_id: str | None  # the live call id (uniqueid, or the dialer's) of its call record
    restricted: bool
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueMemberState(Event):
    """A queue member's device and pause state (QueueMemberStatus, Pause, Added)."""

    agent: str
    name: str | None
    queue: str
    device: str  # free, busy, ringing, offline
    paused: bool
    paused_reason: str | None
    wrapup_seconds: int  # how long wrap-up lasts after a call: the member's own, else its queue's
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueMemberRemoved(Event):
    agent: str
    queue: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketChanged(Event):
    """A ticket was filed or changed (a flow's report, an API write)."""

    ticket_id: int
    kind: str
    state: str
    unit: str | None
    restricted: bool  # a complaint about staff: not for every agent's eyes
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignChanged(Event):
    """A campaign was started, paused, resumed or stopped (the API's campaign actions)."""

    campaign_id: int
    state: str
    dial_level: float | None  # the pacer's, when known
    abandon_rate: float | None
    at: datetime
