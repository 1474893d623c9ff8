"""Conformance against the golden Asterisk 22.10.1 FastAGI transcripts.

1. Our server, fed Asterisk's recorded bytes (same chunks, gaps capped at 50 ms), must send back
   exactly the recorded command bytes while the flow sees the right values and errors.
2. The simulator, driven by the recorded script side, must send Asterisk's bytes (ids normalised).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred, DeferredQueue
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import Factory, Protocol
from zope.interface import implementer

from hotline.agi.channel import Channel, RecordResult
from hotline.agi.errors import AGICommandError, ChannelHungUp
from hotline.agi.routes import RouteTable
from hotline.agi.server import FastAGIFactory, listen_fastagi
from hotline.net.tcp import bound_port, connected, stop_listening
from hotline.pbxsim.fastagi import HangUp, Keys, PBXOptions, Silence, SimCaller, simulate_call

from golden import FROM_ASTERISK, TO_ASTERISK, golden_dir, load_jsonl
from reactor_run import run_on_reactor, sleep

# --- 1: golden Asterisk against our server ------------------------------------------------------


@implementer(IHalfCloseableProtocol)
class GoldenAsterisk(Protocol):
    """Replays Asterisk's recorded chunks, each after the script's preceding bytes arrived."""

    def __init__(self, reactor: Any, name: str) -> None:
        self.reactor = reactor
        self.chunks = load_jsonl(golden_dir() / f"{name}.jsonl")
        self.received = bytearray()
        self.expected = bytearray()
        self._want: Deferred[None] | None = None
        self._eof: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        self._check()

    def _check(self) -> None:
        if self._want is not None and len(self.received) >= len(self.expected):
            want, self._want = self._want, None
            want.callback(None)

    def readConnectionLost(self) -> None:
        self._eof.callback(None)

    def writeConnectionLost(self) -> None:
        pass

    def connectionLost(self, reason: object = None) -> None:
        if not self._eof.called:
            self._eof.callback(None)

    async def play(self) -> None:
        last_t = 0.0
        for chunk in self.chunks:
            if chunk.dir == FROM_ASTERISK:
                await sleep(self.reactor, min(chunk.t - last_t, 0.05))
                connected(self).write(chunk.data)
            elif chunk.dir == TO_ASTERISK:
                self.expected += chunk.data
                if len(self.received) < len(self.expected):
                    self._want = Deferred()
                    await self._want
            elif b"shutdown" in chunk.data:
                await self._eof  # the script half-closed
            elif chunk.data.startswith(b"EOF"):
                connected(self).loseConnection()
                return
            last_t = chunk.t


Flow = Callable[[Channel, list[Any]], Awaitable[None]]


async def _flow_01(call: Channel, out: list[Any]) -> None:
    await call.answer()
    out.append(await call.get_variable("CHANNEL"))
    out.append(await call.get_full_variable("${CALLERID(num)}"))
    await call.set_variable("FOO", "bar")
    out.append(await call.get_variable("FOO"))
    out.append(await call.stream_file("beep", "0123456789*#"))
    out.append(await call.get_data("beep", 2000, 4))
    out.append(await call.wait_for_digit(500))
    out.append(await call.say_digits("123"))
    out.append(await call.say_number(42))
    out.append(await call.record_file("/tmp/rec-test", "wav", "#", 2000, beep=False, silence_s=1))
    out.append(await call.exec("Playback", "beep"))
    out.append((await call.send_raw("CHANNEL STATUS")).result)
    await call.verbose("hello", 1)
    await call.send_raw("DATABASE PUT fam key val")
    out.append((await call.send_raw("DATABASE GET fam key")).data)
    out.append((await call.send_raw("DATABASE GET fam nokey")).result)
    out.append(await call.get_variable("NOSUCHVAR"))
    with pytest.raises(AGICommandError):  # -1 without a HANGUP line: missing file, not hang-up
        await call.stream_file("no-such-sound-file")
    with pytest.raises(AGICommandError):
        await call.exec("NoSuchApplication", "foo")
    out.append((await call.send_raw("NOOP")).result)
    out.append((await call.send_raw("FOOBAR")).code)
    out.append((await call.send_raw("STREAM FILE")).usage)
    await call.hangup()
    with pytest.raises(ChannelHungUp):
        await call.stream_file("beep")
    out.append(await call.get_variable("CHANNEL"))


async def _flow_02(call: Channel, out: list[Any]) -> None:
    await call.answer()
    with pytest.raises(ChannelHungUp):
        await call.get_data("beep", 10000, 4)
    with pytest.raises(ChannelHungUp):
        await call.get_data("beep", 1000, 1)
    out.append(await call.get_variable("CHANNEL"))
    out.append((await call.send_raw("CHANNEL STATUS")).code)


async def _flow_04(call: Channel, out: list[Any]) -> None:
    await call.answer()
    out.append(await call.get_data("beep", 6000, 4))
    out.append(await call.wait_for_digit(5000))
    out.append(await call.stream_file("demo-congrats", "0123456789*#"))
    out.append(await call.get_data("beep", 1500, 4))
    out.append(await call.wait_for_digit(300))
    await call.hangup()


async def _flow_05(call: Channel, out: list[Any]) -> None:
    await call.answer()
    await call.hangup()
    with pytest.raises(ChannelHungUp):
        await call.stream_file("beep")
    out.append("done")


async def _flow_06(call: Channel, out: list[Any]) -> None:
    await call.answer()
    await call.hangup()
    out.append("done")


async def _flow_07(call: Channel, out: list[Any]) -> None:
    await call.answer()
    await call.set_variable("DIALER_RESULT", "done ok")
    out.append(await call.get_variable("DIALER_RESULT"))


USAGE_TAIL = "    <value>SUCCESS</value>\n    <value>FAILED</value>"
REPLAYS: dict[str, tuple[str, Flow, list[Any]]] = {
    "agi-01-inbound-full": (
        "inbound",
        _flow_01,
        [
            *["Local/8000@hotline-00000000;2", "5551234", "bar", "", "", "", "", ""],
            RecordResult("", 0, timed_out=True, hung_up=False),
            *[0, "6", "val", "0", None, "0", 510],
        ],
    ),
    "agi-02-ami-hangup-during-getdata": (
        "hangup-during-getdata",
        _flow_02,
        ["Local/8001@hotline-00000001;2", 511],
    ),
    "agi-04-dtmf": ("dtmf", _flow_04, ["12", "5", "9", "", ""]),
    "agi-05-agisighup-no": ("nosighup", _flow_05, ["done"]),
    "agi-06-agiexitonhangup-yes": ("exitonhangup", _flow_06, ["done"]),
    "agi-07-script-ends-channel-up": ("normal-end", _flow_07, ["done ok"]),
}


@pytest.mark.parametrize("name", sorted(REPLAYS))
def test_server_against_golden_asterisk(name: str) -> None:
    route, flow, expected = REPLAYS[name]
    table = RouteTable()
    table.register(route)(flow)
    outputs: list[list[Any]] = []
    ended: list[BaseException | None] = []

    def make_context(env: Any) -> list[Any]:
        outputs.append([])
        return outputs[-1]

    async def body(reactor: Any) -> GoldenAsterisk:
        factory = FastAGIFactory(table, make_context, reactor=reactor, hangup_grace=0.1)
        # a stand-in on this one observer, keeping each call's error
        factory.observer.call_ended = lambda env, error: ended.append(error)  # type: ignore[method-assign]
        port = await listen_fastagi(reactor, ("127.0.0.1", 0), factory)
        asterisk = GoldenAsterisk(reactor, name)
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", bound_port(port))
        await connectProtocol(endpoint, asterisk)
        await asterisk.play()
        await stop_listening(port)
        return asterisk

    asterisk = run_on_reactor(body)
    assert bytes(asterisk.received) == bytes(asterisk.expected)
    out = outputs[0]
    if name.startswith("agi-01"):
        usage = out.pop(-2)
        assert usage.startswith("Send the given file") and usage.endswith(USAGE_TAIL)
        assert out.pop() == "Local/8000@hotline-00000000;2"
    assert out == expected
    assert ended == [None] or isinstance(ended[0], ChannelHungUp)


# --- 2: the simulator against the golden script side --------------------------------------------

_NORMALISE = [
    (re.compile(r"agi_uniqueid: \S+"), "agi_uniqueid: U"),
    (re.compile(r"agi_threadid: \d+"), "agi_threadid: T"),
    (re.compile(r"@hotline-[0-9a-f]{8};"), "@hotline-N;"),
    (re.compile(r"endpos=\d+"), "endpos=E"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:P"),
]


def _normalise(line: str) -> str:
    for pattern, replacement in _NORMALISE:
        line = pattern.sub(replacement, line)
    return line


class GoldenScript(Protocol):
    """Plays the recorded script side to whoever connects (the simulator)."""

    def __init__(self, name: str, rec_dir: Path) -> None:
        self.lines = (golden_dir() / f"{name}.txt").read_text().splitlines()
        self.rec_dir = rec_dir
        self.queue: DeferredQueue[str | None] = DeferredQueue()
        self.buffer = b""
        self.received: list[str] = []
        self.finished: Deferred[list[str]] = Deferred()

    def connectionMade(self) -> None:
        Deferred.fromCoroutine(self._play()).chainDeferred(self.finished)

    def dataReceived(self, data: bytes) -> None:
        *lines, self.buffer = (self.buffer + data).split(b"\n")
        for line in lines:
            self.queue.put(line.decode())

    def connectionLost(self, reason: object = None) -> None:
        self.queue.put(None)

    async def _receive(self, count: int) -> None:
        while len(self.received) < count:
            line = await self.queue.get()
            assert line is not None, "the simulator closed early"
            self.received.append(line)

    async def _play(self) -> list[str]:
        expected = 0
        for entry in self.lines:
            direction, text = entry[:2], entry[3:]
            if direction == FROM_ASTERISK:
                expected += 1
            elif direction == TO_ASTERISK:
                await self._receive(expected)
                connected(self).write(text.replace("/tmp/", f"{self.rec_dir}/").encode() + b"\n")
            elif text.startswith("client: shutdown"):
                await self._receive(expected)
                connected(self).loseWriteConnection()
            elif text.startswith("EOF"):
                await self._receive(expected)
                assert await self.queue.get() is None, "expected Asterisk to close"
                break
        return self.received


SIM_SETUPS: dict[str, dict[str, Any]] = {
    "agi-01-inbound-full": dict(
        route="inbound",
        params={"site": "demo"},
        inputs=[Silence(), Silence(), Silence(), Silence()],
        options=dict(extension="8000"),
    ),
    "agi-02-ami-hangup-during-getdata": dict(
        route="hangup-during-getdata",
        args=["first arg", "second"],
        inputs=[HangUp()],
        options=dict(extension="8001"),
    ),
    "agi-04-dtmf": dict(
        route="dtmf",
        inputs=[Keys("12#"), Keys("5"), Keys("9"), Silence(), Silence()],
        options=dict(extension="8003"),
    ),
    "agi-05-agisighup-no": dict(
        route="nosighup", options=dict(extension="8004", priority=4, agisighup=False)
    ),
    "agi-06-agiexitonhangup-yes": dict(
        route="exitonhangup", options=dict(extension="8005", priority=4, exit_on_hangup=True)
    ),
    "agi-07-script-ends-channel-up": dict(route="normal-end", options=dict(extension="8006")),
}


@pytest.mark.parametrize("name", sorted(SIM_SETUPS))
def test_simulator_against_golden_script(name: str, tmp_path: Path) -> None:
    setup = SIM_SETUPS[name]
    sounds = {"beep": 0.4255, "demo-congrats": 5.0}
    options = PBXOptions(sounds=sounds, **setup["options"])
    caller = SimCaller("5551234", "Demo Caller", list(setup.get("inputs", [])))

    async def body(reactor: Any) -> list[str]:
        script = GoldenScript(name, tmp_path)
        factory = Factory.forProtocol(lambda: script)
        port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(factory)
        call = simulate_call(
            reactor,
            "127.0.0.1",
            bound_port(port),
            caller,
            setup["route"],
            setup.get("params"),
            setup.get("args", ()),
            options=options,
        )
        received = await script.finished
        await call
        await stop_listening(port)
        return received

    received = run_on_reactor(body)
    golden = [
        line[3:]
        for line in (golden_dir() / f"{name}.txt").read_text().splitlines()
        if line.startswith(FROM_ASTERISK)
    ]
    assert [_normalise(line) for line in received] == [_normalise(line) for line in golden]
