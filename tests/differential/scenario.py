"""What a differential scenario is, and what a run of one leaves behind (compared across PBXs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from hotline.core.db import Database
from hotline.core.models import CallRecord, Ticket, Unit
from hotline.pbxsim.fastagi import Input

# Residents the dialer calls, by the prefix of their number: what their phone does. The real
# Asterisk's [test-residents] context (asterisk_pbx.py) and the AMI simulator's model agree.
OUTCOME_PREFIXES = {
    "1381": "answer",
    "1382": "busy",
    "1383": "congestion",
    "1384": "noanswer",
    "1385": "reject",  # Hangup(21) before answering
    "1386": "unallocated",  # Hangup(1)
}


@dataclass(frozen=True)
class InboundCall:
    """A resident calls `dialled` from `caller` and does `inputs`, one per command that reads
    the keypad or a voice (as the PBX simulator consumes them)."""

    dialled: str
    caller: str | None
    inputs: tuple[Input, ...]
    # SIGKILL `hotline serve` when its flow sends a command starting with this.
    kill_service_at: str | None = None
    # The caller hangs up this long after joining a queue; None: stays until the agent hangs up.
    patience_s: float | None = 0.2


@dataclass(frozen=True)
class Scenario:
    name: str
    residents: str  # CSV for `residents import`
    inbound: tuple[InboundCall, ...] = ()
    notice_buildings: tuple[str, ...] = ()  # a notice campaign to these buildings
    notice_mode: str = "agentless"  # predictive: the residents go to the outbound queue
    # The outbound queue's one free agent lets every call ring out (a predictive call abandoned).
    agent_rings_out: bool = False
    drop_ami_after_originates: int | None = None  # cut the AMI link after that many Originates


@dataclass
class Outcome:
    """What a run leaves: the same on every PBX, else the simulator is not Asterisk."""

    handed_to: list[str | None] = field(default_factory=list)  # queue each inbound call reached
    tickets: list[tuple[Any, ...]] = field(default_factory=list)
    inbound_calls: list[tuple[Any, ...]] = field(default_factory=list)
    outbound_calls: list[tuple[Any, ...]] = field(default_factory=list)


def read_outcome(db: Database, handed_to: list[str | None]) -> Outcome:
    """Tickets and call records without what differs by nature (ids, times, uniqueids)."""
    outcome = Outcome(handed_to=handed_to)
    with db.session() as s:
        units = {u.id: u.code for u in s.scalars(select(Unit))}
        for t in s.scalars(select(Ticket).order_by(Ticket.id)):
            outcome.tickets.append(
                (
                    t.kind,
                    t.category,
                    t.state,
                    t.incomplete,
                    units.get(t.unit_id) if t.unit_id else None,
                    t.caller_number,
                    t.recording is not None,
                )
            )
        for c in s.scalars(select(CallRecord).order_by(CallRecord.caller, CallRecord.callee)):
            if c.direction == "in":
                outcome.inbound_calls.append(
                    (c.caller, c.callee, c.disposition, c.queue, c.path, c.ticket_id is not None)
                )
            else:
                # Not the hang-up cause yet: the dialer records a busy call without it when
                # Asterisk sends OriginateResponse before the callee's Hangup, an order a real
                # Asterisk 22.10.1 varies from call to call.
                outcome.outbound_calls.append((c.callee, c.disposition))
    outcome.outbound_calls.sort()
    return outcome
