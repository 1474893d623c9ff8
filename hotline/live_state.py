"""What is happening now, kept from the bus's events alone: calls in the voice menu, waiting,
ringing an agent or talking; each agent's state; each queue's waiting callers and today's
figures. It answers the live snapshots (`/api/v1/live/*`) and turns each event into the
messages of the live stream (docs/api.md, "Live events"), enriched with what the flow settled.

Pure: no reactor, no database. Time comes with the events; a wrap-up's end and a call left
without a queue are timers the owner runs (`call_later`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from hotline.core.events import (
    AgentCallDone,
    AgentConnected,
    AgentMissed,
    AttemptFinished,
    CallArrived,
    CallConnected,
    CallEnded,
    CallerIdentified,
    CallInProgress,
    CallOffered,
    CampaignChanged,
    Event,
    HandedToQueue,
    OfferMissed,
    OriginatePlaced,
    OutboundAnswered,
    PbxCallsListed,
    QueueCallerJoined,
    QueueCallerLeft,
    QueueMemberRemoved,
    QueueMemberState,
    RecordingIndexed,
    ReportFiled,
    TicketChanged,
)
from hotline.serialise import iso

# How long a call whose flow ended may take to join a queue before it is forgotten.
QUEUE_JOIN_GRACE_S = 60.0
# The flow's endings after which the dialplan queues the call (to_agent; failed: duty).
QUEUED_ENDINGS = frozenset({"to_agent", "failed"})
AGENT_STATES = ("free", "ringing", "on_call", "wrap_up", "paused", "offline")


@dataclass(frozen=True)
class Message:
    """One message of the live stream: its type, its JSON data, and who may see it."""

    type: str
    data: dict[str, Any]
    agents: frozenset[str] = frozenset()  # call.*: the agents it concerns (others never see it)
    restricted: bool = False  # a ticket only supervisors see


@dataclass
class CallContext:
    """What the flow (or the dialer) settled about a call: the screen pop's facts."""

    unit: str | None = None
    resident_id: int | None = None
    resident_name: str | None = None
    ticket_id: int | None = None
    campaign_id: int | None = None
    lead_id: int | None = None


@dataclass
class LiveCall:
    call_id: str
    direction: str
    since: datetime
    caller: str | None = None
    context: CallContext = field(default_factory=CallContext)
    queue: str | None = None
    agent: str | None = None
    state: str = "ivr"  # ivr, queued, offered, connected
    offered_to: set[str] = field(default_factory=set)
    joined: datetime | None = None
    known: bool = False  # this instance saw its flow (or read its record): no lookup needed


@dataclass
class Member:
    device: str = "offline"
    paused: bool = False
    paused_reason: str | None = None
    wrapup_s: float = 0.0


@dataclass
class Seat:
    """An agent (by extension) across the queues they are a member of."""

    agent: str
    name: str | None = None
    members: dict[str, Member] = field(default_factory=dict)  # by queue
    call_id: str | None = None
    call_state: str | None = None  # ringing, on_call, wrap_up
    queue: str | None = None  # of the call
    state: str = "offline"
    since: datetime | None = None
    wrapup_timer: Any = None

    def derived(self) -> str:
        if self.call_state is not None:
            return self.call_state
        members = self.members.values()
        if any(m.paused for m in members if m.device != "offline"):
            return "paused"
        if any(m.device in ("free", "ringing") for m in members):
            return "free"
        if any(m.device == "busy" for m in members):
            return "on_call"  # busy on a call that is not a queue's (a colleague, outbound)
        return "offline"

    def paused_reason(self) -> str | None:
        return next((m.paused_reason for m in self.members.values() if m.paused), None)


@dataclass
class QueueBoard:
    queue: str
    waiting: dict[str, datetime] = field(default_factory=dict)  # call_id -> joined
    day: date | None = None
    answered: int = 0
    within_three_rings: int = 0
    abandoned: int = 0


