"""The server's part of a screen pop, in one process and counted in CPU time (load-independent):
an AMI `AgentCalled` as bytes, parsed (`AMIParser`), turned into `CallOffered` (`QueueEvents`),
published on the bus, applied to the live state and written to the event stream's subscribers
(`LiveStream`): what `hotline serve` does on its reactor between the PBX's event and the SSE
write. With --subscribers agents' streams connected (each pop is for one of them; the others
only check they may not see it, and read the ringing agent's new state). Between pops, untimed,
the agent's phone stops ringing (AgentRingNoAnswer), so every pop changes the agent's state.

    python bench/console_pop_server.py                   # 50 subscribers, 20,000 pops
    python bench/console_pop_server.py --subscribers 1 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from _header import print_header, print_load_at_end  # bench/ is on sys.path when this runs
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from hotline.core.event_bus import EventBus
from hotline.core.events import CallArrived, CallerIdentified
from hotline.core.users import Principal, UserRole
from hotline.dialer.ami_protocol import AMIParser, format_message
from hotline.dialer.queue_events import PUBLISHED, QueueEvents, agent_namer
from hotline.live_state import LiveState
from hotline.live_stream import LiveStream
from hotline.pbxsim.ami_channels import Channel

AT = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
TEMPLATE = "PJSIP/agent{agent}"


class Request:
    """What LiveStream.open and a subscriber use of a twisted Request: bytes counted."""

    channel = None

    def __init__(self) -> None:
        self.written = 0

    def setHeader(self, name: str, value: str) -> None:
        pass

    def registerProducer(self, producer: object, streaming: bool) -> None:
        pass

    def notifyFinish(self) -> Deferred[None]:
        return Deferred()

    def write(self, data: bytes) -> None:
        self.written += len(data)


def agent_event(event: str, call_id: str, extension: str, n: int) -> bytes:
    """AgentCalled (or AgentRingNoAnswer) as the simulated PBX (and Asterisk 22) sends it."""
    caller = Channel(f"PJSIP/trunk-{n:08x}", call_id, call_id, "hotline", "s", state=6)
    caller.cid_num, caller.cid_name = "13700002222", "3-2-301 王芳"
    agent = Channel(f"PJSIP/agent{extension}-{n:08x}", f"{call_id}9", call_id, "agents", "s")
    headers = [
        ("Event", event),
        ("Privilege", "agent,all"),
        *caller.block(),
        *agent.block("Dest"),
        ("Queue", "repairs"),
        ("Interface", TEMPLATE.format(agent=extension)),
        ("MemberName", f"Agent {extension}"),
    ]
    return format_message(headers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=50)
    parser.add_argument("--pops", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true", help="print the costliest functions")
    args = parser.parse_args()
    print_header()
    bus = EventBus()
    state = LiveState(ZoneInfo("Asia/Shanghai"), 15.0, Clock().callLater, lambda: AT)
    live = LiveStream(state, Clock(), wall=lambda: 1_796_000_000.0)
    bus.subscribe(live.take, (CallArrived, CallerIdentified, *PUBLISHED))
    events = QueueEvents(bus, lambda: AT, agent_namer(TEMPLATE))
    extensions = [str(1001 + i) for i in range(args.subscribers)]
    requests = []
    for ext in extensions:
        request = Request()
        live.open(request, Principal(f"a{ext}", UserRole.AGENT, extension=ext), None)  # type: ignore[arg-type]
        requests.append(request)
    wires, n = [], args.pops
    for i in range(n):
        call_id = f"1796000000.{i}"
        # The flow ran here: the call and its resident are known, no database lookup.
        bus.publish(
            CallArrived(
                call_id=call_id,
                direction="in",
                route="inbound",
                caller="13700002222",
                callee="8000",
                uniqueid=call_id,
                arrived_at=AT,
                arrival_known=True,
            )
        )
        bus.publish(
            CallerIdentified(
                call_id=call_id,
                unit="3-2-301",
                how="caller-id",
                resident_id=1,
                resident_name="王芳",
                units=("3-2-301",),
            )
        )
        ext = extensions[i % len(extensions)]
        wires.append(
            (
                agent_event("AgentCalled", call_id, ext, i),
                agent_event("AgentRingNoAnswer", call_id, ext, i),
            )
        )
    ami = AMIParser(expect_banner=False)
    profile = cProfile.Profile() if args.profile else None
    cpu = wall = 0.0
    sent = 0
    for called, missed in wires:
        before = sum(r.written for r in requests)
        if profile is not None:
            profile.enable()
        c, w = time.process_time(), time.perf_counter()
        for msg in ami.feed(called):
            events.on_event(msg)
        cpu, wall = cpu + time.process_time() - c, wall + time.perf_counter() - w
        if profile is not None:
            profile.disable()
        sent += sum(r.written for r in requests) - before
        for msg in ami.feed(missed):  # the phone stops ringing (untimed): the next pop is whole
            events.on_event(msg)
    print(
        f"pop, AMI bytes -> SSE writes: {n} pops, {args.subscribers} subscribers, "
        f"{len(wires[0][0])} bytes in, {sent / n:.0f} bytes out a pop"
    )
    print(f"  CPU {cpu / n * 1e6:.1f} us a pop (wall {wall / n * 1e6:.1f} us)")
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(12)
    print_load_at_end()


if __name__ == "__main__":
    main()
