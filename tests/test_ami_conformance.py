"""Conformance of parser, client and simulator with the golden Asterisk 22 AMI transcripts."""

from __future__ import annotations

import re
from collections import Counter
from functools import partial
from pathlib import Path

import pytest
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from hotline.dialer.ami_client import AMIClient, AMIClientProtocol, AMIConfig
from hotline.dialer.ami_protocol import AMIMessage, AMIParser
from hotline.pbxsim.ami import AMISimulator
from hotline.pbxsim.ami_queues import default_queues
from hotline.pbxsim.ami_session import AMISession

from golden import FROM_ASTERISK, TO_ASTERISK, golden_dir, golden_files, load_jsonl, stream

AMI_RAW = golden_files("ami-*.raw")
SIMULATED = ["ami-01", "ami-02", "ami-03", "ami-04", "ami-05", "ami-06", "ami-07", "ami-09",
             "ami-10", "ami-11", "ami-12"]  # fmt: skip


def test_golden_transcripts_present() -> None:
    assert len(AMI_RAW) >= 10, f"golden AMI transcripts missing under {golden_dir()}"


def reference_messages(path: Path, direction: str) -> list[list[tuple[str, str]]]:
    """Independent reading of the ``.txt`` form: lines between bare-prefix blank lines."""
    messages: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    prefix = direction + " "
    for line in path.with_suffix(".txt").read_text(encoding="latin-1").split("\n"):
        if not line.startswith(prefix):
            continue
        body = line[len(prefix) :]
        if body.startswith("Asterisk Call Manager/"):
            continue
        if body == "":
            messages.append(current)
            current = []
        else:
            key, value = body.split(":", 1)
            current.append((key, value[1:]))
    return messages


# -- 1. parser ---------------------------------------------------------------------------
@pytest.mark.parametrize("path", AMI_RAW, ids=lambda p: p.stem)
def test_parser_reads_every_asterisk_message(path: Path) -> None:
    parser = AMIParser()
    parsed = parser.feed(stream(path, FROM_ASTERISK))
    assert parser.banner == "Asterisk Call Manager/11.0.0"
    assert [list(m.headers) for m in parsed] == reference_messages(path, FROM_ASTERISK)


@pytest.mark.parametrize("path", AMI_RAW, ids=lambda p: p.stem)
def test_parser_handles_real_chunk_boundaries(path: Path) -> None:
    chunks = [c.data for c in load_jsonl(path.with_suffix(".jsonl")) if c.dir == FROM_ASTERISK]
    parser = AMIParser()
    messages = [m for chunk in chunks for m in parser.feed(chunk)]
    assert messages == AMIParser().feed(b"".join(chunks))


def test_parser_collects_event_lists_in_order() -> None:
    path = golden_dir() / "ami-11-queue.raw"
    parsed = AMIParser().feed(stream(path, FROM_ASTERISK))
    idle = [m for m in parsed if m.action_id == "qstatus-idle"]
    assert [m.name for m in idle] == [
        "Success",
        "QueueParams",
        "QueueMember",
        "QueueStatusComplete",
    ]
    assert idle[-1]["ListItems"] == "2"
    assert idle[2]["PausedReason"] == ""


# -- 2. client bytes ---------------------------------------------------------------------
def _client_call(client: AMIClient, m: AMIMessage) -> None:
    """Issue the transcript's action through the client's public API."""
    aid = m.action_id
    name = m["Action"]
    if name == "Originate":
        if "Application" in m:
            start = partial(client.originate_application, m["Channel"], m["Application"], m["Data"])
        else:
            start = partial(client.originate, m["Channel"], m["Context"], m["Exten"], m["Priority"])
        start(
            variables=dict(v.split("=", 1) for v in m.get_all("Variable")),
            timeout_ms=int(m["Timeout"]),
            caller_id=m.get("CallerID"),
            async_=m["Async"] == "true",
            action_id=aid,
        )
    elif name == "Events":
        client.events(m["EventMask"], action_id=aid)
    elif name == "Filter":
        client.filter(m["Filter"], m["Operation"], action_id=aid)
    elif name == "Getvar":
        client.getvar(m.get("Channel"), m["Variable"], action_id=aid)
    elif name == "Setvar":
        client.setvar(m.get("Channel"), m["Variable"], m["Value"], action_id=aid)
    elif name == "Command":
        client.command(m["Command"], action_id=aid)
    elif name == "QueueStatus":
        client.queue_status(m.get("Queue"), action_id=aid)
    elif name == "QueueSummary":
        client.queue_summary(m.get("Queue"), action_id=aid)
    elif name == "QueuePause":
        client.queue_pause(
            m["Interface"], m["Paused"] == "true", queue=m.get("Queue"),
            reason=m.get("Reason"), action_id=aid,
        )  # fmt: skip
    elif name == "CoreShowChannels":
        client.core_show_channels(action_id=aid)
    elif name == "Logoff":
        client.logoff(action_id=aid)
    else:  # Ping, CoreStatus, CoreSettings, unknown actions
        client.send_action(name, m.headers[2:], action_id=aid, raise_on_error=False)


