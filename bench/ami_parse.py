"""AMI benchmarks: parser throughput, and 100 originates in flight against the simulator.

Run: .venv/bin/python bench/ami_parse.py [--events 300000] [--calls 100]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from twisted.internet import defer, reactor, task  # noqa: E402

from hotline.core import dialplan  # noqa: E402
from hotline.dialer.ami_client import AMIClient, AMIConfig  # noqa: E402
from hotline.dialer.ami_protocol import AMIParser  # noqa: E402
from hotline.net.tcp import bound_port, stop_listening  # noqa: E402
from hotline.pbxsim.ami import AMISimulator  # noqa: E402
from hotline.pbxsim.ami_residents import RandomResidents  # noqa: E402

from golden import FROM_ASTERISK, golden_files, stream  # noqa: E402

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
READ_SIZE = 65536  # what a TCP read hands dataReceived under load


def event_mix() -> bytes:
    """Everything Asterisk sent in the golden AMI transcripts, banners removed."""
    data = b"".join(stream(p, FROM_ASTERISK) for p in golden_files("ami-*.raw"))
    return data.replace(BANNER, b"")


def bench_parser(target_events: int) -> None:
    mix = event_mix()
    per_copy = len(AMIParser(expect_banner=False).feed(mix))
    data = mix * (target_events // per_copy + 1)
    chunks = [data[i : i + READ_SIZE] for i in range(0, len(data), READ_SIZE)]
    best = 0.0
    for _ in range(3):
        parser = AMIParser(expect_banner=False)
        count = 0
        start = time.perf_counter()
        for chunk in chunks:
            count += len(parser.feed(chunk))
        elapsed = time.perf_counter() - start
        best = max(best, count / elapsed)
    print(
        f"parser: {count} messages ({len(data) / 1e6:.1f} MB, golden mix of {per_copy}) "
        f"-> {best:,.0f} messages/s on one core (target >= 50,000)"
    )


async def originate_run(calls: int) -> None:
    residents = RandomResidents(context="residents", rng=random.Random(42), ring_s=(0.5, 25.0))
    sim = AMISimulator(reactor, residents=residents, time_scale=0.02, rng=random.Random(1))
    port = sim.listen(reactor)
    client = AMIClient(
        AMIConfig(port=bound_port(port), username="dialer", secret="dialer-secret"),
    )
    outcomes: dict[str, str] = {}
    client.on("OriginateResponse", lambda m: outcomes.setdefault(m.action_id or "", m["Reason"]))
    await client.start()
    ids = [f"bench-{i}" for i in range(calls)]
    start = time.perf_counter()
    await defer.gatherResults(
        [
            client.originate(
                f"Local/{1000 + i}@residents",
                dialplan.FLOW_CONTEXT,
                "s",
                1,
                variables={dialplan.LEAD_ID: f"lead-{i}"},
                timeout_ms=20000,
                action_id=action_id,
            )
            for i, action_id in enumerate(ids)
        ]
    )
    while len(outcomes) < calls and time.perf_counter() - start < 30:
        await task.deferLater(reactor, 0.05, lambda: None)
    elapsed = time.perf_counter() - start
    channels = await client.core_show_channels()
    await client.logoff()
    await stop_listening(port)
    names = {"4": "answered", "3": "no answer", "5": "busy", "1": "hung up/rejected", "0": "failed"}
    counts = Counter(names.get(r, r) for r in outcomes.values())
    lost = [a for a in ids if a not in outcomes]
    print(
        f"originate: {calls} in flight, {len(outcomes)} OriginateResponse in {elapsed:.2f}s "
        f"(simulated time x{sim.time_scale}); outcomes {dict(counts)}; lost {len(lost)}; "
        f"channels left {len(channels.events)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    bench_parser(args.events)
    task.react(lambda _r: defer.ensureDeferred(originate_run(args.calls)))


if __name__ == "__main__":
    main()
