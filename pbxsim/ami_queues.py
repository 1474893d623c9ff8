"""Simulated call queues and their agents, as ``queues.conf`` and QueueStatus show them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from hotline.dialer.ami_protocol import Header

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime


@dataclass
class QueueMember:
    """A queue agent; ``talk_s`` is the range a conversation's length is drawn from.
    ``answers`` False: the phone rings out every time (an agent away from the desk)."""

    name: str
    interface: str
    talk_s: tuple[float, float] = (2.0, 2.0)
    # The member's own wrapuptime (queues.conf `member => ...,wrapuptime`, what its events
    # report); 0: the queue's `wrapuptime` (`Queue.wrapup_s`) applies, and events say 0.
    wrapup_s: float = 0.0
    ring_s: float = 0.0  # how long the phone rings before an answering agent picks up
    answers: bool = True
    paused: bool = False
    paused_reason: str = ""
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = 0
    ringing_or_up: bool = False  # device state (Status 2) - set before InCall
    in_call: bool = False
    membership: str = "static"  # queues.conf; "dynamic": added with QueueAdd

    def _stats(self) -> list[Header]:
        return [
            ("Penalty", "0"),
            ("CallsTaken", str(self.calls_taken)),
            ("LastCall", str(self.last_call)),
            ("LastPause", str(self.last_pause)),
            ("LoginTime", str(self.login_time)),
            ("InCall", "1" if self.in_call else "0"),
            ("Status", "2" if self.ringing_or_up else "1"),
            ("Paused", "1" if self.paused else "0"),
            ("PausedReason", self.paused_reason),
        ]

    def status_headers(self, queue: str) -> list[Header]:
        """The ``QueueMember`` item of QueueStatus."""
        return [
            ("Queue", queue),
            ("Name", self.name),
            ("Location", self.interface),
            ("StateInterface", self.interface),
            ("Membership", self.membership),
            *self._stats(),
            ("Wrapuptime", str(int(self.wrapup_s))),
        ]

    def event_headers(self, queue: str) -> list[Header]:
        """The body of QueueMemberStatus / Pause / Added / Removed events."""
        return [
            ("Queue", queue),
            ("MemberName", self.name),
            ("Interface", self.interface),
            ("StateInterface", self.interface),
            ("Membership", self.membership),
            *self._stats(),
            ("Ringinuse", "0"),
            ("Wrapuptime", str(int(self.wrapup_s))),
        ]


class WaitingCaller(Protocol):
    """A caller waiting in a queue (`ami_queue_calls.QueueCall`), as the queue and the PBX that
    serves it see it."""

    joined: float  # when it joined the queue
    agent: QueueMember | None  # the member ringing for it, or bridged with it

    def connect(self, agent: QueueMember) -> None: ...

    def entry_headers(self, queue: str, position: int, now: float) -> list[Header]: ...


@dataclass
class Queue:
    name: str
    members: list[QueueMember]
    strategy: str = "ringall"
    member_timeout_s: float = 15.0  # queues.conf `timeout`: how long a member's phone rings
    wrapup_s: float = 0.0  # queues.conf `wrapuptime`, for members without their own
    waiting: list[WaitingCaller] = field(default_factory=list)
    completed: int = 0
    abandoned: int = 0
    holdtime: int = 0
    talktime: int = 0

    def wrapup_of(self, member: QueueMember) -> float:
        return member.wrapup_s or self.wrapup_s

    def params(self) -> list[Header]:
        perf = "100.0" if self.completed else "0.0"
        return [
            ("Queue", self.name),
            ("Max", "0"),
            ("Strategy", self.strategy),
            ("Calls", str(len(self.waiting))),
            ("Holdtime", str(self.holdtime)),
            ("TalkTime", str(self.talktime)),
            ("Completed", str(self.completed)),
            ("Abandoned", str(self.abandoned)),
            ("ServiceLevel", "0"),
            ("ServicelevelPerf", perf),
            ("ServicelevelPerf2", perf),
            ("Weight", "0"),
        ]

    def summary(self, now: float) -> list[Header]:
        available = sum(1 for m in self.members if not m.paused and not m.ringing_or_up)
        longest = max((int(now - call.joined) for call in self.waiting), default=0)
        return [
            ("Queue", self.name),
            ("LoggedIn", str(len(self.members))),
            ("Available", str(available)),
            ("Callers", str(len(self.waiting))),
            ("HoldTime", str(self.holdtime)),
            ("TalkTime", str(self.talktime)),
            ("LongestHoldTime", str(longest)),
        ]


def default_queues(clock: IReactorTime) -> list[Queue]:
    """Queue ``support`` with one agent, as in the golden ``queues.conf``."""
    login = int(clock.seconds())
    agent = QueueMember("Agent Local 200", "Local/200@queue-agent/n", login_time=login)
    return [Queue("support", [agent])]
