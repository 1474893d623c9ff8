"""`hotline demo`: the service and the PBX simulator on SQLite, calls flowing, shown live."""

from __future__ import annotations

import shutil
import sys
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from hotline.app import App
from hotline.cli.output import iso, print_table
from hotline.core.api_tokens import add_token
from hotline.core.arrears import import_arrears
from hotline.core.call_records import call_record_id, inbound_calls
from hotline.core.campaigns import campaign_status
from hotline.core.events import Event
from hotline.core.outcomes import list_calls
from hotline.core.report import build_report
from hotline.core.residents import import_residents
from hotline.core.tickets import list_tickets
from hotline.net.tcp import address_text, bound_port
from hotline.pbxsim.fastagi import SimCaller
from hotline.pbxsim.pbx import SimulatedPBX
from hotline.service import Service
from hotline.settings import load

from . import demo_console, demo_data, demo_outbound
from .demo_view import LiveView, cause_name, label_call


def prepare_home(home: Path, keep: bool) -> App:
    if home.exists() and not keep:
        shutil.rmtree(home)
    app = App(load(home, env=demo_outbound.SETTINGS))
    app.init()
    data = home / "demo-data"
    data.mkdir(exist_ok=True)
    (data / "residents.csv").write_text(demo_data.RESIDENTS_CSV, encoding="utf-8")
    (data / "arrears.csv").write_text(demo_data.ARREARS_CSV, encoding="utf-8")
    with app.db.session() as s:
        import_residents(s, data / "residents.csv")
        import_arrears(s, app.rules, data / "arrears.csv", app.now())
    return app


async def run_inbound(
    reactor: Any, pbx: SimulatedPBX, view: LiveView, speed: float, out: TextIO
) -> None:
    """The scenarios' residents call; those the flow hands to an agent wait in the queue until
    a simulated agent answers (the console pops, the wallboard moves)."""
    calls = []
    for i, scenario in enumerate(demo_data.INBOUND, 1):
        print(f"          [scenario {i}]: {scenario.title}", file=out, flush=True)
        caller = SimCaller(scenario.number, scenario.name, list(scenario.inputs))
        calls.append(pbx.call(caller, observer=label_call(view, f"scenario {i}")))
        await deferLater(reactor, 1.5 / speed * 4, lambda: None)
    await DeferredList(calls, consumeErrors=True)


def show_results(app: App, out: TextIO) -> None:
    tz = app.rules.tz
    with app.db.session() as s:
        tickets = list(reversed(list_tickets(s)))  # oldest first
        rows = [
            (
                t.id,
                t.kind,
                t.category,
                t.unit.code if t.unit else "-",
                t.state,
                " ".join(
                    f
                    for f, on in (
                        ("emergency", t.emergency),
                        ("incomplete", t.incomplete),
                        ("about-staff", t.about_staff),
                    )
                    if on
                ),
                iso(t.escalation_due_at, tz) or "",
            )
            for t in tickets
        ]
        calls = inbound_calls(s)
        call_rows = [
            (
                c.id,
                c.caller or "withheld",
                c.rings_before_answer,
                c.disposition,
                c.queue or "",
                c.ticket_id or "",
            )
            for c in calls
        ]
        report = build_report(s, app.rules, min(c.arrived_at for c in calls), app.now())
    print("\nTickets made:", file=out)
    print_table(["id", "kind", "category", "unit", "state", "flags", "escalate by"], rows, out)
    print("\nInbound call records:", file=out)
    print_table(["id", "caller", "rings", "disposition", "queue", "ticket"], call_rows, out)
    share = report.answered_within_rings
    print(f"\nAnswered within three rings: {share.part}/{share.whole}", file=out)


def show_campaigns(app: App, campaigns: list[int], out: TextIO) -> None:
    tz = app.rules.tz
    with app.db.session() as s:
        for campaign_id in campaigns:
            status = campaign_status(s, campaign_id)
            print(
                f"\nCampaign {campaign_id} ({status['kind']}, {status['mode']}): {status['state']}",
                file=out,
            )
            print("  leads: " + ", ".join(f"{k} {v}" for k, v in status["leads"].items()), file=out)
            print(
                "  calls: " + ", ".join(f"{k} {v}" for k, v in status["attempts"].items()),
                file=out,
            )
            calls = list_calls(s, campaign_id)
            print_table(
                ["call", "lead", "number", "disposition", "cause", "agent", "next step", "ended"],
                [
                    (
                        c.id,
                        c.lead_id,
                        c.callee,
                        c.disposition,
                        cause_name(c.hangup_cause),
                        c.agent or "",
                        c.next_step or "",
                        iso(c.ended_at, tz),
                    )
                    for c in calls
                ],
                out,
            )


def stored_id(app: App, key: str) -> int | None:
    with app.db.session() as s:
        return call_record_id(s, key)


def run_demo(
    home: Path, speed: float, keep: bool, linger: float = 0.0, out: TextIO = sys.stdout
) -> int:
    from twisted.internet import reactor

    app = prepare_home(home, keep)
    view = LiveView(out, lambda: app.now().astimezone(app.rules.tz), partial(stored_id, app))
    service = Service(app, reactor)
    service.bus.subscribe(view, (Event,))
    print(f"hotline demo: home {home}, SQLite, simulated PBX at {speed:g}x speed\n", file=out)
    outcome: list[BaseException | None] = []
    campaigns: list[int] = []

    with app.db.session() as s:  # for the HTTP API while the demo runs (a supervisor's)
        token = add_token(s, f"demo-{app.now():%H%M%S%f}", app.now(), role="supervisor")[1]
    password = demo_console.add_users(app)

    async def main() -> None:
        await service.start("127.0.0.1:0", web_listen="127.0.0.1:0")
        assert service.web_port is not None
        api = address_text(service.web_port.getHost())
        print(f"HTTP API http://{api}/api/v1/  token {token}\n", file=out)
        demo_console.show_console(api, password, out)
        # One simulated PBX: the flows over FastAGI, the queues and the dialer over AMI (the
        # live state hears every queue's events from the start, campaign or not).
        pbx = demo_outbound.simulated_pbx(reactor, service, view, speed)
        service.start_dialer(ami_port=bound_port(pbx.listen_ami()))
        try:
            await run_inbound(reactor, pbx, view, speed, out)
            campaigns.extend(
                await demo_outbound.run_outbound(reactor, service, app, view, speed, out)
            )
            if linger > 0:
                await demo_console.keep_calling(reactor, pbx, view, speed, linger, out)
        finally:
            await service.stop()

    def done(result: object) -> None:
        outcome.append(result.value if isinstance(result, Failure) else None)
        reactor.stop()

    reactor.callWhenRunning(lambda: Deferred.fromCoroutine(main()).addBoth(done))
    reactor.run()
    if outcome and outcome[0] is not None:
        print(f"demo failed: {outcome[0]}", file=sys.stderr)
        return 1
    show_results(app, out)
    show_campaigns(app, campaigns, out)
    return 0
