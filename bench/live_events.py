"""The live stream's latencies (issue 13 and 14's figures), each service a `hotline serve`
process and this script the clients:

* change -> subscriber: a ticket written over the API (POST /tickets, one at a time) until its
  `ticket.changed` reaches each of ``--clients`` SSE subscribers, on the same instance and, on
  PostgreSQL, on a second instance (LISTEN/NOTIFY). Target p99 50 ms / 200 ms.
* screen pop: AMI AgentCalled (the simulated PBX's send, in this process) until the ringing
  agent's own stream, one of 50 agents' streams, has `call.offered`, with ``--calls`` simulated
  calls in flight (voice menu, queue, agents ringing and talking). Target p99 300 ms.

Clients and the simulated PBX share this process's reactor and clock (time.perf_counter, the
system's monotonic clock, which the service processes share), so its own load adds to the
figures: they are upper bounds.

    python bench/live_events.py                        # SQLite and PostgreSQL
    python bench/live_events.py --databases sqlite --changes 200 --seconds 30
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import treq
from _header import print_header, print_load_at_end  # bench/ is on sys.path when this runs
from _load import percentile, residents_csv
from api_tickets import database, free_port, serve
from twisted.internet import defer, task
from twisted.internet.task import deferLater
from twisted.web.http_headers import Headers

from hotline.core import api_tokens, users
from hotline.core.db import Database
from hotline.core.residents import import_residents
from hotline.net.tcp import bound_port, stop_listening
from hotline.pbxsim.fastagi import Input, Keys, Silence, SimCaller
from hotline.pbxsim.pbx import SimulatedPBX, agent_queues

sys.path.append(str(Path(__file__).resolve().parent.parent / "tests"))
from sse_client import SSEClient, open_stream

# "after the answer": a same-instance subscriber's event less the write's own answer (negative:
# the event came first), what the event's path adds to the write that made the change.
TARGETS_MS = {
    "the write itself": float("inf"),
    "after the answer": float("inf"),
    "same instance": 50.0,
    "other instance": 200.0,
    "screen pop": 300.0,
}
AMI_USER, AMI_SECRET = "bench", "bench-secret"
PASSWORD = "correct horse battery"
LAG_PROBE_S = 0.05


def prepare(url: str, folder: Path, agents: list[str], residents: int) -> dict[str, str]:
    """Schema, residents, a supervisor and one agent per extension; their tokens by name."""
    db = Database(url)
    db.upgrade()
    csv = folder / "residents.csv"
    residents_csv(csv, residents)
    at = datetime.now(UTC)
    tokens = {}
    with db.session() as s:
        import_residents(s, csv)
        for name, role, ext in (
            ("boss", "supervisor", "999"),
            *((f"agent{e}", "agent", e) for e in agents),
        ):
            users.add_user(s, name, role, PASSWORD, at, ext)
            tokens[name] = api_tokens.add_token(s, f"{name}-token", at, user=name)[1]
    db.dispose()
    return tokens


async def wait_for(check: Any, seconds: float, reactor: Any) -> None:
    deadline = time.perf_counter() + seconds
    while not check():
        if time.perf_counter() > deadline:
            raise TimeoutError("the stream did not deliver in time")
        await deferLater(reactor, 0.005, lambda: None)


async def change_latency(
    reactor: Any, api_port: int, streams: dict[str, list[SSEClient]], token: str, changes: int
) -> dict[str, list[float]]:
    """One ticket at a time; each subscriber's delay from the write's start to its event."""
    received: dict[int, dict[SSEClient, float]] = defaultdict(dict)

    async def read(client: SSEClient) -> None:
        while True:
            message = await client.messages.get()
            if message.event == "ticket.changed":
                received[message.data["ticket_id"]][client] = message.received

    for client in itertools.chain(*streams.values()):
        defer.Deferred.fromCoroutine(read(client)).addErrback(lambda _: None)
    headers = Headers({"Authorization": [f"Bearer {token}"]})
    body = {"kind": "repair", "category": "leak", "unit": "1-1-101"}
    every = list(itertools.chain(*streams.values()))
    delays: dict[str, list[float]] = {kind: [] for kind in streams}
    delays["the write itself"] = []  # POST /tickets answered: part of every delay above
    delays["after the answer"] = []
    for _ in range(changes):
        started = time.perf_counter()
        response = await treq.post(
            f"http://127.0.0.1:{api_port}/api/v1/tickets", json=body, headers=headers
        )
        written = await treq.json_content(response)
        answered = time.perf_counter()
        delays["the write itself"].append((answered - started) * 1000)
        arrivals = received[written["id"]]
        await wait_for(lambda: len(arrivals) == len(every), 10.0, reactor)  # noqa: B023 - awaited here
        for kind, clients in streams.items():
            delays[kind] += [(arrivals[c] - started) * 1000 for c in clients]
        delays["after the answer"] += [
            (arrivals[c] - answered) * 1000 for c in streams["same instance"]
        ]
    return delays


async def screen_pops(
    reactor: Any,
    api_port: int,
    fastagi_port: int,
    pbx: SimulatedPBX,
    tokens: dict[str, str],
    agents: list[str],
    phones: list[str],
    calls: int,
    seconds: float,
) -> dict[str, Any]:
    """``calls`` callers calling again and again for ``seconds``; every pop's delay."""
    called: dict[tuple[str, str], float] = {}
    publish = pbx.ami.publish

    def timed(event: str, privilege: str, headers: Any) -> None:
        if event == "AgentCalled":
            fields = dict(headers)
            extension = fields["Interface"].removeprefix("PJSIP/agent")
            called[fields["Uniqueid"], extension] = time.perf_counter()
        publish(event, privilege, headers)

    pbx.ami.publish = timed  # type: ignore[method-assign]
    delays: list[float] = []
    wrong = 0
    clients = {e: await open_stream(reactor, api_port, tokens[f"agent{e}"]) for e in agents}

    async def listen(extension: str, client: SSEClient) -> None:
        nonlocal wrong
        while True:
            message = await client.messages.get()
            if message.event != "call.offered":
                continue
            key = (message.data["call_id"], message.data["agent"])
            if message.data["agent"] != extension or key not in called:
                wrong += 1
                continue
            delays.append((message.received - called[key]) * 1000)

    for extension, client in clients.items():
        defer.Deferred.fromCoroutine(listen(extension, client)).addErrback(lambda _: None)
    stop_at = time.perf_counter() + seconds
    placed = itertools.count()
    # This process's own reactor lag (it carries the PBX and the clients): part of each figure.
    lags: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        lags.append(max(0.0, (now - last[0] - LAG_PROBE_S) * 1000))
        last[0] = now

    probe = task.LoopingCall(tick)
    probe.clock = reactor
    probe.start(LAG_PROBE_S, now=True)

    async def caller(n: int) -> None:
        while time.perf_counter() < stop_at:
            number = phones[(n + next(placed)) % len(phones)]
            inputs: list[Input] = [Silence(), Silence(), Keys("0")]
            await pbx.call(SimCaller(number, None, inputs), patience_s=120.0)

    await defer.gatherResults(
        [defer.Deferred.fromCoroutine(caller(n)) for n in range(calls)], consumeErrors=True
    )
    probe.stop()
    for client in clients.values():
        if client.transport is not None:
            client.transport.loseConnection()
    return {
        "delays": delays,
        "wrong": wrong,
        "offers": len(called),
        "placed": next(placed),
        "lag_p99_ms": percentile(lags, 99),
    }


