"""FastAGI framing cost: our Twisted server vs panoramisk (asyncio) vs pyst2 classic AGI.

A load generator plays Asterisk's side (instant canned replies) against each server, which runs
the same 12-command flow in a separate process; we report the server process's CPU ms per call
(utime+stime from /proc) and calls/s. Classic AGI starts one process per call, as Asterisk does.

    .venv/bin/python bench/agi_framing.py [--calls 4000] [--classic-calls 200]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import time
from typing import Any

from _load import process_cpu_seconds as cpu_seconds  # bench/ is on sys.path when this runs

from hotline.agi import protocol
from hotline.agi.channel import Channel
from hotline.agi.routes import RouteTable
from hotline.net.tcp import bound_port

FLOW_LINES = [
    protocol.answer(),
    protocol.get_variable("CHANNEL"),
    protocol.get_full_variable("${CALLERID(num)}"),
    protocol.set_variable("FOO", "bar"),
    protocol.stream_file("beep", "123"),
    protocol.get_data("menu", 2000, 4),
    protocol.wait_for_digit(500),
    protocol.say_digits("123"),
    protocol.say_number(42),
    protocol.exec_app("Playback", "beep"),
    protocol.verbose("hello"),
    protocol.set_variable("DONE", "1"),
]

REPLIES = [  # (command prefix, Asterisk's reply), first match wins
    (b"ANSWER", b"200 result=0\n"),
    (b"GET VARIABLE", b"200 result=1 (Local/8000@hotline-00000000;2)\n"),
    (b"GET FULL VARIABLE", b"200 result=1 (5551234)\n"),
    (b"SET VARIABLE", b"200 result=1\n"),
    (b"STREAM FILE", b"200 result=0 endpos=3404\n"),
    (b"GET DATA", b"200 result=12\n"),
    (b"WAIT FOR DIGIT", b"200 result=53\n"),
    (b"VERBOSE", b"200 result=1\n"),
]
DEFAULT_REPLY = b"200 result=0\n"

ENV = (
    "".join(
        f"{key}: {value}\n"
        for key, value in [
            ("agi_network", "yes"),
            ("agi_network_script", "bench"),
            ("agi_request", "agi://127.0.0.1/bench"),
            ("agi_channel", "Local/8000@hotline-00000000;2"),
            ("agi_language", "en"),
            ("agi_type", "Local"),
            ("agi_uniqueid", "1795327992.1"),
            ("agi_version", "22.10.1"),
            ("agi_callerid", "5551234"),
            ("agi_calleridname", "Demo Caller"),
            ("agi_callingpres", "0"),
            ("agi_callingani2", "0"),
            ("agi_callington", "0"),
            ("agi_callingtns", "0"),
            ("agi_dnid", "unknown"),
            ("agi_rdnis", "unknown"),
            ("agi_context", "hotline"),
            ("agi_extension", "8000"),
            ("agi_priority", "3"),
            ("agi_enhanced", "0.0"),
            ("agi_accountcode", ""),
            ("agi_threadid", "139838610773696"),
        ]
    ).encode()
    + b"\n"
)

routes = RouteTable()


@routes.register("bench")
async def bench_flow(call: Channel, ctx: Any) -> None:
    await call.answer()
    await call.get_variable("CHANNEL")
    await call.get_full_variable("${CALLERID(num)}")
    await call.set_variable("FOO", "bar")
    await call.stream_file("beep", "123")
    await call.get_data("menu", 2000, 4)
    await call.wait_for_digit(500)
    await call.say_digits("123")
    await call.say_number(42)
    await call.exec("Playback", "beep")
    await call.verbose("hello")
    await call.set_variable("DONE", "1")


def _reply(line: bytes) -> bytes:
    for prefix, reply in REPLIES:
        if line.startswith(prefix):
            return reply
    return DEFAULT_REPLY


# --- servers (run in child processes) -------------------------------------------------------------


def serve_ours() -> None:
    from twisted.internet import epollreactor

    epollreactor.install()
    from twisted.internet import reactor

    from hotline.agi.server import FastAGIFactory, listen_fastagi

    def ready(port: Any) -> None:
        print(bound_port(port), flush=True)

    factory = FastAGIFactory(routes, lambda env: None, reactor=reactor)
    listen_fastagi(reactor, ("127.0.0.1", 0), factory).addCallback(ready)
    reactor.run()


def serve_panoramisk() -> None:
    from panoramisk.fast_agi import Application

    async def flow(request: Any) -> None:
        for line in FLOW_LINES:
            await request.send_command(line)

    async def main() -> None:
        app = Application()
        app.add_route("bench", flow)
        server = await asyncio.start_server(app.handler, "127.0.0.1", 0, backlog=1024)
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    asyncio.run(main())


def classic_script() -> None:
    from hotline.agi.classic import run_classic

    sys.exit(run_classic("bench", routes, lambda env: None))


# --- the load generator (Asterisk's side) ---------------------------------------------------------


async def converse(reader: asyncio.StreamReader, writer: Any) -> None:
    writer.write(ENV)
    while line := await reader.readline():
        writer.write(_reply(line))
    # the script half-closed (or closed): Asterisk's last HANGUP, then close
    try:
        writer.write(b"HANGUP\n")
        writer.close()
    except (ConnectionError, RuntimeError):
        pass


async def fastagi_call(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await converse(reader, writer)


async def classic_call() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--classic",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    await converse(proc.stdout, proc.stdin)
    await proc.wait()


async def drive(make_call: Any, calls: int, concurrency: int) -> float:
    remaining = iter(range(calls))

    async def worker() -> None:
        for _ in remaining:
            await make_call()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


def bench_server(kind: str, calls: int, levels: list[int]) -> None:
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        asyncio.run(drive(lambda: fastagi_call(port), 200, 50))  # warm-up
        for concurrency in levels:
            before = cpu_seconds(server.pid)
            elapsed = asyncio.run(drive(lambda: fastagi_call(port), calls, concurrency))
            cpu_ms = (cpu_seconds(server.pid) - before) * 1000 / calls
            print(
                f"{kind:12} c={concurrency:<4} {calls} calls: {cpu_ms:6.3f} ms server CPU/call, "
                f"{calls / elapsed:8.0f} calls/s"
            )
    finally:
        server.terminate()
        server.wait()


def bench_classic(calls: int, concurrency: int) -> None:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    elapsed = asyncio.run(drive(classic_call, calls, concurrency))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(
        f"{'pyst2-classic':12} c={concurrency:<4} {calls} calls: {cpu * 1000 / calls:6.1f} ms "
        f"script CPU/call (a process each), {calls / elapsed:8.0f} calls/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--classic-calls", type=int, default=200)
    parser.add_argument("--serve", choices=["ours", "panoramisk"])
    parser.add_argument("--classic", action="store_true")
    args = parser.parse_args()
    if args.serve == "ours":
        serve_ours()
    elif args.serve == "panoramisk":
        serve_panoramisk()
    elif args.classic:
        classic_script()
    else:
        print("12-command flow, instant replies; target <= 0.8 ms CPU/call, calls/s >= panoramisk")
        for kind in ("ours", "panoramisk"):
            bench_server(kind, args.calls, [50, 500])
        bench_classic(args.classic_calls, 50)


if __name__ == "__main__":
    main()
