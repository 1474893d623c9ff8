"""AMI framing: parser, classification, serialisation."""

from __future__ import annotations

import pytest

from hotline.dialer.ami_protocol import (
    AMIMessage,
    AMIParser,
    AMIProtocolError,
    format_action,
    format_message,
)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def test_banner_then_messages_byte_by_byte() -> None:
    data = BANNER + b"Response: Success\r\nActionID: a-1\r\nPing: Pong\r\n\r\n"
    data += b"Event: VarSet\r\nVariable: X\r\nValue: \r\n\r\n"
    parser = AMIParser()
    messages = [m for byte in data for m in parser.feed(bytes([byte]))]
    assert parser.banner == "Asterisk Call Manager/11.0.0"
    assert [m.kind for m in messages] == ["response", "event"]
    assert messages[0].action_id == "a-1"
    assert messages[0]["ping"] == "Pong"  # keys match case-insensitively
    assert messages[1].name == "VarSet"
    assert messages[1]["Value"] == ""


def test_repeated_keys_keep_order() -> None:
    (m,) = AMIParser(expect_banner=False).feed(
        b"Action: Originate\r\nVariable: A=1\r\nChannel: Local/1@x\r\nVariable: B=2\r\n\r\n"
    )
    assert m.kind == "action"
    assert m.get_all("Variable") == ["A=1", "B=2"]
    assert m.keys() == ["Action", "Variable", "Channel", "Variable"]


def test_command_output_lines() -> None:
    (m,) = AMIParser(expect_banner=False).feed(
        b"Response: Success\r\nMessage: Command output follows\r\n"
        b"Output: one\r\nOutput: two\r\n\r\n"
    )
    assert m.output == "one\ntwo"


def test_value_keeps_colons_and_trailing_spaces() -> None:
    (m,) = AMIParser(expect_banner=False).feed(b"Event: X\r\nFilter: Event: Hangup  \r\n\r\n")
    assert m["Filter"] == "Event: Hangup  "


def test_bad_banner_is_an_error() -> None:
    with pytest.raises(AMIProtocolError, match="banner"):
        AMIParser().feed(b"SSH-2.0-OpenSSH\r\n")


def test_garbled_line_raises_keeps_earlier_messages_and_resumes() -> None:
    parser = AMIParser(expect_banner=False)
    data = b"Event: A\r\n\r\nthis is not a header\r\n\r\nEvent: B\r\n\r\n"
    with pytest.raises(AMIProtocolError, match="garbled") as info:
        parser.feed(data)
    assert [m.name for m in info.value.messages] == ["A"]
    assert [m.name for m in parser.feed(b"")] == ["B"]


def test_unterminated_flood_is_bounded() -> None:
    parser = AMIParser(expect_banner=False)
    with pytest.raises(AMIProtocolError, match="exceeds"):
        parser.feed(b"Event: X\r\n" + b"Y: " + b"z" * (2 << 20))


def test_format_action_order_and_variables() -> None:
    data = format_action(
        "Originate",
        [("Channel", "Local/100@resident-sim")],
        action_id="o-1",
        variables={"CAMPAIGN_ID": "camp42", "LEAD_ID": "lead-7"},
    )
    assert data == (
        b"Action: Originate\r\nActionID: o-1\r\nChannel: Local/100@resident-sim\r\n"
        b"Variable: CAMPAIGN_ID=camp42\r\nVariable: LEAD_ID=lead-7\r\n\r\n"
    )


@pytest.mark.parametrize("bad", ["x\r\nAction: Hangup", "x\ny"])
def test_header_injection_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        format_action("Getvar", [("Variable", bad)])


def test_round_trip() -> None:
    headers = (("Event", "Cdr"), ("AccountCode", ""), ("CallerID", '"Dialer" <5550100>'))
    (m,) = AMIParser(expect_banner=False).feed(format_message(headers))
    assert m == AMIMessage(headers)
    assert m.to_bytes() == format_message(headers)
