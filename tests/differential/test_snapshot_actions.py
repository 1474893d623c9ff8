"""The actions `dialer.pbx_snapshot` asks the PBX on every AMI connect (QueueStatus,
CoreShowChannels, Status with ``Variables``), on the simulators and (with
``HOTLINE_TEST_ASTERISK``) on a real Asterisk, while queue calls are in progress.

One run per PBX, test_queue_and_supervision's setting made smaller: agent 101 alone (102 and
103 paused) talks with a caller the inbound flow handed to the enquiries queue, and the PBX is
asked; then only 109, who never answers, is free and a second caller waits while it rings, and
the PBX is asked again. Compared: each reply's events, their header names in order and their
values' forms, the list's completion event, and the calls `PbxSnapshot` rebuilds from them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ami_watch import EventLog, Match, channel_form, event
from asterisk_pbx import RealAsterisk, find_binary
from pbxs import RealPBX
from scenario import InboundCall, Scenario
from test_queue_and_supervision import (
    CALLER,
    HOTLINE,
    MEMBERS,
    PHONES,
    QUEUE,
    RESIDENTS,
    RING_OUT_MEMBER,
    TO_ENQUIRIES,
    PBXFactory,
    SimulatedQueuePBX,
    member,
    served_run,
)
from twisted.internet.defer import Deferred

from hotline.core.dialplan import TICKET, UNIT
from hotline.core.event_bus import EventBus
from hotline.core.events import CallInProgress
from hotline.dialer.ami_client import AMIClient, AMIListResult
from hotline.dialer.ami_protocol import AMIMessage
from hotline.dialer.pbx_snapshot import FLOW_VARIABLES, PbxSnapshot
from hotline.dialer.queue_events import QueueEvents, agent_namer

PATIENCE_S = 3.0  # the second caller's, while 109 rings (queues.conf: a member rings 15 s)
THE_UNIT = "3-1-202"  # the caller's unit (RESIDENTS), which the flow leaves on the channel


@dataclass
class Asked:
    """One snapshot: the three replies (the Status one for the queue caller's channel) and the
    calls `PbxSnapshot` made of what it asked itself just after."""

    replies: dict[str, AMIListResult]
    calls: list[CallInProgress]


Run = dict[str, Asked]  # "talking" (101 with the first caller), "waiting" (the second)


async def ask(ami: AMIClient, caller: str) -> Asked:
    replies = {
        "QueueStatus": await ami.queue_status(QUEUE),
        "CoreShowChannels": await ami.core_show_channels(),
        "Status": await ami.status(caller, FLOW_VARIABLES),
    }
    bus, clock = EventBus(), lambda: datetime.now(UTC)
    queue_events = QueueEvents(bus, clock, agent_namer(PHONES))
    calls = await PbxSnapshot(ami, bus, queue_events, clock).take()
    return Asked(replies, calls)


async def scenario(pbx: Any, log: EventLog) -> Run:
    ami, asked = log.client, Run()

    async def send(action: str, *headers: tuple[str, str], then: str) -> None:
        heard = log.next(event(then, Interface=dict(headers)["Interface"]))
        await ami.send_action(action, list(headers))
        await heard

    async def pause(extension: str, paused: bool) -> None:
        headers = [("Queue", QUEUE), ("Interface", member(extension))]
        await send("QueuePause", *headers, ("Paused", str(paused).lower()), then="QueueMemberPause")

    # 1. Agent 101 alone takes the first caller; asked while they talk.
    for extension in MEMBERS[1:]:
        await pause(extension, True)
    joined = log.next(event("QueueCallerJoin", Queue=QUEUE))
    bridged = [log.next(entered(who)) for who in ("@hotline-", f"{PHONES.format(agent='101')}-")]
    first = Deferred.fromCoroutine(pbx.inbound(InboundCall(HOTLINE, CALLER, TO_ENQUIRIES, None)))
    caller = (await joined).get("Channel", "")
    for both in bridged:  # Asterisk's AgentConnect comes before the caller is in the bridge
        await both
    # the ticket a flow leaves on the channel (the enquiries path opens none); the second
    # caller's stays unset
    await ami.send_action("Setvar", [("Channel", caller), ("Variable", TICKET), ("Value", "41")])
    asked["talking"] = await ask(ami, caller)
    await first

    # 2. Only 109, who never answers, is free: asked while it rings for the second caller.
    await pause(MEMBERS[0], True)
    ring_out = [("Queue", QUEUE), ("Interface", member(RING_OUT_MEMBER))]
    await send("QueueAdd", *ring_out, then="QueueMemberAdded")
    called = log.next(event("AgentCalled", Queue=QUEUE))
    phone = re.compile(re.escape(member(RING_OUT_MEMBER).removesuffix("/n")) + r"-[0-9a-f]{8};1")
    rings = log.next(
        lambda e: (
            e.name == "Newstate"
            and phone.fullmatch(e.get("Channel", "")) is not None
            and e.get("ChannelState") == "5"
        )
    )
    waiting = InboundCall(HOTLINE, CALLER, TO_ENQUIRIES, patience_s=PATIENCE_S)
    second = Deferred.fromCoroutine(pbx.inbound(waiting))
    caller = (await called).get("Channel", "")
    await rings
    asked["waiting"] = await ask(ami, caller)
    await second
    await send("QueueRemove", *ring_out, then="QueueMemberRemoved")
    for extension in MEMBERS:
        await pause(extension, False)
    return asked


def entered(channel_part: str) -> Match:
    """A BridgeEnter of a channel whose name has `channel_part`."""
    return lambda e: e.name == "BridgeEnter" and channel_part in e.get("Channel", "")


def run(folder: Path, make_pbx: PBXFactory) -> Run:
    async def play(_reactor: Any, pbx: Any, log: EventLog) -> Run:
        asked = await scenario(pbx, log)
        write_replies(asked, folder / "replies.txt")
        return asked

    return served_run(folder, "snapshot-actions", make_pbx, play, timeout=180)


def write_replies(asked: Run, path: Path) -> None:
    """The replies as they came, for the one who reads a failure."""
    blocks = [
        f"== {when} {action}\n"
        + "\n\n".join(
            "\n".join(f"{k}: {v}" for k, v in m.headers)
            for m in (reply.response, *reply.events, reply.complete)
        )
        for when, one in asked.items()
        for action, reply in one.replies.items()
    ]
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- what is compared

# The queue caller's channel: on the real PBX a Local channel originated to the dialled number,
# in the simulator named after the AGI's extension (on a site it is the trunk's): one form.
_CALLER_LEG = re.compile(r"^Local/[^@/]+@hotline-<n>(?=;[12]$)")
_UNIQUEID = re.compile(r"^\d+\.\d+$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_HHMMSS = re.compile(r"^\d{2}:\d{2}:\d{2}$")
# How long something took is the run's (whole seconds, and app_queue's averages of them);
# a time of day is too, but whether there is one (not 0) is the PBX's.
DURATIONS = frozenset({"Wait", "Seconds", "Holdtime", "HoldTime", "TalkTime"})
EPOCHS = frozenset({"LastCall", "LastPause", "LoginTime"})


def stand_in(item: AMIMessage) -> bool:
    """A channel the harness has in place of a device: the real run's resident, the ;1 half of
    the caller's Local channel idling in [test-caller] (the trunk's far end has no channel on a
    site's PBX, nor in the simulator); an agent's phone, the ;2 half running [test-agents] (on a
    site, PJSIP/agent101 is one channel, the ;1 half's place)."""
    context, name = item.get("Context"), item.get("Channel", "")
    return context == "test-caller" or (context == "test-agents" and name.endswith(";2"))


def form(name: str, value: str) -> str:
    """A header's value as compared: volatile values (channel sequence numbers, uniqueids,
    bridge ids, durations, times) by their form."""
    if name == "ActionID":
        return "<id>"
    if name in DURATIONS and value.isdigit():
        return "<seconds>"
    if name in EPOCHS and value.isdigit():
        return value if value == "0" else "<epoch>"
    if _UNIQUEID.match(value):
        return "<uniqueid>"
    if _UUID.match(value):
        return "<bridge>"
    if _HHMMSS.match(value):
        return "<hh:mm:ss>"
    return _CALLER_LEG.sub("<caller>", channel_form(value))


Item = tuple[str, list[tuple[str, str]]]  # event, (header, value form) in order
# A ringing Local member's Status on Asterisk: 2 (in use) once the Local channel's own thread
# runs, 1 before; which one the device state change shows by the time it is asked varies.
RINGING_LOCAL = {"1": "<1 or 2>", "2": "<1 or 2>"}


def settled(name: str, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if name != "QueueMember" or ("Location", member(RING_OUT_MEMBER)) not in headers:
        return headers
    return [(k, RINGING_LOCAL.get(v, v) if k == "Status" else v) for k, v in headers]


@dataclass
class Reply:
    """A list action's reply as compared: the response, the items (in a stable order: Asterisk
    lists members and channels in its containers' hash order, which nothing reads), the
    completion event with its count of the compared items."""

    response: list[tuple[str, str]]
    items: list[Item] = field(default_factory=list)
    complete: Item = ("", [])


def reply_form(reply: AMIListResult) -> Reply:
    def headers(m: AMIMessage) -> list[tuple[str, str]]:
        return [(k, form(k, v)) for k, v in m.headers if k != "Event"]

    items = [(m.name, settled(m.name, headers(m))) for m in reply.events if not stand_in(m)]
    left_out = len(reply.events) - len(items)
    complete = [
        (k, str(int(v) - left_out) if k in ("ListItems", "Items") else v)
        for k, v in headers(reply.complete)
    ]
    return Reply(headers(reply.response), sorted(items), (reply.complete.name, complete))


def call_form(call: CallInProgress) -> tuple[Any, ...]:
    return (call.queue, call.agent, call.caller, call.ticket_id, call.unit)


_runs: dict[str, Run] = {}


def on(name: str, tmp: pytest.TempPathFactory, make_pbx: PBXFactory) -> Run:
    if name not in _runs:
        _runs[name] = run(tmp.mktemp("snapshot-actions") / name, make_pbx)
    return _runs[name]


def on_the_simulators(tmp: pytest.TempPathFactory) -> Run:
    return on("simulator", tmp, SimulatedQueuePBX)


def listed(reply: AMIListResult, count: str) -> None:
    """The completion event counts the items sent (ListItems; Status's Items too)."""
    assert reply.response.get("EventList") == "start"
    assert reply.complete.get("EventList") == "Complete"
    assert reply.complete.get(count) == str(len(reply.events)), reply.complete.headers


def test_on_the_simulators(tmp_path_factory: pytest.TempPathFactory) -> None:
    asked = on_the_simulators(tmp_path_factory)
    for one in asked.values():
        listed(one.replies["QueueStatus"], "ListItems")
        listed(one.replies["CoreShowChannels"], "ListItems")
        listed(one.replies["Status"], "Items")
    variables = {
        when: one.replies["Status"].events[0].get_all("Variable") for when, one in asked.items()
    }
    assert variables == {
        "talking": [f"{TICKET}=41", f"{UNIT}={THE_UNIT}"],
        "waiting": [f"{TICKET}=(null)", f"{UNIT}={THE_UNIT}"],
    }
    talking, waiting = (asked[k].replies["QueueStatus"].events for k in ("talking", "waiting"))
    assert [e.name for e in talking] == ["QueueParams", *["QueueMember"] * 3]
    assert [e.name for e in waiting] == ["QueueParams", *["QueueMember"] * 4, "QueueEntry"]
    assert [call_form(c) for c in asked["talking"].calls] == [
        (QUEUE, MEMBERS[0], CALLER, 41, THE_UNIT)
    ]
    assert [call_form(c) for c in asked["waiting"].calls] == [(QUEUE, None, CALLER, None, THE_UNIT)]


def test_a_real_asterisk_says_the_same(
    tmp_path_factory: pytest.TempPathFactory, real_asterisk: RealAsterisk | None
) -> None:
    """The same events, header names in order, value forms and list ends from both, and the
    same calls rebuilt from them (the agent, the caller, the ticket and unit variables)."""
    if real_asterisk is None:
        pytest.skip(f"real Asterisk half: {find_binary()[1]}")
    simulated = on_the_simulators(tmp_path_factory)
    scenario_ = Scenario("snapshot-actions", RESIDENTS)
    real = on("asterisk", tmp_path_factory, lambda r, s: RealPBX(r, s, scenario_, real_asterisk))
    for when, one in real.items():
        for action, reply in one.replies.items():
            listed(reply, "Items" if action == "Status" else "ListItems")
            mine, theirs = reply_form(reply), reply_form(simulated[when].replies[action])
            assert mine.response == theirs.response, (when, action)
            assert mine.items == theirs.items, (when, action)
            assert mine.complete == theirs.complete, (when, action)
        calls = simulated[when].calls
        assert [call_form(c) for c in one.calls] == [call_form(c) for c in calls], when
        # since when: the bridged caller's channel's age (the voice menu's time in it), the
        # waiting one's time in the queue
        for a, b in zip(one.calls, calls, strict=True):
            assert abs((a.at - a.since) - (b.at - b.since)).total_seconds() <= 2, when
