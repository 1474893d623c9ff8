"""The live stream as the service runs it: a resident's call through the simulated PBX (voice
menu over FastAGI, then the queue over AMI) pops on the right agent's stream, with the unit the
flow settled, and on no other agent's; the snapshots agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import treq
from sse_client import next_of, open_stream
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater
from twisted.web.http_headers import Headers

from hotline.core import api_tokens, users
from hotline.core.db import Database
from hotline.net.tcp import bound_port
from hotline.pbxsim.fastagi import Keys, Silence, SimCaller
from hotline.pbxsim.pbx import SimulatedPBX, agent_queues
from hotline.service import Service
from hotline.settings import AMISettings

from api_support import NOW, PASSWORD, make_app
from factories import seed_residents
from reactor_run import run_on_reactor

SCALE = 0.02  # simulated seconds to real ones


def test_an_inbound_call_pops_on_its_agent_only(
    db: Database, tmp_path: Path, cheap_password_hashes: None
) -> None:
    seed_residents(db, tmp_path)
    app = make_app(db, tmp_path / "home")
    settings = app.settings
    app.settings = type(settings)(
        **{
            **settings.__dict__,
            "ami": AMISettings(username="dialer", secret="s3cret"),
        }
    )
    tokens = {}
    with db.session() as s:
        for name, role, ext in (
            ("li", "agent", "101"),
            ("chen", "agent", "102"),
            ("wang", "supervisor", "201"),
        ):
            users.add_user(s, name, role, PASSWORD, NOW, ext)
            tokens[name] = api_tokens.add_token(s, f"{name}-token", NOW, user=name)[1]

    async def body(reactor: Any) -> dict[str, Any]:
        service = Service(app, reactor)
        await service.start("127.0.0.1:0", web_listen="127.0.0.1:0")
        assert service.web_port is not None
        web = bound_port(service.web_port)
        queues = agent_queues(["101", "102"], ring_s=50.0, talk_s=(10.0, 10.0))
        pbx = SimulatedPBX(
            reactor,
            bound_port(service.ports[0]),
            queues=queues,
            time_scale=SCALE,
            users={"dialer": "s3cret"},
        )
        ami = pbx.listen_ami()
        service.start_dialer(ami_port=bound_port(ami))
        try:
            li = await open_stream(reactor, web, tokens["li"])
            chen = await open_stream(reactor, web, tokens["chen"])
            wang = await open_stream(reactor, web, tokens["wang"])
            # A known resident (Li Na, 3-1-202) keeps the unit and presses 0 for an agent.
            call = pbx.call(SimCaller("5551234", "Li Na", [Silence(), Silence(), Keys("0")]))
            offered = await next_of(li, "call.offered")
            agents = json.loads(
                await (
                    await treq.get(
                        f"http://127.0.0.1:{web}/api/v1/live/agents",
                        headers=Headers({"Authorization": [f"Bearer {tokens['wang']}"]}),
                        reactor=reactor,
                    )
                ).text()
            )
            connected = await next_of(li, "call.connected")
            seen_by_wang = [await next_of(wang, "call.offered")]
            ended = await next_of(li, "call.ended")
            result = await call
            chen_events = []
            while chen.messages.pending:
                chen_events.append(chen.messages.pending.pop(0))
            for client in (li, chen, wang):
                assert client.transport is not None
                client.transport.loseConnection()
            await deferLater(reactor, 0.05, lambda: None)
            return {
                "offered": offered,
                "connected": connected,
                "ended": ended,
                "agents": agents,
                "wang": seen_by_wang,
                "chen": chen_events,
                "result": result,
                "subscribers": len(service.live.subscribers),
            }
        finally:
            await service.stop()
            await Deferred.fromCoroutine(_stop(ami))

    out = run_on_reactor(body, timeout=60)
    offered = out["offered"].data
    assert offered["agent"] == "101"
    assert offered["unit"] == "3-1-202"
    assert offered["resident_name"] == "Li Na"
    assert offered["queue"] == out["result"].queue
    assert offered["call_id"] == out["result"].flow.uniqueid
    assert out["connected"].data["call_id"] == offered["call_id"]
    assert out["ended"].data["disposition"] == "completed"
    assert out["result"].answered
    assert out["wang"][0].data["call_id"] == offered["call_id"]
    assert not [m for m in out["chen"] if m.event.startswith("call.")]
    ringing = {a["agent"]: a for a in out["agents"]["agents"]}
    assert ringing["101"]["state"] == "ringing" and ringing["101"]["call_id"] == offered["call_id"]
    assert out["subscribers"] == 0


async def _stop(port: Any) -> None:
    await port.stopListening()
