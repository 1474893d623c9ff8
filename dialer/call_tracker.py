"""Follows each originated call through AMI events to its outcome, whatever order they come in.

A call is known by the ActionID of its Originate (our call id) and, once Asterisk has made its
channels, by their Linkedid: the channel variables the Originate set (CALL_ID, LEAD_ID) show up in
VarSet events right after Newchannel, and OriginateResponse carries the first channel's Uniqueid
(which is the Linkedid) when the call got that far.
OriginateResponse may arrive before or after the Hangup events (ami-04, ami-07), so a call is
finished only when its Reason is known and none of its channels is still up. A failed one names
no Uniqueid (`<unknown>`), only the channel it dialled: an Originate that set no variable is
then tied to the hang-ups of that channel's last call, whose cause tells more than Reason 0 does
(ami-09: a callee rejecting with cause 21). Those hang-ups may also come after the response (seen
on Asterisk 22.10.1): a failed call not tied to any channel yet waits `CAUSE_GRACE` for them
before its Reason alone decides (`expire`, from the dialer's tick).

An agent-first (preview) call rings the agent: its OriginateResponse is the agent's leg, and the
resident's leg is the Dial() the dialplan makes from the agent's channel, in the same Linkedid;
DialBegin and DialEnd (DialStatus) tell when the resident was rung and how that ended.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol

from hotline.core import dialplan
from hotline.core.vocabulary import Disposition

from .ami_fields import FieldErrors
from .ami_protocol import AMIMessage
from .dispositions import REASON_ANSWERED, disposition
from .preview_dispositions import resident_disposition

UNKNOWN = "<unknown>"
# The Originate's variables that name one attempt (CAMPAIGN_ID and the like are shared).
CORRELATING = (dialplan.CALL_ID, dialplan.LEAD_ID)
# Hang-ups of channels not (yet) known to be ours are kept this long, in case an
# OriginateResponse names them later; other calls' (inbound) fall out.
EARLY_HANGUPS_KEPT = 2000


@dataclass
class Attempt:
    call_id: str
    lead_id: int
    campaign_id: int
    number: str
    expect_agent: bool  # predictive/progressive: the call should reach an agent
    queued_at: datetime
    dialled_at: datetime | None = None
    linkedid: str | None = None
    channel: str | None = None
    uniqueid: str | None = None
    reason: int | None = None
    refused: bool = False  # the Originate itself was refused (Response: Error)
    causes: list[int] = field(default_factory=list)
    answered_at: datetime | None = None
    connected_at: datetime | None = None
    agent: str | None = None  # the agent's extension, as people and the live views name it
    agent_interface: str | None = None  # the member's interface, as the queue's events name it
    ended_at: datetime | None = None
    variables: dict[str, str] = field(default_factory=dict)  # set on the channel by Originate
    info: dict[str, Any] = field(default_factory=dict)  # what the dialer needs back
    lost_during_outage: bool = False  # ended while AMI was away, its Reason never seen
    agent_first: bool = False  # preview: Originate rang the agent, whose Dial() rings the resident
    dial_status: str | None = None  # agent first: the resident leg's DialEnd
    adopted: bool = False  # placed before a restart, found up at the PBX and followed again

    def outcome(self) -> Disposition | None:
        """None: an agent-first call whose agent never answered, so the resident was not rung."""
        if self.agent_first:
            if self.reason != REASON_ANSWERED:
                return None
            return resident_disposition(self.dial_status, self.causes)
        return disposition(
            None if self.refused else self.reason,
            self.causes,
            answered=self.answered_at is not None,
            expected_agent=self.expect_agent,
            connected=self.connected_at is not None,
        )


class TrackerListener(Protocol):
    def answered(self, attempt: Attempt) -> None: ...
    def connected(self, attempt: Attempt) -> None: ...
    def finished(self, attempt: Attempt, outcome: Disposition) -> None: ...
    def agent_missed(self, attempt: Attempt) -> None: ...


# The Reason of a call whose OriginateResponse was never seen (`disposition`: causes decide).
REASON_UNKNOWN = -1
# How long a failed Originate waits for the hang-up cause of the channel it dialled.
CAUSE_GRACE = timedelta(seconds=2)


class CallTracker:
    def __init__(
        self,
        clock: Callable[[], datetime],
        listener: TrackerListener,
        field_errors: FieldErrors | None = None,
        agent_name: Callable[[str], str] = str,  # a queue member's interface -> its extension
    ) -> None:
        self.clock, self.listener, self.agent_name = clock, listener, agent_name
        self.fields = field_errors or FieldErrors()
        self.calls: dict[str, Attempt] = {}
        self._by_linkedid: dict[str, Attempt] = {}
        self._by_variable: dict[tuple[str, str], Attempt] = {}
        self._live: dict[str, int] = {}  # channels up per Linkedid
        self._seen: set[str] = set()  # Linkedids that had channels
        # Hang-ups before we knew the call: Linkedid -> (dialled channel, causes).
        self._early_hangups: OrderedDict[str, tuple[str, list[int]]] = OrderedDict()
        # Failed calls waiting for their channel's hang-up cause: dialled channel -> (call, since).
        self._awaiting_cause: dict[str, tuple[Attempt, datetime]] = {}

    def dialled(self, attempt: Attempt) -> None:
        if not attempt.agent_first:  # else the resident is dialled at DialBegin
            attempt.dialled_at = attempt.dialled_at or self.clock()
        self.calls[attempt.call_id] = attempt
        for name in CORRELATING:
            if name in attempt.variables:
                self._by_variable[name, attempt.variables[name]] = attempt

    def refused(self, call_id: str) -> None:
        """The Originate action answered `Response: Error`: no OriginateResponse will follow."""
        attempt = self.calls.get(call_id)
        if attempt is not None:
            attempt.refused = True
            self._finish(attempt)

    def call_of(self, linkedid: str) -> str | None:
        """The dialer's call id of the channels sharing ``linkedid``, if it is one of ours."""
        attempt = self._by_linkedid.get(linkedid)
        return None if attempt is None else attempt.call_id

    def in_flight(self) -> list[Attempt]:
        return list(self.calls.values())

    def expire(self) -> None:
        """Failed calls whose channel's hang-up did not come within the grace: Reason decides."""
        now = self.clock()
        for dialled, (attempt, since) in list(self._awaiting_cause.items()):
            if now - since >= CAUSE_GRACE:
                del self._awaiting_cause[dialled]
                self._finish(attempt)

    def on_event(self, msg: AMIMessage) -> None:
        handler = self._HANDLERS.get(msg.name)
        if handler is not None:
            handler(self, msg)

    def adopt(self, attempt: Attempt, linkedid: str, channels: int) -> None:
        """A call placed before a restart, found up at the PBX with ``channels`` channels under
        ``linkedid``: followed from here as if placed now (its end recorded once, by us)."""
        attempt.adopted = True
        self.dialled(attempt)
        self._live[linkedid] = channels
        self._seen.add(linkedid)
        self._link(attempt, linkedid)

    def settle(self, attempt: Attempt, live_linkedids: set[str]) -> None:
        """After an AMI outage: a call whose channels are gone ended while we were away."""
        if attempt.linkedid is not None and attempt.linkedid in live_linkedids:
            return
        if attempt.reason is None and not attempt.answered_at:
            attempt.lost_during_outage = True
        if attempt.linkedid is not None:
            self._live[attempt.linkedid] = 0
        attempt.reason = attempt.reason if attempt.reason is not None else REASON_UNKNOWN
        self._finish(attempt)

    # event handlers -------------------------------------------------------------------------------
    def _newchannel(self, msg: AMIMessage) -> None:
        linkedid = msg.get("Linkedid")
        if linkedid:
            self._live[linkedid] = self._live.get(linkedid, 0) + 1
            self._seen.add(linkedid)

    def _varset(self, msg: AMIMessage) -> None:
        attempt = self._by_variable.get((msg.get("Variable") or "", msg.get("Value") or ""))
        linkedid = msg.get("Linkedid")
        if attempt is not None and linkedid and attempt.linkedid is None:
            self._link(attempt, linkedid)

    def _originate_response(self, msg: AMIMessage) -> None:
        attempt = self.calls.get(msg.action_id or "")
        if attempt is None:
            return
        attempt.reason = self.fields.integer(msg, "Reason")
        uniqueid = msg.get("Uniqueid")
        if uniqueid and uniqueid != UNKNOWN:
            attempt.uniqueid, attempt.channel = uniqueid, msg.get("Channel")
            if attempt.linkedid is None:
                self._link(attempt, uniqueid)
        elif attempt.linkedid is None:
            linkedid = self._early_call_of(msg.get("Channel") or "")
            if linkedid is not None:
                self._link(attempt, linkedid)
        # An agent-first call's OriginateResponse is the agent's answer, not the resident's.
        answered = attempt.reason == REASON_ANSWERED and not attempt.agent_first
        if answered and attempt.answered_at is None:
            attempt.answered_at = self.clock()
            self.listener.answered(attempt)
        dialled = msg.get("Channel") or ""
        if not answered and attempt.linkedid is None and not attempt.agent_first and dialled:
            self._awaiting_cause[dialled] = (attempt, self.clock())
            return
        self._finish_if_over(attempt)

    def _agent_first(self, msg: AMIMessage) -> Attempt | None:
        attempt = self._by_linkedid.get(msg.get("Linkedid") or "")
        return attempt if attempt is not None and attempt.agent_first else None

    def _dial_begin(self, msg: AMIMessage) -> None:
        attempt = self._agent_first(msg)
        if attempt is not None and attempt.dialled_at is None:
            attempt.dialled_at = self.clock()
            attempt.channel, attempt.uniqueid = msg.get("DestChannel"), msg.get("DestUniqueid")

    def _dial_end(self, msg: AMIMessage) -> None:
        attempt = self._agent_first(msg)
        if attempt is None or attempt.dial_status is not None:
            return
        attempt.dial_status = msg.get("DialStatus")
        if attempt.dial_status == "ANSWER":
            # The agent is on the line already: answered and connected are one moment.
            attempt.answered_at = attempt.connected_at = self.clock()
            self.listener.answered(attempt)
            self.listener.connected(attempt)

    def _agent_connect(self, msg: AMIMessage) -> None:
        attempt = self._by_linkedid.get(msg.get("Linkedid") or "")
        if attempt is not None and attempt.connected_at is None:
            attempt.connected_at = self.clock()
            interface = attempt.agent_interface = msg.get("Interface")
            attempt.agent = self.agent_name(interface) if interface else msg.get("MemberName")
            self.listener.connected(attempt)

    def _hangup(self, msg: AMIMessage) -> None:
        linkedid = msg.get("Linkedid") or ""
        cause = self.fields.integer(msg, "Cause")
        self._live[linkedid] = max(self._live.get(linkedid, 1) - 1, 0)
        attempt = self._by_linkedid.get(linkedid)
        dialled = _dialled(msg.get("Channel") or "")
        if attempt is None and dialled in self._awaiting_cause:
            attempt = self._awaiting_cause.pop(dialled)[0]
            self._link(attempt, linkedid)
        if attempt is None:
            if not self._live.get(linkedid):
                self._live.pop(linkedid, None)
                self._seen.discard(linkedid)
            self._early_hangups.setdefault(linkedid, (dialled, []))[1].append(cause)
            self._early_hangups.move_to_end(linkedid)
            while len(self._early_hangups) > EARLY_HANGUPS_KEPT:
                self._early_hangups.popitem(last=False)
            return
        attempt.causes.append(cause)
        self._finish_if_over(attempt)

    _HANDLERS: ClassVar[dict[str, Callable[[CallTracker, AMIMessage], None]]] = {
        "Newchannel": _newchannel,
        "VarSet": _varset,
        "OriginateResponse": _originate_response,
        "AgentConnect": _agent_connect,
        "DialBegin": _dial_begin,
        "DialEnd": _dial_end,
        "Hangup": _hangup,
    }

    # bookkeeping ----------------------------------------------------------------------------------
    def _link(self, attempt: Attempt, linkedid: str) -> None:
        attempt.linkedid = linkedid
        self._by_linkedid[linkedid] = attempt
        attempt.causes.extend(self._early_hangups.pop(linkedid, ("", []))[1])

    def _early_call_of(self, dialled: str) -> str | None:
        """The Linkedid of the latest unclaimed call on the channel an Originate dialled."""
        for linkedid in reversed(self._early_hangups):
            if dialled and self._early_hangups[linkedid][0] == dialled:
                return linkedid
        return None

    def _finish_if_over(self, attempt: Attempt) -> None:
        linkedid = attempt.linkedid
        if linkedid is not None and linkedid in self._seen and self._live.get(linkedid, 0) > 0:
            return
        if attempt.reason is None:
            if not attempt.adopted:
                return
            # Adopted while it rang: its OriginateResponse may have gone out before we followed
            # it, so once its channels are gone their hang-up causes decide.
            attempt.reason = REASON_UNKNOWN
        self._finish(attempt)

    def _finish(self, attempt: Attempt) -> None:
        if self.calls.pop(attempt.call_id, None) is None:
            return
        for name in CORRELATING:
            if name in attempt.variables:
                self._by_variable.pop((name, attempt.variables[name]), None)
        if attempt.linkedid is not None:
            self._by_linkedid.pop(attempt.linkedid, None)
            self._live.pop(attempt.linkedid, None)
            self._seen.discard(attempt.linkedid)
        attempt.ended_at = self.clock()
        outcome = attempt.outcome()
        if outcome is None:
            self.listener.agent_missed(attempt)
        else:
            self.listener.finished(attempt, outcome)


def _dialled(channel: str) -> str:
    """The dial string a channel was made from: `Local/100@sim-reject-0000000e;1` ->
    `Local/100@sim-reject`, as a failed OriginateResponse names it."""
    return re.sub(r"-[0-9a-f]{8}(;[12])?$", "", channel)
