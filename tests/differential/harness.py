"""Runs a scenario with `hotline serve` (a real process, killed for real) against a PBX: the
simulators (always) or a real Asterisk (``HOTLINE_TEST_ASTERISK``), and reads what it left.

Both PBXs sit behind the same two pieces: the service's AMI link goes through a TCP relay the
scenario can cut, and its FastAGI port is the same kind of ``hotline serve``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asterisk_pbx import AMI_SECRET, AMI_USER
from daemon import Daemon
from scenario import Scenario
from sqlalchemy import func, select
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import ClientFactory, Factory, Protocol
from twisted.internet.task import deferLater

from hotline.agi.prompts import PROMPT_NAMES
from hotline.core.campaigns import campaign_action, create_campaign
from hotline.core.db import Database
from hotline.core.leads import generate_leads
from hotline.core.models import CallRecord
from hotline.core.rules import Rules
from hotline.net.tcp import connected
from hotline.pbxsim.fastagi import SAMPLE_RATE, Speak, write_audio

from factories import seed_residents

# The AMI link is cut this long after the scenario's last Originate: the calls that end at once
# (busy, rejected, unallocated) are reported whole on every PBX; the one ringing (RING_TIMEOUT_S)
# is still ringing when the dialer has logged in again.
CUT_AFTER_S, RING_TIMEOUT_S = 2.5, 8
PROMPT_SECONDS = 0.3  # every prompt, on both PBXs (the real one plays files of this length)
NOTICE_MESSAGE = "notices/differential"


# ---------------------------------------------------------------- sounds for the real PBX


def speech_name(speak: Speak) -> str:
    return f"speak{round(speak.seconds * 1000)}"


def write_sounds(folder: Path, speeches: Iterable[Speak]) -> None:
    """Every prompt the flows play, PROMPT_SECONDS of silence, in en and zh; the residents'
    speech as a tone of its length (played into the call by [test-caller])."""
    names = [*PROMPT_NAMES, *(f"digits/{d}" for d in "0123456789"), "beep", NOTICE_MESSAGE]
    names += ["digits/star", "digits/pound"]
    for lang in ("en", "zh"):
        for name in names:
            _sound(folder / lang / f"{name}.wav", PROMPT_SECONDS, tone=False)
        for speak in speeches:
            _sound(folder / lang / "test" / f"{speech_name(speak)}.wav", speak.seconds, tone=True)


def _sound(path: Path, seconds: float, tone: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_audio(path, "wav", round(seconds * SAMPLE_RATE), tone)


# ---------------------------------------------------------------- hotline serve


def service_env(home: Path, db_url: str, fastagi_port: int, ami_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "HOTLINE_HOME": str(home),
        "HOTLINE_DB_URL": db_url,
        "HOTLINE_FASTAGI_LISTEN": f"127.0.0.1:{fastagi_port}",
        "HOTLINE_METRICS_LISTEN": "127.0.0.1:0",
        "HOTLINE_WEB_LISTEN": "",
        "HOTLINE_AMI_PORT": str(ami_port),
        "HOTLINE_AMI_USERNAME": AMI_USER,
        "HOTLINE_AMI_SECRET": AMI_SECRET,
        "HOTLINE_DIALER_CHANNEL_TEMPLATE": "Local/{number}@test-residents",
        "HOTLINE_DIALER_WINDOW_START": "00:00",
        "HOTLINE_DIALER_WINDOW_END": "23:59",
        "HOTLINE_DIALER_POLL_SECONDS": "0.2",
        "HOTLINE_DIALER_RING_TIMEOUT_SECONDS": str(RING_TIMEOUT_S),
        "HOTLINE_INBOUND_DIGIT_TIMEOUT_MS": "2000",  # a caller keying nothing costs less time
        "HOTLINE_SITE_OFFICE_START": "00:00",
        "HOTLINE_SITE_OFFICE_END": "23:59",
    }


class ServeProcess(Daemon):
    """`hotline serve` as a site runs it."""

    def __init__(self, env: dict[str, str], fastagi_port: int, log: Path) -> None:
        super().__init__("hotline serve", log)
        self.env, self.port = env, fastagi_port

    def start(self) -> None:
        argv = [sys.executable, "-m", "hotline.cli", "serve"]
        self.launch(argv, self.env, lambda: "FastAGI listening" in self.output.read_text())


# ---------------------------------------------------------------- the AMI link, cut on demand


class _Relay(Protocol):
    def __init__(self, link: AMILink) -> None:
        self.link = link
        self.peer: _Relay | None = None
        self.buffer: list[bytes] = []

    def connectionMade(self) -> None:
        if self.peer is None:  # the service's side: open Asterisk's
            self.link.connections.append(self)
            upstream = _Relay(self.link)
            upstream.peer, self.peer = self, upstream
            IPushProducer(self.transport).pauseProducing()
            self.link.reactor.connectTCP("127.0.0.1", self.link.target, _Once(upstream))
        else:
            IPushProducer(self.peer.transport).resumeProducing()

    def dataReceived(self, data: bytes) -> None:
        if self in self.link.connections:
            self.link.originates += data.count(b"Action: Originate")
        assert self.peer is not None
        connected(self.peer).write(data)
        if self.link.drop_after is not None and self.link.originates >= self.link.drop_after:
            self.link.drop_after = None
            self.link.reactor.callLater(CUT_AFTER_S, self.link.cut)

    def connectionLost(self, reason: object = None) -> None:
        if self.peer is not None and self.peer.transport is not None:
            connected(self.peer).loseConnection()


class _Once(ClientFactory):
    def __init__(self, protocol: _Relay) -> None:
        self.protocol_ = protocol

    def buildProtocol(self, addr: object) -> _Relay:
        return self.protocol_

    def clientConnectionFailed(self, connector: object, reason: object) -> None:
        peer = self.protocol_.peer
        if peer is not None and peer.transport is not None:
            peer.transport.loseConnection()


class AMILink:
    """127.0.0.1:port -> the PBX's AMI; `cut()` drops the link as a network fault would."""

    def __init__(self, reactor: Any, target: int, drop_after: int | None) -> None:
        self.reactor, self.target, self.drop_after = reactor, target, drop_after
        self.connections: list[_Relay] = []
        self.originates = 0
        self.cuts = 0
        factory = Factory.forProtocol(lambda: _Relay(self))
        self.port = reactor.listenTCP(0, factory, interface="127.0.0.1")

    def cut(self) -> None:
        self.cuts += 1
        for relay in self.connections:
            connected(relay).abortConnection()
        self.connections.clear()


# ---------------------------------------------------------------- the database side


def prepare_database(db: Database, scenario: Scenario, folder: Path) -> int:
    """Residents, and the scenario's campaign started now; how many leads it made."""
    db.upgrade()
    seed_residents(db, folder, scenario.residents)
    if not scenario.notice_buildings:
        return 0
    now = datetime.now(UTC)
    with db.session() as s:
        params = {"buildings": list(scenario.notice_buildings), "message": NOTICE_MESSAGE}
        campaign = create_campaign(s, "notice", scenario.notice_mode, params=params, at=now)
        campaign_action(s, campaign.id, "start", now)
        return generate_leads(s, Rules(), campaign, now)


def outbound_records(db: Database) -> int:
    """Outbound calls that have ended: an attempt's record is written before its Originate."""
    with db.session() as s:
        query = (
            select(func.count())
            .select_from(CallRecord)
            .where(CallRecord.direction == "out", CallRecord.disposition.is_not(None))
        )
        return int(s.scalar(query) or 0)


async def until(reactor: Any, done: Callable[[], bool], limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {limit:g} s")
        await deferLater(reactor, 0.2, lambda: None)


def sleep(reactor: Any, seconds: float) -> Deferred[None]:
    return deferLater(reactor, seconds, lambda: None)