async def run(kind: str, args: argparse.Namespace, reactor: Any) -> dict[str, Any]:
    agents = [str(101 + n) for n in range(args.agents)]
    results: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        database(kind, Path(tmp)) as url,
        ExitStack() as stack,
    ):
        folder = Path(tmp)
        tokens = prepare(url, folder, agents, args.residents)
        phones = [
            line.split(",")[2] for line in (folder / "residents.csv").read_text().splitlines()[1:]
        ]
        # The PBX (this process) first: the service's AMI client connects to it.
        queues = agent_queues(
            agents,
            ring_s=args.ring,
            talk_s=(args.talk / 2, args.talk * 1.5),
            layout={"enquiries": tuple(agents), "duty": tuple(agents)},
            login_time=int(time.time()),
        )
        fastagi = free_port()
        pbx = SimulatedPBX(reactor, fastagi, queues=queues, users={AMI_USER: AMI_SECRET})
        ami = pbx.listen_ami()
        settings = {
            "HOTLINE_FASTAGI_LISTEN": f"127.0.0.1:{fastagi}",
            "HOTLINE_AMI_PORT": str(bound_port(ami)),
            "HOTLINE_AMI_USERNAME": AMI_USER,
            "HOTLINE_AMI_SECRET": AMI_SECRET,
        }
        port_a = free_port()
        stack.enter_context(serve(url, folder / "a", port_a, **settings))
        streams = {
            "same instance": [
                await open_stream(reactor, port_a, tokens["boss"]) for _ in range(args.clients)
            ]
        }
        if kind == "postgresql":
            port_b = free_port()
            stack.enter_context(serve(url, folder / "b", port_b))
            streams["other instance"] = [
                await open_stream(reactor, port_b, tokens["boss"]) for _ in range(args.clients)
            ]
            await deferLater(reactor, 2.0, lambda: None)  # its LISTEN thread connected
        results.update(await change_latency(reactor, port_a, streams, tokens["boss"], args.changes))
        for client in itertools.chain(*streams.values()):
            if client.transport is not None:
                client.transport.loseConnection()
        pops = await screen_pops(
            reactor, port_a, fastagi, pbx, tokens, agents, phones, args.calls, args.seconds
        )
        results["screen pop"] = pops.pop("delays")
        results["pop counts"] = pops
        await stop_listening(ami)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--changes", type=int, default=300)
    parser.add_argument("--clients", type=int, default=10, help="subscribers per instance")
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--calls", type=int, default=200, help="simulated calls in flight")
    parser.add_argument("--seconds", type=float, default=60.0, help="of calls for the pops")
    parser.add_argument("--ring", type=float, default=2.0, help="agents' ring time, s")
    parser.add_argument("--talk", type=float, default=20.0, help="agents' mean talk time, s")
    parser.add_argument("--residents", type=int, default=2000)
    args = parser.parse_args()
    task.react(lambda reactor: defer.Deferred.fromCoroutine(report(args, reactor)))


async def report(args: argparse.Namespace, reactor: Any) -> None:
    print_header()
    print(
        f"load: {args.clients} subscribers per instance, {args.changes} changes one at a time; "
        f"{args.calls} calls in flight for {args.seconds:g} s, {args.agents} agents' streams "
        f"(ring {args.ring:g} s, talk ~{args.talk:g} s)"
    )
    for kind in args.databases:
        results = await run(kind, args, reactor)
        for name, target in TARGETS_MS.items():
            values = results.get(name)
            if not values:
                continue
            p99 = percentile(values, 99)
            print(
                f"{kind:10} {name:15} n={len(values):<6} p50 {percentile(values, 50):7.1f} ms"
                f"  p99 {p99:7.1f} ms"
                + (
                    f"  (target {target:g}: {'ok' if p99 <= target else 'MISSED'})"
                    if target < float("inf")
                    else ""
                )
            )
        counts = results["pop counts"]
        print(
            f"{kind:10} screen pops: {counts['offers']} AgentCalled, {counts['placed']} calls"
            f" placed, {counts['wrong']} pops on a wrong or unknown stream; this process's"
            f" reactor lag p99 {counts['lag_p99_ms']:.0f} ms"
        )
    print_load_at_end()


if __name__ == "__main__":
    main()
