"""AGI framing: environment, responses, command lines (golden transcripts as the reference)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hotline.agi import protocol
from hotline.agi.errors import AGIArgumentError, AGIProtocolError, UsageBlockTooLong
from hotline.agi.protocol import HANGUP, AGIEnvironment, AGIResponse, AGIStreamParser, Event
from hotline.core import dialplan as contract

from golden import FROM_ASTERISK, TO_ASTERISK, golden_dir, load_raw


def _asterisk_lines(name: str) -> list[str]:
    raw = load_raw(golden_dir() / f"{name}.raw")
    return [body.decode().removesuffix("\n") for d, body in raw if d == FROM_ASTERISK]


def _feed_all(lines: list[str]) -> list[Event]:
    parser = AGIStreamParser()
    return [event for line in lines if (event := parser.feed(line)) is not None]


def test_environment_of_agi01() -> None:
    env, *_ = _feed_all(_asterisk_lines("agi-01-inbound-full"))
    assert isinstance(env, AGIEnvironment)
    assert list(env.raw)[:3] == ["agi_network", "agi_network_script", "agi_request"]
    assert len(env.raw) == 22
    assert env.raw["agi_accountcode"] == ""
    assert env.network_script == "inbound?site=demo"
    assert (env.route, env.params, env.args) == ("inbound", {"site": "demo"}, [])
    assert env.channel == "Local/8000@hotline-00000000;2"
    assert env.uniqueid == "1795327992.1"
    assert (env.callerid, env.calleridname) == ("5551234", "Demo Caller")
    assert (env.language, env.context, env.extension) == ("en", "hotline", "8000")


def test_environment_args_and_unknown_callerid() -> None:
    env, *_ = _feed_all(_asterisk_lines("agi-02-ami-hangup-during-getdata"))
    assert isinstance(env, AGIEnvironment)
    assert env.args == ["first arg", "second"]
    assert env.route == "hangup-during-getdata"
    other = AGIEnvironment.from_mapping(
        {"agi_network_script": "outbound/followup?lead=7&x=", "agi_callerid": "unknown"}
    )
    assert (other.route, other.params) == ("outbound/followup", {"lead": "7", "x": ""})
    assert other.callerid is None and other.calleridname is None


def test_agi01_responses_in_order() -> None:
    _, *events = _feed_all(_asterisk_lines("agi-01-inbound-full"))
    responses = [e for e in events if isinstance(e, AGIResponse)]
    raw = load_raw(golden_dir() / "agi-01-inbound-full.raw")
    assert len(responses) == sum(1 for d, _ in raw if d == TO_ASTERISK)
    assert responses[0] == AGIResponse(200, "0")
    assert responses[1] == AGIResponse(200, "1", "Local/8000@hotline-00000000;2")
    assert responses[5] == AGIResponse(200, "0", endpos=3404)
    assert responses[6] == AGIResponse(200, "", "timeout")
    assert responses[10] == AGIResponse(200, "0", "timeout", 0)
    assert responses[18] == AGIResponse(200, "-1", endpos=0)
    assert responses[19].result_int == -2
    assert responses[21] == AGIResponse(510, data="Invalid or unknown command")
    usage = responses[22]
    assert usage.code == 520 and usage.data == "Invalid command syntax.  Proper usage follows:"
    assert usage.usage is not None and usage.usage.splitlines()[-1] == "    <value>FAILED</value>"
    assert usage.usage.startswith("Send the given file, allowing playback")
    assert responses[24].code == 511
    assert events.count(HANGUP) == 2


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("200 result=12", AGIResponse(200, "12")),
        ("200 result=57 endpos=23680", AGIResponse(200, "57", endpos=23680)),
        ("200 result=1 (done ok)", AGIResponse(200, "1", "done ok")),
        ("200 result=-1 (hangup) endpos=4000", AGIResponse(200, "-1", "hangup", 4000)),
        (
            "520 Invalid command syntax.  Proper usage not available.",
            AGIResponse(520, data=("Invalid command syntax.  Proper usage not available.")),
        ),
    ],
)
def test_single_line_responses(line: str, expected: AGIResponse) -> None:
    parser = AGIStreamParser()
    parser.feed("")
    assert parser.feed(line) == expected
    assert expected.describe() == line


@pytest.mark.parametrize("line", ["hello", "200 result", "2000 result=1", "agi_x: y"])
def test_garbage_response_raises(line: str) -> None:
    parser = AGIStreamParser()
    parser.feed("")
    with pytest.raises(AGIProtocolError):
        parser.feed(line)


@pytest.mark.parametrize("line", ["garbage", "network: yes", "agi_bad key: x"])
def test_garbage_environment_raises(line: str) -> None:
    with pytest.raises(AGIProtocolError):
        AGIStreamParser().feed(line)


def test_command_lines_quote_like_the_transcripts() -> None:
    assert protocol.stream_file("beep", "0123456789*#") == 'STREAM FILE beep "0123456789*#"'
    assert protocol.say_digits("123") == 'SAY DIGITS 123 ""'
    assert protocol.say_number(42) == 'SAY NUMBER 42 ""'
    assert (
        protocol.record_file("/tmp/rec-test", "wav", "#", 2000, beep=False, silence_s=1)
        == 'RECORD FILE /tmp/rec-test wav "#" 2000 0 s=1'
    )
    assert protocol.record_file("/r/x", "wav", "#", 5000, True, None) == (
        'RECORD FILE /r/x wav "#" 5000 0 BEEP'
    )
    assert protocol.verbose("hello") == 'VERBOSE "hello" 1'
    assert protocol.set_variable("FOO", "bar") == "SET VARIABLE FOO bar"
    assert (
        protocol.set_variable("DIALER_RESULT", "done ok") == 'SET VARIABLE DIALER_RESULT "done ok"'
    )
    assert protocol.set_variable("X", 'a "q" \\') == 'SET VARIABLE X "a \\"q\\" \\\\"'
    assert protocol.set_variable("X", "") == 'SET VARIABLE X ""'
    assert protocol.get_full_variable("${CALLERID(num)}") == "GET FULL VARIABLE ${CALLERID(num)}"
    assert protocol.exec_app("Playback", "beep") == "EXEC Playback beep"
    assert protocol.exec_app("Dial", "Local/1@x", "30") == "EXEC Dial Local/1@x,30"


def _after_environment(parser: AGIStreamParser) -> AGIStreamParser:
    parser.feed("agi_network_script: inbound")
    parser.feed("")
    return parser


def test_usage_block_is_bounded_in_lines() -> None:
    parser = _after_environment(AGIStreamParser(max_usage_lines=3))
    parser.feed("520-Invalid command syntax.  Proper usage follows:")
    for n in range(2):
        assert parser.feed(f"usage line {n}") is None
    with pytest.raises(UsageBlockTooLong):
        parser.feed("one line too many")


def test_usage_block_is_bounded_in_bytes() -> None:
    parser = _after_environment(AGIStreamParser(max_usage_bytes=100))
    parser.feed("520-Invalid command syntax.  Proper usage follows:")
    with pytest.raises(UsageBlockTooLong):
        parser.feed("x" * 60)


def test_usage_block_within_the_bounds_still_parses() -> None:
    parser = _after_environment(AGIStreamParser(max_usage_lines=3))
    parser.feed("520-Invalid command syntax.  Proper usage follows:")
    parser.feed(" Usage: ANSWER")
    response = parser.feed("520 End of proper usage.")
    assert response == AGIResponse(
        520, data="Invalid command syntax.  Proper usage follows:", usage=" Usage: ANSWER"
    )


HOSTILE = ["Li\nEXEC System x", "Li\r\nNOOP", "a\rb", "nul\x00", "esc\x1b[2J", "del\x7f"]


@pytest.mark.parametrize("value", HOSTILE)
def test_control_characters_in_arguments_are_refused(value: str) -> None:
    builders = [
        lambda v: protocol.set_variable(contract.CALLERNAME, v),
        lambda v: protocol.set_variable(v, "x"),
        lambda v: protocol.stream_file(v),
        lambda v: protocol.get_data(v, 1000, 1),
        lambda v: protocol.record_file(v, "wav", "#", 1000, True, None),
        lambda v: protocol.exec_app("Dial", v),
        lambda v: protocol.verbose(v),
        lambda v: protocol.get_variable(v),
    ]
    for build in builders:
        with pytest.raises(AGIArgumentError, match="control character"):
            build(value)
    with pytest.raises(AGIArgumentError):
        protocol.check_line(f"NOOP {value}")


def test_unicode_names_pass() -> None:
    assert protocol.set_variable(contract.CALLERNAME, "3-1201 王小明") == (
        f'SET VARIABLE {contract.CALLERNAME} "3-1201 王小明"'
    )


NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("uniqueid", "created"),
    [
        (f"{int(NOW.timestamp()) - 7}.42", NOW - timedelta(seconds=7)),
        (f"pbx1-{int(NOW.timestamp())}.3", NOW),  # asterisk.conf systemname
        ("1000000000.77", None),  # 2001: not this call's arrival
        (f"{int(NOW.timestamp()) + 3600}.1", None),  # an hour ahead of our clock
        ("../../../../tmp/x", None),
        ("1795327992", None),
        ("", None),
        ("99999999999999999999.1", None),
    ],
)
def test_channel_created_only_from_a_plausible_uniqueid(
    uniqueid: str, created: datetime | None
) -> None:
    assert protocol.channel_created(uniqueid, NOW) == created