def _logged_in_client(secret: str) -> tuple[AMIClient, StringTransport, AMIClientProtocol]:
    client = AMIClient(AMIConfig(username="dialer", secret=secret, ping_interval=0), clock=Clock())
    proto = AMIClientProtocol(client)
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.dataReceived(b"Asterisk Call Manager/11.0.0\r\n")
    return client, transport, proto


@pytest.mark.parametrize("path", AMI_RAW, ids=lambda p: p.stem)
def test_client_actions_are_byte_identical(path: Path) -> None:
    sent = AMIParser(expect_banner=False).feed(stream(path, TO_ASTERISK))
    # ami-03 probes actions before Login on purpose; our client always logs in first.
    first = next(i for i, m in enumerate(sent) if m["Action"] == "Login")
    login, actions = sent[first], sent[first + 1 :]
    client, transport, proto = _logged_in_client(login["Secret"])
    expected_login = login.to_bytes().replace(b"login-1", b"hotline-1")
    assert transport.value() == expected_login
    transport.clear()
    proto.dataReceived(b"Response: Success\r\nActionID: hotline-1\r\n\r\n")
    for message in actions:
        _client_call(client, message)
        sent_bytes = transport.value()
        if message.action_id is None:  # we always correlate; drop our generated id
            sent_bytes = re.sub(rb"ActionID: hotline-\d+\r\n", b"", sent_bytes)
        assert sent_bytes == message.to_bytes()
        transport.clear()


# -- 3. simulator ----------------------------------------------------------------------------
VARIABLE_KEYS = re.compile(
    r"(.*Uniqueid|.*Linkedid|UniqueID|EventTV|SessionTV|SessionID|LocalAddress|RemoteAddress"
    r"|Timestamp|Uptime|LastReload|Core(Startup|Reload)(Date|Time)|CoreProcessedCalls"
    r"|StartTime|AnswerTime|EndTime|Duration|BillableSeconds|LoginTime|LastPause|LastCall"
    r"|Holdtime|HoldTime|TalkTime|LongestHoldTime|RingTime|BridgeUniqueid)$"
)
CHANNEL_SEQ = re.compile(r"-[0-9a-f]{8}(;[12])")
DATETIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
# Channel variables whose values are measured durations.
TIMED_VARIABLES = re.compile(r"(ANSWEREDTIME|DIALEDTIME|QUEUEWAIT)(_MS)?$")


def normalise(message: AMIMessage) -> tuple[tuple[str, str], ...]:
    out = []
    timed = TIMED_VARIABLES.match(message.get("Variable") or "")
    for key, value in message.headers:
        if (VARIABLE_KEYS.match(key) or (timed and key == "Value")) and value not in (
            "<unknown>",
            "none",
            "",
        ):
            value = "*"
        value = DATETIME.sub("*", CHANNEL_SEQ.sub(r"-N\1", value))
        out.append((key, value))
    return tuple(out)


def _per_channel(messages: list[AMIMessage]) -> list[list[tuple[tuple[str, str], ...]]]:
    """Each channel's events in order, channels in order of first appearance.

    OriginateResponse and Cdr are left out: Asterisk raises them from other threads, so
    their place relative to the channel's own events varies between runs (README)."""
    sequences: dict[str, list[tuple[tuple[str, str], ...]]] = {}
    for m in messages:
        if m.kind != "event" or m.name in ("OriginateResponse", "Cdr"):
            continue
        name = m.get("Channel") or m.get("DestChannel")
        if name and name != "none":
            sequences.setdefault(name, []).append(normalise(m))
    return list(sequences.values())


def run_simulator(path: Path) -> tuple[list[AMIMessage], list[AMIMessage]]:
    """Replay the transcript's client chunks at their recorded times; return
    (golden messages from Asterisk, simulator messages)."""
    clock = Clock()
    sim = AMISimulator(clock, time_scale=1.0, queues=default_queues(clock))
    session = AMISession(sim)
    transport = StringTransport()
    session.makeConnection(transport)
    chunks = load_jsonl(path.with_suffix(".jsonl"))
    for chunk in chunks:
        if chunk.dir != TO_ASTERISK:
            continue
        _advance_to(clock, chunk.t)
        session.dataReceived(chunk.data)
    _advance_to(clock, chunks[-1].t + 30)
    golden = AMIParser().feed(stream(path, FROM_ASTERISK))
    ours = AMIParser().feed(transport.value())
    return golden, ours


def _advance_to(clock: Clock, t: float) -> None:
    while clock.seconds() < t:
        clock.advance(min(0.01, t - clock.seconds()))


@pytest.mark.parametrize("stem", SIMULATED)
def test_simulator_reproduces_transcript(stem: str) -> None:
    (path,) = golden_files(f"{stem}-*.raw")
    golden, ours = run_simulator(path)
    # Responses: same ones, same order.
    want = [normalise(m) for m in golden if m.kind == "response"]
    got = [normalise(m) for m in ours if m.kind == "response"]
    assert got == want
    # Events: the same multiset (Asterisk's threads make the global order vary) ...
    want_events = Counter(normalise(m) for m in golden if m.kind == "event")
    got_events = Counter(normalise(m) for m in ours if m.kind == "event")
    assert got_events - want_events == Counter(), "events Asterisk did not send"
    assert want_events - got_events == Counter(), "events the simulator did not send"
    # ... and per channel the same order.
    assert _per_channel(ours) == _per_channel(golden)
