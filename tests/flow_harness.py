"""Drive call flows end to end: the real service and database, and the PBX simulator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hotline.agi.simulator import PBXOptions, SimCaller, SimCallResult, simulate_call
from hotline.app import App
from hotline.service import Service
from hotline.settings import load

from reactor_run import run_on_reactor

SH = ZoneInfo("Asia/Shanghai")
OFFICE_HOURS = datetime(2026, 11, 23, 10, 0, tzinfo=SH)  # a Monday morning
AFTER_HOURS = datetime(2026, 11, 23, 22, 0, tzinfo=SH)


def make_app(home: Path, db_url: str, **env: str) -> App:
    return App(load(home, env={"HOTLINE_DB_URL": db_url, **env}))


@dataclass
class Outcome:
    results: list[SimCallResult]
    events: list[tuple[str, str, dict[str, Any]]]

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
) -> Outcome:
    events: list[tuple[str, str, dict[str, Any]]] = []

    async def body(reactor: Any) -> list[SimCallResult]:
        service = Service(app, reactor, events=lambda *e: events.append(e), clock=clock)
        if before:
            before(service)
        await service.start("127.0.0.1:0")
        port = service.ports[0].getHost().port
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
                        options=options or PBXOptions(wall_clock=lambda: clock().timestamp()),
                    )
                )
            return results
        finally:
            await service.stop()

    return Outcome(run_on_reactor(body), events)
