"""One simulated PBX with both of Asterisk's faces: a resident's call runs the voice menu over
FastAGI, then, as the shipped ``[hotline]`` dialplan does, waits in the queue the flow chose
(or the duty queue when the flow did not finish) until a simulated agent answers after its
ring time and talks for a while, the AMI side telling every step as Asterisk 22 does.

For the demo, the console's browser tests and the benchmarks: ``SimulatedPBX.call(...)``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort

from hotline.core import dialplan
from hotline.pbxsim.ami import AMISimulator
from hotline.pbxsim.ami_inbound import InboundCall
from hotline.pbxsim.ami_queues import Queue, QueueMember
from hotline.pbxsim.fastagi import Observer, PBXOptions, SimCaller, SimCallResult, simulate_call

# [hotline] s: 5 AGI, 6 and 7 the checks, 8 Gosub(hotline-agent), 9 Queue(${HOTLINE_QUEUE});
# the fallback's Queue(duty) is priority 14 (asterisk-conf/extensions.conf).
QUEUE_PRIORITY, FALLBACK_PRIORITY = 9, 14
DUTY = dialplan.QUEUE_DUTY
# The inbound queues of asterisk-conf/queues.conf and their members' extensions.
SHIPPED_QUEUES: dict[str, tuple[str, ...]] = {
    dialplan.QUEUE_REPAIRS: ("101", "102"),
    dialplan.QUEUE_COMPLAINTS: ("102", "103"),
    dialplan.QUEUE_ENQUIRIES: ("101", "102", "103"),
    dialplan.QUEUE_CASHIER: ("103",),
    dialplan.QUEUE_DUTY: ("101", "102", "103"),
}


@dataclass
class InboundResult:
    flow: SimCallResult
    queue: str | None  # where the dialplan sent the call after the flow (None: hung up)
    answered: bool = False  # an agent took the call


def agent_queues(
    extensions: Iterable[str],
    *,
    ring_s: float,
    talk_s: tuple[float, float],
    wrapup_s: float = 0.0,
    template: str = "PJSIP/agent{agent}",
    layout: dict[str, tuple[str, ...]] | None = None,
    login_time: int = 0,
) -> list[Queue]:
    """The shipped queues with one simulated agent per extension, each agent one member object
    shared by their queues (busy in one, busy in all)."""
    members = {
        ext: QueueMember(
            f"Agent {ext}",
            template.format(agent=ext),
            talk_s=talk_s,
            wrapup_s=wrapup_s,
            ring_s=ring_s,
            login_time=login_time,
        )
        for ext in extensions
    }
    return [
        Queue(name, [members[e] for e in exts if e in members], strategy="rrmemory")
        for name, exts in (layout or SHIPPED_QUEUES).items()
    ]


def dialplan_queue(flow: SimCallResult) -> tuple[str | None, int]:
    """Where ``[hotline]`` sends the call once the AGI is over, and at which priority."""
    if flow.agi_status == "HANGUP" or flow.hung_up_at is not None:
        return None, 0
    if flow.variables.get(dialplan.STATUS) != dialplan.STATUS_DONE:
        return DUTY, FALLBACK_PRIORITY
    queue = flow.variables.get(dialplan.QUEUE) or ""
    return (queue, QUEUE_PRIORITY) if queue else (None, 0)


class SimulatedPBX:
    def __init__(
        self,
        reactor: Any,
        fastagi_port: int,
        *,
        queues: Sequence[Queue],
        time_scale: float = 1.0,
        options: PBXOptions | None = None,
        queue_maxwait_s: float = 300.0,
        wall_clock: Callable[[], float] = time.time,
        **ami_options: Any,
    ) -> None:
        self.reactor, self.fastagi_port = reactor, fastagi_port
        self.options = options or PBXOptions(time_scale=time_scale)
        self.queue_maxwait_s = queue_maxwait_s
        self.wall_clock = wall_clock
        self.ami = AMISimulator(reactor, queues=queues, time_scale=time_scale, **ami_options)
        # Uniqueids of inbound channels: far above the AMI side's own sequence, never shared.
        self._ids = itertools.count(1_000_000)

    def listen_ami(self, port: int = 0) -> IListeningPort:
        return self.ami.listen(self.reactor, port)

    def call(
        self,
        caller: SimCaller,
        *,
        args: Sequence[str] = ("8000",),
        patience_s: float | None = None,
        observer: Observer | None = None,
    ) -> Deferred[InboundResult]:
        """A resident calls the hotline: the flow, then the queue; fires when the call is
        over. ``patience_s``: the caller hangs up after waiting that long in the queue."""
        return Deferred.fromCoroutine(self._call(caller, args, patience_s, observer))

    async def _call(
        self,
        caller: SimCaller,
        args: Sequence[str],
        patience_s: float | None,
        observer: Observer | None,
    ) -> InboundResult:
        uniqueid = f"{int(self.wall_clock())}.{next(self._ids)}"
        started = self.ami.now()
        options = replace(self.options, uniqueid=uniqueid, wall_clock=self.wall_clock)
        flow = await simulate_call(
            self.reactor,
            "127.0.0.1",
            self.fastagi_port,
            caller,
            "inbound",
            args=args,
            options=options,
            observer=observer,
        )
        queue, priority = dialplan_queue(flow)
        if queue is None or queue not in self.ami.queues:
            return InboundResult(flow, None)
        # Gosub(hotline-agent): the agent's phone shows the flow's unit and name.
        name = flow.variables.get(dialplan.CALLERNAME) or caller.name or "<unknown>"
        number = caller.number or "<unknown>"
        kept = {k: v for k, v in flow.variables.items() if k in (dialplan.TICKET, dialplan.UNIT)}
        inbound = InboundCall(
            self.ami,
            flow.channel,
            flow.uniqueid,
            (number, name),
            variables=kept,
            connected=(number, caller.name or "<unknown>"),  # CALLERID(name) leaves it be
            created=started,
        )
        waiting = inbound.queue(queue, self.queue_maxwait_s, priority, patience_s)
        await inbound.ended
        return InboundResult(flow, queue, answered=bool(waiting.connected))
