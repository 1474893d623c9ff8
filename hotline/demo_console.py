"""The console's part of the demo: users whose extensions are the simulated queue agents, the
console's address printed, and (``--linger``) residents who go on calling so a person watching
the browser sees pops and the wallboard move."""

from __future__ import annotations

import secrets
from typing import Any, TextIO

from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.task import deferLater

from hotline import demo_data
from hotline.app import App
from hotline.core.users import add_user
from hotline.demo_view import LiveView, label_call
from hotline.pbxsim.fastagi import SimCaller
from hotline.pbxsim.pbx import SimulatedPBX

# (name, role, extension, language): the agents are demo_data.AGENTS' extensions.
USERS = (
    ("li", "agent", "101", "zh"),
    ("zhao", "agent", "102", "en"),
    ("chen", "agent", "103", "zh"),
    ("wang", "supervisor", "201", "en"),
)
CALL_EVERY_S = 40.0  # simulated seconds between two residents' calls while the demo lingers


def add_users(app: App) -> str:
    """The demo's console users, all with one fresh password (printed, like the demo's token)."""
    password = secrets.token_urlsafe(9)
    with app.db.session() as s:
        for name, role, extension, language in USERS:
            add_user(s, name, role, password, app.now(), extension, language)
    return password


def show_console(address: str, password: str, out: TextIO) -> None:
    print(f"console http://{address}/console/  password {password} for:", file=out)
    for name, role, extension, language in USERS:
        print(f"          {name:6} {role:10} extension {extension}  ({language})", file=out)
    print(file=out, flush=True)


async def keep_calling(
    reactor: Any, pbx: SimulatedPBX, view: LiveView, speed: float, seconds: float, out: TextIO
) -> None:
    """The scenarios' residents call again, one every CALL_EVERY_S (simulated), for ``seconds``
    of real time; then the demo waits for the last calls to end."""
    print(f"residents go on calling for {seconds:g} s (the console is live)", file=out, flush=True)
    calls: list[Deferred[Any]] = []
    end = reactor.seconds() + seconds
    n = 0
    while reactor.seconds() < end:
        scenario = demo_data.INBOUND[n % len(demo_data.INBOUND)]
        n += 1
        caller = SimCaller(scenario.number, scenario.name, list(scenario.inputs))
        calls.append(pbx.call(caller, observer=label_call(view, f"call {n}")))
        await deferLater(reactor, CALL_EVERY_S / speed, lambda: None)
    await DeferredList(calls, consumeErrors=True)
