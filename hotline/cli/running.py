"""The commands that run things: the service, classic AGI, the demo, the prompt build."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

from hotline.agi.classic import run_classic
from hotline.agi.flows import load_flows
from hotline.agi.flows.context import FlowContext
from hotline.agi.protocol import AGIEnvironment
from hotline.app import App
from hotline.core.event_bus import EventBus
from hotline.core.intake import IntakeDesk
from hotline.core.outbound_desk import OutboundDesk
from hotline.core.spool import Spool

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")
SWITCH_INTERVAL_SECONDS = 0.001


def serve(app: App, args: argparse.Namespace) -> None:
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred
    from twisted.python.failure import Failure

    from hotline.metrics import Metrics
    from hotline.service import Service

    logging.getLogger().setLevel(logging.INFO)
    # No database check here: without one the service spools, and catches up when it returns.
    # An empty metrics.listen turns the metrics off (and bench/metrics_overhead.py compares).
    metrics = Metrics.from_settings(app.settings) if app.settings.metrics.listen else None
    service = Service(app, reactor, metrics=metrics)
    service.start_dialer()

    exit_code = 0

    def failed(failure: Failure) -> None:
        nonlocal exit_code
        log.error("the service could not start: %s", failure.getErrorMessage())
        exit_code = 1
        reactor.stop()

    async def start() -> None:
        await service.start(web_listen=app.settings.web.listen)
        # What is loaded by now lives as long as the process; frozen, the collector's full
        # passes skip it (they stalled every call ~100 ms at 1,000 calls in flight).
        gc.freeze()
        # The reactor and the database thread share the GIL: at the default 5 ms a finished
        # query waited that long behind busy reactor work before its caller could answer.
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)

    reactor.callWhenRunning(lambda: Deferred.fromCoroutine(start()).addErrback(failed))
    reactor.run()
    if exit_code:
        raise SystemExit(exit_code)


async def _direct(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Classic AGI has no reactor: a flow's database work simply runs in line."""
    return fn(*args, **kwargs)


def agi(app: App, args: argparse.Namespace) -> None:
    """Classic AGI: stdin/stdout belong to Asterisk, so logs go to stderr only."""
    from hotline.service import flow_context

    desk = IntakeDesk(app.db, app.rules, Spool(app.settings.spool_path))
    outbound = OutboundDesk(app.db, app.rules)

    events = EventBus()  # one call per process: nobody in it to tell

    def make_context(env: AGIEnvironment) -> FlowContext:
        return flow_context(app, env, desk, outbound, _direct, _direct, app.now, events)

    desk.replay_spool()
    raise SystemExit(run_classic(args.route, load_flows(), make_context, sys.stdin, sys.stdout))


def demo(app: App, args: argparse.Namespace) -> None:
    from hotline.demo import run_demo

    home = Path(args.home) if args.home else app.settings.home / "demo"
    raise SystemExit(run_demo(home.resolve(), args.speed, args.keep, args.linger))


def prompts_build(app: App, args: argparse.Namespace) -> None:
    from hotline.agi.prompts import build, build_zh_digits

    out = Path(args.out)
    langs = args.lang or ("zh", "en")
    written = build(out, langs=langs)
    if "zh" in langs:
        written += build_zh_digits(out)
    print(f"wrote {len(written)} prompt file(s) under {out}")
