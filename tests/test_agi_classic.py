"""Classic AGI over stdin/stdout through pyst2, with golden responses as Asterisk's side."""

from __future__ import annotations

import io
from typing import Any

from hotline.agi.channel import Channel, RecordResult
from hotline.agi.classic import run_classic
from hotline.agi.errors import ChannelHungUp
from hotline.agi.routes import RouteTable
from hotline.core import dialplan as contract

from golden import FROM_ASTERISK, golden_dir, load_raw


def _asterisk_side(name: str) -> str:
    raw = load_raw(golden_dir() / f"{name}.raw")
    return "".join(body.decode() for d, body in raw if d == FROM_ASTERISK)


def test_dtmf_session_over_stdio() -> None:
    table = RouteTable()
    got: list[Any] = []

    @table.register("dtmf")
    async def flow(call: Channel, ctx: Any) -> None:
        got.append((call.env.route, call.env.params, ctx))
        await call.answer()
        got.append(await call.get_data("beep", 6000, 4))
        got.append(await call.wait_for_digit(5000))
        got.append(await call.stream_file("demo-congrats", "0123456789*#"))
        got.append(await call.get_data("beep", 1500, 4))
        got.append(await call.wait_for_digit(300))
        await call.hangup()

    stdout = io.StringIO()
    stdin = io.StringIO(_asterisk_side("agi-04-dtmf"))
    status = run_classic("dtmf?site=x", table, lambda env: "ctx", stdin=stdin, stdout=stdout)
    assert status == 0
    assert got == [("dtmf", {"site": "x"}, "ctx"), "12", "5", "9", "", ""]
    assert stdout.getvalue().splitlines() == [
        "ANSWER",
        "GET DATA beep 6000 4",
        "WAIT FOR DIGIT 5000",
        'STREAM FILE demo-congrats "0123456789*#"',
        "GET DATA beep 1500 4",
        "WAIT FOR DIGIT 300",
        "HANGUP",
    ]


def test_hangup_during_record_then_dead_channel() -> None:
    table = RouteTable()
    got: list[Any] = []

    @table.register("rec")
    async def flow(call: Channel, ctx: Any) -> None:
        got.append(await call.record_file("/x/msg"))
        try:
            await call.stream_file("beep")
        except ChannelHungUp:
            got.append("hung up")

    env = _asterisk_side("agi-07-script-ends-channel-up").split("\n\n")[0] + "\n\n"
    replies = (
        "200 result=-1 (hangup) endpos=8000\nHANGUP\n"
        "511 Command Not Permitted on a dead channel or intercept routine\n"
    )
    stdout = io.StringIO()
    assert run_classic("rec", table, lambda env: None, io.StringIO(env + replies), stdout) == 0
    assert got == [RecordResult("", 8000, timed_out=False, hung_up=True), "hung up"]


def test_failing_flow_sets_status_and_exit_code() -> None:
    table = RouteTable()

    @table.register("bad")
    async def flow(call: Channel, ctx: Any) -> None:
        await call.answer()
        raise RuntimeError("boom")

    env = _asterisk_side("agi-07-script-ends-channel-up").split("\n\n")[0] + "\n\n"
    stdout = io.StringIO()
    stdin = io.StringIO(env + "200 result=0\n200 result=1\n")
    assert run_classic("bad", table, lambda env: None, stdin, stdout) == 1
    failed = f"SET VARIABLE {contract.STATUS} {contract.STATUS_FAILED}"
    assert stdout.getvalue().splitlines() == ["ANSWER", failed]
