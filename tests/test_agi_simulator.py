"""The PBX simulator driving the real server: recordings, hang-ups, type-ahead, virtual time."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import pytest
from asterisk_dialplan import CONF_DIR, parse_dialplan, run
from twisted.internet.protocol import Factory
from twisted.protocols.basic import LineOnlyReceiver

from hotline.agi.channel import Channel, RecordResult
from hotline.agi.errors import ChannelHungUp
from hotline.agi.routes import RouteTable
from hotline.agi.server import FastAGIFactory, listen_fastagi
from hotline.core import dialplan as contract
from hotline.net.tcp import bound_port, connected, stop_listening
from hotline.pbxsim.fastagi import (
    HangUp,
    Keys,
    PBXOptions,
    SimCaller,
    SimCallResult,
    Speak,
    parse_args,
    simulate_call,
)

from reactor_run import run_on_reactor


def _run(flow: Any, caller: SimCaller, options: PBXOptions | None = None) -> SimCallResult:
    table = RouteTable()
    table.register("t")(flow)
    seen: list[tuple[str, str, float]] = []

    async def body(reactor: Any) -> SimCallResult:
        factory = FastAGIFactory(table, lambda env: None, reactor=reactor)
        port = await listen_fastagi(reactor, "127.0.0.1:0", factory)
        result = await simulate_call(
            reactor,
            "127.0.0.1",
            bound_port(port),
            caller,
            "t",
            options=options,
            observer=lambda *entry: seen.append(entry),
        )
        await stop_listening(port)
        return result

    result = run_on_reactor(body)
    assert seen == result.transcript
    return result


def test_recording_writes_a_wav_of_the_spoken_length(tmp_path: Path) -> None:
    got: list[RecordResult] = []

    async def flow(call: Channel, ctx: Any) -> None:
        await call.answer()
        got.append(await call.record_file(str(tmp_path / "msg"), timeout_ms=30000))

    result = _run(flow, SimCaller("100", inputs=[Speak(2.5)]))
    assert got == [RecordResult("#", 20000, timed_out=False, hung_up=False)]
    with wave.open(str(tmp_path / "msg.wav")) as audio:
        assert (audio.getframerate(), audio.getnchannels(), audio.getnframes()) == (8000, 1, 20000)
        assert max(audio.readframes(100)) > 0  # a tone, not silence
    assert [(r.seconds, r.ended_by) for r in result.recordings] == [(2.5, "dtmf")]


def test_hangup_while_recording_keeps_the_file_and_later_commands_raise(tmp_path: Path) -> None:
    got: list[Any] = []

    async def flow(call: Channel, ctx: Any) -> None:
        got.append(await call.record_file(str(tmp_path / "msg"), beep=False))
        with pytest.raises(ChannelHungUp):
            await call.stream_file("thanks")
        got.append(await call.get_variable("CHANNEL"))

    result = _run(flow, SimCaller("100", inputs=[Speak(1.5, hang_up=True)]))
    assert got[0] == RecordResult("", 12000, timed_out=False, hung_up=True)
    assert got[1].startswith("Local/8000@hotline-")
    assert (tmp_path / "msg.wav").stat().st_size > 24000
    assert result.agi_status == "HANGUP" and result.hung_up_at == 1.5


def test_record_timeout_and_missing_directory(tmp_path: Path) -> None:
    got: list[Any] = []

    async def flow(call: Channel, ctx: Any) -> None:
        got.append(await call.record_file(str(tmp_path / "a"), timeout_ms=2000, beep=False))
        await call.record_file(str(tmp_path / "no" / "dir"))

    result = _run(flow, SimCaller("100", inputs=[Speak(5.0, key=None)]))
    assert got == [RecordResult("", 16000, timed_out=True, hung_up=False)]
    assert ("200 result=-1 (writefile)") in [line for _, line, _ in result.transcript]
    # the flow got AGICommandError
    assert result.variables.get(contract.STATUS) == contract.STATUS_FAILED


def test_type_ahead_and_virtual_clock() -> None:
    got: list[str] = []

    async def flow(call: Channel, ctx: Any) -> None:
        await call.answer()
        got.append(await call.stream_file("menu", "123"))
        got.append(await call.get_data("extension", 5000, 4))
        got.append(await call.say_digits("42", "#"))

    options = PBXOptions(prompt_seconds=2.0, answer_seconds=0.5, key_seconds=0.25)
    result = _run(flow, SimCaller("100", inputs=[Keys("2201#"), HangUp()]), options)
    assert got == ["2", "201"]
    times = {line: t for direction, line, t in result.transcript if direction == ">>"}
    assert times["200 result=0"] == 0.5  # ANSWER
    assert times["200 result=50 endpos=8000"] == 1.5  # key pressed halfway through the prompt
    assert times["200 result=201"] == 1.5 + 2.0 + 4 * 0.25
    assert result.hung_up_at == 4.5 + 0.4


def test_unknown_and_bad_commands_answer_like_asterisk() -> None:
    codes: list[int] = []

    async def flow(call: Channel, ctx: Any) -> None:
        for line in ("FOOBAR", "SAY DIGITS 1", "STREAM FILE", "GET DATA x 1 1"):
            codes.append((await call.send_raw(line)).code)

    result = _run(flow, SimCaller("100"))
    assert codes == [510, 520, 520, 200]
    lines = [line for d, line, _ in result.transcript if d == ">>"]
    assert "520 Invalid command syntax.  Proper usage not available." in lines


def test_parse_args_like_asterisk() -> None:
    assert parse_args('SET VARIABLE X "a \\"b\\"" ') == ["SET", "VARIABLE", "X", 'a "b"']
    assert parse_args('SAY DIGITS 123 ""') == ["SAY", "DIGITS", "123", ""]


def test_a_failed_command_on_a_live_channel_makes_agistatus_failure(tmp_path: Path) -> None:
    """res_agi: STREAM FILE of a missing file returns RESULT_FAILURE; the AGI ends FAILURE."""

    async def flow(call: Channel, ctx: Any) -> None:
        await call.answer()
        await call.send_raw("STREAM FILE no-such-prompt ''")

    result = _run(flow, SimCaller("100"), PBXOptions(sounds={}))
    assert result.agi_status == "FAILURE" and result.hung_up_at is None


HAND_TO_REPAIRS = f"SET VARIABLE {contract.QUEUE} {contract.QUEUE_REPAIRS}"


class _DiesAfterAnswer(LineOnlyReceiver):
    """A FastAGI server killed mid-call: it answers, then its socket is reset."""

    delimiter = b"\n"

    def lineReceived(self, line: bytes) -> None:
        if line == b"":
            self.sendLine(HAND_TO_REPAIRS.encode())
        elif line.startswith(b"200 "):
            connected(self).abortConnection()


def test_a_server_killed_mid_call_ends_the_agi_like_a_script_that_finished() -> None:
    """Asterisk reads EOF (or a reset) as "script completed": AGISTATUS=SUCCESS, the variables
    set so far kept; only the missing done-marker tells the dialplan,
    which then gives the caller to the duty queue instead of hanging up or queueing."""

    async def body(reactor: Any) -> SimCallResult:
        port = reactor.listenTCP(0, Factory.forProtocol(_DiesAfterAnswer), interface="127.0.0.1")
        try:
            return await simulate_call(
                reactor, "127.0.0.1", port.getHost().port, SimCaller("100"), "inbound"
            )
        finally:
            await port.stopListening()

    result = run_on_reactor(body)
    assert (result.agi_status, result.hung_up_at) == ("SUCCESS", None)
    assert result.variables == {contract.QUEUE: contract.QUEUE_REPAIRS}
    assert [line for _, line, _ in result.transcript[-2:]] == [
        HAND_TO_REPAIRS,
        "200 result=1",
    ]

    def agi(_: str, variables: dict[str, str]) -> None:
        variables.update(result.variables, AGISTATUS=result.agi_status)

    dialplan = parse_dialplan((CONF_DIR / "extensions.conf").read_text(encoding="utf-8"))
    trace, _ = run(dialplan, "hotline", "88001234", effects={"AGI": agi})
    assert [t for t in trace if t.startswith("Queue")] == ["Queue(duty)"]
    assert "Answer()" in trace
