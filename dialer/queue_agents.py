"""The agents of the outbound queue as the pacer must see them, from app_queue's AMI events.

QueueMemberStatus Status is Asterisk's device state: 1 not in use (free), 2 in use, 3 busy,
6 ringing, 7 ring in use, 8 on hold (all busy with a call), 4 invalid and 5 unavailable (gone).
After AgentComplete the member is in wrap-up: for the queue's `wrapuptime` (an end the pacer is
told; AMI never reports a queue's, so it comes from the dialplan contract, and a member's own
`Wrapuptime` wins when its line sets one), and for as long as the agent then stays paused
(after-call work: the end comes with the unpause, and the predictive pacer learns its length
from these events). A member paused when
not after a call (a break, a ring-no-answer autopause) is gone for the dialer. A pause must
follow AgentComplete within `pause_grace` seconds (or the queue's wrap-up) to count as
after-call work; without one the member is free once that time is over.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from hotline.core.dialplan import WRAPUP_SECONDS

from .agent_states import AgentSink
from .ami_protocol import AMIMessage

FREE, GONE = {"1"}, {"4", "5", "0"}


class QueueAgents:
    def __init__(
        self, queue: str, pacer: AgentSink, clock: Callable[[], float], pause_grace: float = 2.0
    ) -> None:
        self.queue, self.pacer, self.clock = queue, pacer, clock
        self.wrapup_seconds = float(WRAPUP_SECONDS.get(queue, 0))  # a member's own wins
        self.pause_grace = pause_grace
        self._wrapup_until: dict[str, float] = {}
        self._after_call: set[str] = set()  # AgentComplete seen, not free again yet
        self._paused: set[str] = set()

    def expire_wrapups(self) -> None:
        """app_queue sends no event when wrap-up ends: an agent whose wrap-up is over is free."""
        now = self.clock()
        for member, until in list(self._wrapup_until.items()):
            if until <= now:
                del self._wrapup_until[member]
                self._after_call.discard(member)
                self.pacer.agent_free(member, now)

    def _member(self, msg: AMIMessage) -> str | None:
        if msg.get("Queue") != self.queue:
            return None
        return msg.get("Interface") or msg.get("StateInterface") or msg.get("Location")

    def on_event(self, msg: AMIMessage) -> None:
        name = msg.name
        member = self._member(msg)
        if member is None:
            return
        now = self.clock()
        if name in ("QueueMemberStatus", "QueueMember", "QueueMemberAdded", "QueueMemberPause"):
            self._status(msg, member, now)
        elif name == "QueueMemberRemoved":
            self._after_call.discard(member)
            self._paused.discard(member)
            self.pacer.agent_gone(member, now)
        elif name == "AgentConnect":
            self._wrapup_until.pop(member, None)
            self._after_call.discard(member)
            self.pacer.agent_talking(member, now)
        elif name == "AgentComplete":
            self._after_call.add(member)
            if member in self._paused:  # paused during the call: wrap-up until the unpause
                self.pacer.agent_wrapup(member, now, None)
                return
            until = now + max(self.wrapup_seconds, self.pause_grace)
            self._wrapup_until[member] = until
            self.pacer.agent_wrapup(member, now, until)

    def _status(self, msg: AMIMessage, member: str, now: float) -> None:
        if msg.get("Wrapuptime"):
            self.wrapup_seconds = float(msg["Wrapuptime"])
        status, paused = msg.get("Status") or "", msg.get("Paused") == "1"
        (self._paused.add if paused else self._paused.discard)(member)
        if status in GONE or (paused and status in FREE and member not in self._after_call):
            self._wrapup_until.pop(member, None)
            self._after_call.discard(member)
            self.pacer.agent_gone(member, now)
        elif paused and member in self._after_call:
            # After-call work: the wrap-up goes on until the agent unpauses.
            self._wrapup_until.pop(member, None)
            self.pacer.agent_wrapup(member, now, None)
        elif status in FREE:
            until = self._wrapup_until.get(member, 0.0)
            if until > now:
                self.pacer.agent_wrapup(member, now, until)
            else:
                self._after_call.discard(member)
                self.pacer.agent_free(member, now)
        else:  # on a call (paused during it: its wrap-up lasts until the unpause)
            self._wrapup_until.pop(member, None)
            self._after_call.discard(member)
            self.pacer.agent_talking(member, now)


class RingNoAnswer:
    """An agent who lets a call delivered to them ring out (app_queue's AgentRingNoAnswer) is
    paused in the queue and counted, as VICIdial does: the pacer stops counting on them, so the
    next resident is not abandoned too. The agent (or a supervisor) unpauses when back."""

    def __init__(self, queue: str, pause: Callable[[str], object]) -> None:
        self.queue, self.pause = queue, pause
        self.missed: Counter[str] = Counter()  # ring-outs per member interface

    def on_event(self, msg: AMIMessage) -> None:
        if msg.name != "AgentRingNoAnswer" or msg.get("Queue") != self.queue:
            return
        member = msg.get("Interface") or msg.get("MemberName")
        if member:
            self.missed[member] += 1
            self.pause(member)
