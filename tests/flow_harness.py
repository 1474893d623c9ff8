"""Drive call flows end to end: the real service and database, and the PBX simulator."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from twisted.internet.interfaces import IListeningPort
from twisted.internet.threads import deferToThreadPool

from hotline.app import App
from hotline.core.events import Event
from hotline.metrics import Metrics
from hotline.net.tcp import address_text, bound_port
from hotline.pbxsim.fastagi import PBXOptions, SimCaller, SimCallResult, simulate_call
from hotline.service import Service
from hotline.settings import load

from reactor_run import run_on_reactor

SH = ZoneInfo("Asia/Shanghai")
OFFICE_HOURS = datetime(2026, 11, 23, 10, 0, tzinfo=SH)  # a Monday morning
AFTER_HOURS = datetime(2026, 11, 23, 22, 0, tzinfo=SH)


def _http_get(url: str) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers["Content-Type"], response.read().decode()


async def scrape_metrics(reactor: Any, port: IListeningPort) -> str:
    """GET /metrics over HTTP from another thread, as Prometheus would from outside."""
    url = f"http://{address_text(port.getHost())}/metrics"
    content_type, text = await deferToThreadPool(reactor, reactor.getThreadPool(), _http_get, url)
    assert content_type.startswith("text/plain; version=0.0.4"), content_type
    return text


# The commands that play a prompt, before its name.
PLAYING = ("STREAM FILE ", "GET DATA ", "CONTROL STREAM FILE ", "GET OPTION ")


def prompts(commands: list[str]) -> list[str]:
    """The prompts a call played, in order."""
    return [c.removeprefix(p).split()[0] for c in commands for p in PLAYING if c.startswith(p)]


def assert_prompts_in_order(commands: list[str], expected: list[str]) -> None:
    """The call played each of `expected`, in that order (other prompts may come between)."""
    heard = prompts(commands)
    left = iter(heard)
    # `in` on an iterator consumes it up to the match: each prompt is looked for after the last
    assert all(name in left for name in expected), f"not {expected} in this order: {heard}"


def make_app(home: Path, db_url: str, **env: str) -> App:
    return App(load(home, env={"HOTLINE_DB_URL": db_url, **env}))


@dataclass
class Outcome:
    results: list[SimCallResult]
    events: list[Event]
    metrics_text: str | None = None  # /metrics scraped over HTTP after the calls, if asked

    @property
    def result(self) -> SimCallResult:
        return self.results[0]

    def commands(self, index: int = 0) -> list[str]:
        return [line for d, line, _ in self.results[index].transcript if d == "<<"]


def place_calls(
    app: App,
    callers: list[SimCaller],
    *,
    clock: Callable[[], datetime] = lambda: OFFICE_HOURS,
    route: str = "inbound",
    options: PBXOptions | None = None,
    before: Callable[[Service], None] | None = None,
    metrics: Metrics | None = None,
    variables: dict[str, str] | None = None,
    args: list[str] | None = None,
) -> Outcome:
    events: list[Event] = []
    scraped: list[str] = []

    async def body(reactor: Any) -> list[SimCallResult]:
        service = Service(app, reactor, clock=clock, metrics=metrics)
        service.bus.subscribe(events.append, (Event,))
        if before:
            before(service)
        await service.start("127.0.0.1:0", "127.0.0.1:0")
        port = bound_port(service.ports[0])
        attached = service.attached_metrics
        try:
            results = []
            for caller in callers:
                results.append(
                    await simulate_call(
                        reactor,
                        "127.0.0.1",
                        port,
                        caller,
                        route,
                        args=args or (),
                        options=options or PBXOptions(wall_clock=lambda: clock().timestamp()),
                        variables=variables,
                    )
                )
            if attached is not None:
                scraped.append(await scrape_metrics(reactor, attached.port))
            return results
        finally:
            await service.stop()

    results = run_on_reactor(body)
    return Outcome(results, events, scraped[0] if scraped else None)
