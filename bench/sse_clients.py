"""Event-stream clients in a process of their own (bench/console_pop.py starts it): the agents'
streams read and thrown away, and a supervisor's probe noting when each `call.offered` arrives.
In the benchmark's own process, 40 reader threads took the interpreter's lock from the
simulated PBX beside them, whose AMI events then left late: a real PBX and real browsers run
apart from each other.

stdin: one JSON line {"url": ..., "agents": [token, ...], "probe": token}; then "ready" is
printed once every stream has answered, and a line on stdin stops them: the result is printed
as one JSON line {"lines": n, "offers": [[time, agent, call_id], ...]}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from urllib.parse import urlsplit


async def read_stream(
    host: str, port: int, token: str, lines: list[int], offers: list[list[object]] | None
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET /api/v1/events/stream HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    while (await reader.readline()) not in (b"\r\n", b""):  # the response's headers
        pass
    offered = False
    while line := await reader.readline():  # chunk sizes and the events' lines alike
        lines[0] += 1
        if offers is None:
            continue
        if line.startswith(b"event: "):
            offered = line == b"event: call.offered\n"
        elif offered and line.startswith(b"data: "):
            data = json.loads(line[6:])
            offers.append([time.time(), data["agent"], data["call_id"]])


async def main() -> None:
    brief = json.loads(sys.stdin.readline())
    url = urlsplit(brief["url"])
    host, port = url.hostname or "127.0.0.1", url.port or 80
    lines, offers = [0], list[list[object]]()
    tasks = [asyncio.create_task(read_stream(host, port, t, lines, None)) for t in brief["agents"]]
    tasks.append(asyncio.create_task(read_stream(host, port, brief["probe"], [0], offers)))
    await asyncio.sleep(1.0)  # the streams opened (a failure shows in the tasks below)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    failed = [t.exception() for t in tasks if t.done() and t.exception() is not None]
    for t in tasks:
        t.cancel()
    print(json.dumps({"lines": lines[0], "offers": offers, "failed": [str(f) for f in failed]}))


if __name__ == "__main__":
    asyncio.run(main())