class LiveState:
    def __init__(
        self,
        tz: tzinfo,
        three_rings_s: float,
        call_later: Callable[..., Any],
        now: Callable[[], datetime],
    ) -> None:
        self.tz, self.three_rings_s = tz, three_rings_s
        self.call_later, self.now = call_later, now
        self.calls: dict[str, LiveCall] = {}
        self.seats: dict[str, Seat] = {}
        self.queues: dict[str, QueueBoard] = {}
        self.placed: dict[str, CallContext] = {}  # dialer calls not answered yet
        self.emit: Callable[[Message], None] = lambda message: None  # set by the stream

    # --- reading -------------------------------------------------------------------------------
    def knows(self, call_id: str) -> bool:
        call = self.calls.get(call_id)
        return call is not None and (call.known or call.direction == "out")

    def learn(self, call_id: str, context: CallContext, direction: str = "in") -> None:
        """What the database knows of a call another instance's flow ran."""
        call = self.calls.get(call_id)
        if call is None:
            call = self.calls[call_id] = LiveCall(call_id, direction, self.now())
        call.context, call.known = context, True

    def agents(self) -> list[dict[str, Any]]:
        return [
            {**self._agent_data(seat), "call_id": seat.call_id}
            for seat in sorted(self.seats.values(), key=lambda s: s.agent)
        ]

    def queue_rows(self) -> list[dict[str, Any]]:
        rows = []
        for board in sorted(self.queues.values(), key=lambda b: b.queue):
            self._roll_day(board, self.now())
            done = board.answered + board.abandoned
            rows.append(
                {
                    **self._queue_data(board, self.now()),
                    "answered_today": board.answered,
                    "within_three_rings_today": board.within_three_rings,
                    "abandoned_today": board.abandoned,
                    "abandon_rate_today": round(board.abandoned / done, 4) if done else 0.0,
                }
            )
            del rows[-1]["at"]
        return rows

    def call_rows(self, agent: str | None = None) -> list[dict[str, Any]]:
        """Every call, or (``agent``) the calls offered to or connected with that agent."""
        rows = []
        for call in sorted(self.calls.values(), key=lambda c: c.since):
            if agent is not None and agent not in call.offered_to and call.agent != agent:
                continue
            c = call.context
            rows.append(
                {
                    "call_id": call.call_id,
                    "direction": call.direction,
                    "agent": call.agent,
                    "queue": call.queue,
                    "unit": c.unit,
                    "resident_id": c.resident_id,
                    "ticket_id": c.ticket_id,
                    "state": call.state,
                    "since": iso(call.since, self.tz),
                }
            )
        return rows

    # --- events --------------------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        """Update from one event, emitting the stream's messages it makes."""
        handler = self._HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def _call(self, call_id: str, direction: str, at: datetime) -> LiveCall:
        call = self.calls.get(call_id)
        if call is None:
            call = self.calls[call_id] = LiveCall(call_id, direction, at)
            placed = self.placed.pop(call_id, None)
            if placed is not None:
                call.context, call.direction = placed, "out"
        return call

    def _arrived(self, e: CallArrived) -> None:
        call = self._call(e.call_id, e.direction, e.arrived_at)
        call.caller, call.known = e.caller, True
        self._send(
            "call.arrived",
            {
                "call_id": e.call_id,
                "direction": e.direction,
                "caller": e.caller,
                "route": e.route,
                "at": iso(e.arrived_at, self.tz),
            },
        )

    def _identified(self, e: CallerIdentified) -> None:
        call = self._call(e.call_id, "in", self.now())
        c = call.context
        c.unit, c.resident_id, c.resident_name = e.unit, e.resident_id, e.resident_name
        self._send(
            "call.identified",
            {
                "call_id": e.call_id,
                "unit": e.unit,
                "resident_id": e.resident_id,
                "resident_name": e.resident_name,
                "units": list(e.units),
                "how": e.how,
            },
        )

    def _filed(self, e: ReportFiled) -> None:
        if e.ticket_id is None:
            return  # spooled: the ticket is filed when the database is back
        call = self.calls.get(e.call_id)
        if call is not None:
            call.context.ticket_id = e.ticket_id
            call.context.unit = call.context.unit or e.unit
        # A flow files (and refiles as the report grows) a ticket that is "new".
        self._ticket(
            TicketChanged(
                ticket_id=e.ticket_id,
                kind=e.kind,
                state="new",
                unit=e.unit,
                restricted=e.about_staff,
                at=self.now(),
            )
        )

    def _handed(self, e: HandedToQueue) -> None:
        call = self._call(e.call_id, "in", self.now())
        c = call.context
        c.ticket_id = e.ticket_id or c.ticket_id
        c.unit, c.resident_id = c.unit or e.unit, c.resident_id or e.resident_id
        call.queue = e.queue

    def _flow_ended(self, e: CallEnded) -> None:
        call = self.calls.get(e.call_id)
        if call is None or call.state != "ivr":
            return  # a queue has it now (or never had: an outbound flow's own ending)
        if e.direction == "in" and e.disposition in QUEUED_ENDINGS:
            self.call_later(QUEUE_JOIN_GRACE_S, self._forget_unqueued, e.call_id)
            return
        self._end(call, e.disposition, self.now())  # an outbound flow's: its dialer call goes on

    def _forget_unqueued(self, call_id: str) -> None:
        call = self.calls.get(call_id)
        if call is not None and call.state == "ivr":
            self._end(call, "to_agent", self.now())

    def _placed(self, e: OriginatePlaced) -> None:
        self.placed[e.call_id] = CallContext(
            unit=e.unit, resident_name=e.resident, campaign_id=e.campaign_id, lead_id=e.lead_id
        )

    def _answered_out(self, e: OutboundAnswered) -> None:
        call = self._call(e.call_id, "out", self.now())
        call.caller = e.number

    def _joined(self, e: QueueCallerJoined) -> None:
        call = self._call(e.call_id, "in", e.at)
        call.caller = call.caller or e.caller
        call.queue, call.state, call.joined = e.queue, "queued", e.at
        board = self._board(e.queue, e.at)
        board.waiting[e.call_id] = e.at
        c = call.context
        self._send(
            "call.queued",
            {
                "call_id": e.call_id,
                "queue": e.queue,
                "ticket_id": c.ticket_id,
                "unit": c.unit,
                "resident_id": c.resident_id,
                "at": iso(e.at, self.tz),
            },
        )
        self._send_queue(board, e.at)

    def _left(self, e: QueueCallerLeft) -> None:
        board = self._board(e.queue, e.at)
        board.waiting.pop(e.call_id, None)
        call = self.calls.get(e.call_id)
        if e.abandoned:
            board.abandoned += 1
            if call is not None:
                self._end(call, "abandoned", e.at)
        elif call is not None and call.state == "queued":
            # Out of time (an answered call leaves while its agent's phone rings, "offered",
            # AgentConnect next): the dialplan may queue it elsewhere (duty).
            call.state = "ivr"
            self.call_later(QUEUE_JOIN_GRACE_S, self._forget_unqueued, e.call_id)
        self._send_queue(board, e.at)

    def _offered(self, e: CallOffered) -> None:
        call = self._call(e.call_id, "in", e.at)
        call.state, call.queue, call.caller = "offered", e.queue, call.caller or e.caller
        call.offered_to.add(e.agent)
        self._seat_call(e.agent, e.call_id, "ringing", e.queue, e.at)
        c = call.context
        self._send(
            "call.offered",
            {
                "call_id": e.call_id,
                "agent": e.agent,
                "queue": e.queue,
                "caller": call.caller,
                "unit": c.unit,
                "resident_id": c.resident_id,
                "resident_name": c.resident_name,
                "ticket_id": c.ticket_id,
                "campaign_id": c.campaign_id,
                "lead_id": c.lead_id,
                "at": iso(e.at, self.tz),
            },
            agents=frozenset({e.agent}),
        )

    def _missed(self, e: OfferMissed) -> None:
        call = self.calls.get(e.call_id)
        if call is not None:
            call.offered_to.discard(e.agent)
            if call.state == "offered" and not call.offered_to:
                call.state = "queued"
        self._seat_free(e.agent, e.call_id, e.at)

    def _connected(self, e: CallConnected) -> None:
        call = self._call(e.call_id, "in", e.at)
        board = self._board(e.queue, e.at)
        board.waiting.pop(e.call_id, None)
        board.answered += 1
        if e.hold_seconds <= self.three_rings_s:
            board.within_three_rings += 1
        self._connect(call, e.agent, e.queue, e.at)
        self._send_queue(board, e.at)

    def _dialer_connected(self, e: AgentConnected) -> None:
        call = self.calls.get(e.call_id)
        if call is not None and call.state != "connected":
            self._connect(call, e.agent, call.queue, self.now())

    def _connect(self, call: LiveCall, agent: str, queue: str | None, at: datetime) -> None:
        for other in call.offered_to - {agent}:  # ringall: the others stop ringing
            self._seat_free(other, call.call_id, at)
        call.offered_to = {agent}
        call.state, call.agent, call.queue, call.since = "connected", agent, queue, at
        self._seat_call(agent, call.call_id, "on_call", queue, at)
        c = call.context
        self._send(
            "call.connected",
            {
                "call_id": call.call_id,
                "agent": agent,
                "queue": queue,
                "unit": c.unit,
                "resident_id": c.resident_id,
                "ticket_id": c.ticket_id,
                "campaign_id": c.campaign_id,
                "lead_id": c.lead_id,
                "at": iso(at, self.tz),
            },
            agents=frozenset({agent}),
        )

    def _done(self, e: AgentCallDone) -> None:
        seat = self._seat(e.agent)
        if seat.call_id == e.call_id:
            wrapup = max((m.wrapup_s for m in seat.members.values()), default=0.0)
            self._seat_call(e.agent, None, "wrap_up", e.queue, e.at)
            seat.wrapup_timer = self.call_later(wrapup, self._wrapped_up, e.agent)
        call = self.calls.get(e.call_id)
        if call is not None:
            self._end(call, "completed", e.at)

    def _wrapped_up(self, agent: str) -> None:
        seat = self._seat(agent)
        seat.wrapup_timer = None
        if seat.call_state == "wrap_up":
            self._seat_call(agent, None, None, None, self.now())

    def _agent_missed(self, e: AgentMissed) -> None:
        """A preview call's agent did not answer: the attempt is given back, no outcome."""
        self._attempt_done(
            AttemptFinished(call_id=e.call_id, disposition="agent_missed", next_step="")
        )

    def _attempt_done(self, e: AttemptFinished) -> None:
        self.placed.pop(e.call_id, None)
        call = self.calls.get(e.call_id)
        if call is not None:
            self._end(call, e.disposition, self.now())

    def _member(self, e: QueueMemberState) -> None:
        seat = self._seat(e.agent)
        seat.name = e.name or seat.name
        m = seat.members.setdefault(e.queue, Member())
        m.device, m.paused, m.paused_reason = e.device, e.paused, e.paused_reason
        m.wrapup_s = float(e.wrapup_seconds)
        self._board(e.queue, e.at)
        self._update_seat(seat, e.at)
        self._send_queue(self.queues[e.queue], e.at)

    def _member_gone(self, e: QueueMemberRemoved) -> None:
        seat = self._seat(e.agent)
        seat.members.pop(e.queue, None)
        self._update_seat(seat, e.at)
        if e.queue in self.queues:
            self._send_queue(self.queues[e.queue], e.at)

    def _ticket(self, e: TicketChanged) -> None:
        self._send(
            "ticket.changed",
            {
                "ticket_id": e.ticket_id,
                "kind": e.kind,
                "state": e.state,
                "unit": e.unit,
                "restricted": e.restricted,
                "at": iso(e.at, self.tz),
            },
            restricted=e.restricted,
        )

    def _campaign(self, e: CampaignChanged) -> None:
        self._send(
            "campaign.state",
            {
                "campaign_id": e.campaign_id,
                "state": e.state,
                "dial_level": e.dial_level,
                "abandon_rate": e.abandon_rate,
                "at": iso(e.at, self.tz),
            },
        )

    def _in_progress(self, e: CallInProgress) -> None:
        """A call the PBX says is up (asked at start or after AMI came back): kept as if its
        events had been seen, and its agent's screen told it is connected (again)."""
        call = self._call(e.call_id, "in", e.since)
        c = call.context
        c.ticket_id, c.unit = c.ticket_id or e.ticket_id, c.unit or e.unit
        call.caller, call.queue = call.caller or e.caller, e.queue
        if e.agent is None:
            if call.state in ("queued", "offered"):
                return  # known waiting (or ringing an agent: still in the queue's list)
            call.state, call.joined = "queued", e.since
            board = self._board(e.queue, e.at)
            board.waiting[e.call_id] = e.since
            self._send_queue(board, e.at)
            return
        if call.state == "connected" and call.agent == e.agent:
            return  # known already (AMI came back without a restart)
        self._connect(call, e.agent, e.queue, e.since)

    def _listed(self, e: PbxCallsListed) -> None:
        """The PBX's queue calls were all listed: those it no longer has ended meanwhile."""
        up = set(e.call_ids)
        for call in list(self.calls.values()):
            # Calls in the voice menu are the flows' to end, outbound ones the dialer's.
            queued = call.state in ("queued", "offered", "connected")
            if call.call_id not in up and queued and call.direction == "in":
                self._end(call, "completed" if call.state == "connected" else "gone", e.at)

    def _recording(self, e: RecordingIndexed) -> None:
        self._send(
            "recording.indexed",
            {
                "recording_id": e.recording_id,
                "kind": e.kind,
                "ticket_id": e.ticket_id,
                "call_id": e.call_id,
                "at": iso(e.at, self.tz),
            },
            restricted=e.restricted,
        )

    _HANDLERS: dict[type[Event], Callable[[LiveState, Any], None]] = {  # noqa: RUF012
        CallArrived: _arrived,
        CallerIdentified: _identified,
        ReportFiled: _filed,
        HandedToQueue: _handed,
        CallEnded: _flow_ended,
        OriginatePlaced: _placed,
        OutboundAnswered: _answered_out,
        AgentConnected: _dialer_connected,
        AttemptFinished: _attempt_done,
        AgentMissed: _agent_missed,
        QueueCallerJoined: _joined,
        QueueCallerLeft: _left,
        CallOffered: _offered,
        OfferMissed: _missed,
        CallConnected: _connected,
        AgentCallDone: _done,
        QueueMemberState: _member,
        QueueMemberRemoved: _member_gone,
        TicketChanged: _ticket,
        CampaignChanged: _campaign,
        CallInProgress: _in_progress,
        PbxCallsListed: _listed,
        RecordingIndexed: _recording,
    }
    EVENT_TYPES: tuple[type[Event], ...] = tuple(_HANDLERS)  # what the live state reads

    # --- pieces ----------------------------------------------------------------------------------
    def _end(self, call: LiveCall, disposition: str, at: datetime) -> None:
        self.calls.pop(call.call_id, None)
        for queue in self.queues.values():
            queue.waiting.pop(call.call_id, None)
        for agent in call.offered_to:
            seat = self.seats.get(agent)
            if seat is not None and seat.call_id == call.call_id and seat.call_state == "ringing":
                self._seat_free(agent, call.call_id, at)
        self._send(
            "call.ended",
            {
                "call_id": call.call_id,
                "direction": call.direction,
                "disposition": disposition,
                "agent": call.agent,
                "ticket_id": call.context.ticket_id,
                "at": iso(at, self.tz),
            },
            agents=frozenset(call.offered_to | ({call.agent} if call.agent else set())),
        )

    def _seat(self, agent: str) -> Seat:
        seat = self.seats.get(agent)
        if seat is None:
            seat = self.seats[agent] = Seat(agent)
        return seat

    def _seat_call(
        self, agent: str, call_id: str | None, state: str | None, queue: str | None, at: datetime
    ) -> None:
        seat = self._seat(agent)
        if seat.wrapup_timer is not None and seat.wrapup_timer.active():
            seat.wrapup_timer.cancel()
        seat.wrapup_timer = None
        seat.call_id, seat.call_state, seat.queue = call_id, state, queue
        self._update_seat(seat, at)

    def _seat_free(self, agent: str, call_id: str, at: datetime) -> None:
        seat = self._seat(agent)
        if seat.call_id == call_id and seat.call_state == "ringing":
            self._seat_call(agent, None, None, None, at)

    def _update_seat(self, seat: Seat, at: datetime) -> None:
        state = seat.derived()
        if state == seat.state and seat.since is not None:
            return
        seat.state, seat.since = state, at
        self._send("agent.state", self._agent_data(seat))

    def _agent_data(self, seat: Seat) -> dict[str, Any]:
        return {
            "agent": seat.agent,
            "name": seat.name,
            "state": seat.state,
            "paused_reason": seat.paused_reason() if seat.state == "paused" else None,
            "since": iso(seat.since, self.tz),
            "queue": seat.queue,
        }

    def _board(self, queue: str, at: datetime) -> QueueBoard:
        board = self.queues.get(queue)
        if board is None:
            board = self.queues[queue] = QueueBoard(queue)
        self._roll_day(board, at)
        return board

    def _roll_day(self, board: QueueBoard, at: datetime) -> None:
        day = at.astimezone(self.tz).date()
        if board.day != day:
            board.day, board.answered, board.within_three_rings, board.abandoned = day, 0, 0, 0

    def _queue_data(self, board: QueueBoard, at: datetime) -> dict[str, Any]:
        longest = max(
            ((at - joined).total_seconds() for joined in board.waiting.values()), default=0
        )
        free = sum(
            1
            for seat in self.seats.values()
            if seat.state == "free"
            and (m := seat.members.get(board.queue)) is not None
            and m.device == "free"
            and not m.paused
        )
        return {
            "queue": board.queue,
            "waiting": len(board.waiting),
            "longest_wait_s": max(0, int(longest)),
            "agents_free": free,
            "at": iso(at, self.tz),
        }

    def _send_queue(self, board: QueueBoard, at: datetime) -> None:
        self._send("queue.state", self._queue_data(board, at))

    def _send(
        self,
        kind: str,
        data: dict[str, Any],
        *,
        agents: frozenset[str] = frozenset(),
        restricted: bool = False,
    ) -> None:
        self.emit(Message(kind, data, agents, restricted))
