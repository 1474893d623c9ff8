"""One set of scenarios, run with `hotline serve` against the simulators and, when
``HOTLINE_TEST_ASTERISK`` names an asterisk binary, against a real Asterisk: both runs must leave
the same tickets, call records and dispositions, and the dialplan must hand each call to the
same queue. The simulator half always runs, and checks what each scenario is about.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from asterisk_dialplan import load, queue_strategy
from asterisk_pbx import RealAsterisk, find_binary, free_port
from harness import (
    AMILink,
    ServeProcess,
    outbound_records,
    prepare_database,
    service_env,
    until,
)
from pbxs import RealPBX, SimulatedPBX
from scenario import InboundCall, Outcome, Scenario, read_outcome

from hotline.core import dialplan as contract
from hotline.core.db import Database
from hotline.pbxsim.fastagi import Keys, Silence, Speak

from reactor_run import run_on_reactor

RESIDENTS = (
    "unit,name,phone,phone2,lang,do_not_call\n"
    "3-1-201,张伟,13800138000,,zh,no\n"
    "3-1-202,Li Na,5551234,,en,no\n"
)
OUTBOUND_RESIDENTS = (
    "unit,name,phone,phone2,lang,do_not_call\n"
    "8-1-101,接听,13810000001,,zh,no\n"
    "8-1-102,占线,13820000002,,zh,no\n"
    "8-1-106,拥塞,13830000003,,zh,no\n"
    "8-1-103,无人接,13840000004,,zh,no\n"
    "8-1-104,拒接,13850000005,,zh,no\n"
    "8-1-105,空号,13860000006,,zh,no\n"
)
ABANDONED_RESIDENT = "unit,name,phone,phone2,lang,do_not_call\n9-1-101,放弃,13810000009,,zh,no\n"
HOTLINE = "88001234"
GREETING = Silence()  # the language hint plays through
KEEP_UNIT = Silence()  # "press 2 if this is not your unit"
REPAIR_LEAK = (GREETING, KEEP_UNIT, Keys("1"), Keys("1"), Speak(2.0), Keys("1"))

SCENARIOS = [
    Scenario(
        "inbound-repair", RESIDENTS, inbound=(InboundCall(HOTLINE, "13800138000", REPAIR_LEAK),)
    ),
    Scenario(
        "keyed-unit",
        RESIDENTS,
        inbound=(
            InboundCall(
                HOTLINE,
                "13911112222",
                # nothing keyed at first: the no-input prompt, then the unit
                (
                    GREETING,
                    Silence(),
                    Keys("3*1*202#"),
                    Keys("1"),
                    Keys("5"),
                    Speak(1.5),
                    Keys("1"),
                ),
            ),
        ),
    ),
    Scenario(
        "hang-up-mid-recording",
        RESIDENTS,
        inbound=(
            InboundCall(
                HOTLINE,
                "5551234",
                (GREETING, KEEP_UNIT, Keys("1"), Keys("4"), Speak(1.5, hang_up=True)),
            ),
        ),
    ),
    Scenario(
        "service-killed-mid-call",
        RESIDENTS,
        inbound=(
            InboundCall(
                HOTLINE,
                "13800138000",
                (GREETING, KEEP_UNIT, Silence()),
                kill_service_at="GET DATA hotline/main-menu",
            ),
        ),
    ),
    Scenario(
        "queue-hand-off",
        RESIDENTS,
        inbound=(InboundCall(HOTLINE, "5551234", (GREETING, KEEP_UNIT, Keys("0"))),),
    ),
    Scenario("outbound-dispositions", OUTBOUND_RESIDENTS, notice_buildings=("8",)),
    Scenario(
        "abandoned-predictive-call",
        ABANDONED_RESIDENT,
        notice_buildings=("9",),
        notice_mode="predictive",
        agent_rings_out=True,
    ),
    Scenario(
        "ami-link-drop", OUTBOUND_RESIDENTS, notice_buildings=("8",), drop_ami_after_originates=6
    ),
]


def check_simulator_run(scenario: Scenario, outcome: Outcome) -> None:
    """What each scenario is about, on the simulators' run (the real run must equal it)."""
    if scenario.name == "inbound-repair":
        assert outcome.tickets == [("repair", "leak", "new", False, "3-1-201", "13800138000", True)]
        assert outcome.inbound_calls[0][:3] == ("13800138000", HOTLINE, "to_agent")
        # a leak is an emergency: a person takes it now
        assert outcome.handed_to == [contract.QUEUE_REPAIRS]
    elif scenario.name == "keyed-unit":
        assert [t[:5] for t in outcome.tickets] == [
            ("repair", "door_lock", "new", False, "3-1-202")
        ]
        assert outcome.handed_to == [None]
        assert outcome.inbound_calls[0][4].startswith("unit:none>unit:keyed>")
    elif scenario.name == "hang-up-mid-recording":
        ((kind, _, _, incomplete, unit, _, recorded),) = outcome.tickets
        assert (kind, incomplete, unit, recorded) == ("repair", True, "3-1-202", True)
        assert outcome.inbound_calls[0][2] == "caller_hangup" and outcome.handed_to == [None]
    elif scenario.name == "service-killed-mid-call":
        assert outcome.handed_to == [contract.QUEUE_DUTY]  # not hung up on: the duty queue answers
    elif scenario.name == "queue-hand-off":
        assert outcome.handed_to == [contract.QUEUE_ENQUIRIES]
        assert outcome.inbound_calls[0][2:4] == ("to_agent", contract.QUEUE_ENQUIRIES)
    elif scenario.name == "abandoned-predictive-call":
        assert outcome.outbound_calls[0] == ("13810000009", "abandoned"), outcome.outbound_calls
    else:
        dispositions = {number[:4]: disposition for number, disposition in outcome.outbound_calls}
        assert dispositions["1381"] == "answered" and dispositions["1382"] == "busy"
        # with the AMI link cut while it rang too: the call outlives the link, and its end
        # reaches the dialer once it has logged in again
        assert dispositions["1384"] == "no_answer", outcome.outbound_calls
        assert dispositions["1385"] == "rejected" and dispositions["1386"] == "unallocated"
        assert dispositions["1383"] == "congestion"
        assert len(outcome.outbound_calls) == 6  # one call each: nobody dialled twice


PBXFactory = Callable[[Any, ServeProcess, Scenario], Any]


def run_scenario(scenario: Scenario, folder: Path, make_pbx: PBXFactory) -> Outcome:
    folder.mkdir(parents=True)
    db = Database(f"sqlite:///{folder / 'hotline.db'}")
    leads = prepare_database(db, scenario, folder)
    fastagi = free_port()
    handed: list[str | None] = []

    async def body(reactor: Any) -> None:
        serve = ServeProcess({}, fastagi, folder / "serve.log")
        pbx = make_pbx(reactor, serve, scenario)
        await pbx.start()
        link = AMILink(reactor, pbx.ami_port, scenario.drop_ami_after_originates)
        serve.env = service_env(folder / "home", db.url, fastagi, link.port.getHost().port)
        serve.start()
        try:
            for call in scenario.inbound:
                handed.append(await pbx.inbound(call))
                if not serve.running:
                    serve.start()  # as systemd would: it settles what the dead one left
            if leads:
                await until(reactor, lambda: outbound_records(db) >= leads, 120, "outbound calls")
            if scenario.drop_ami_after_originates is not None:
                assert link.cuts == 1, "the AMI link was not cut"
        finally:
            serve.stop()
            await pbx.close()
            await link.port.stopListening()

    run_on_reactor(body, timeout=300)
    return read_outcome(db, handed)


# The residents' speech the real Asterisk plays (conftest.real_asterisk).
SPEECHES = [i for s in SCENARIOS for c in s.inbound for i in c.inputs if isinstance(i, Speak)]


_simulated: dict[str, Outcome] = {}


def on_the_simulators(scenario: Scenario, tmp: pytest.TempPathFactory) -> Outcome:
    """The scenario's run against the simulators (once per session)."""
    if scenario.name not in _simulated:
        folder = tmp.mktemp(scenario.name) / "simulator"
        _simulated[scenario.name] = run_scenario(scenario, folder, SimulatedPBX)
    return _simulated[scenario.name]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_on_the_simulators(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> None:
    check_simulator_run(scenario, on_the_simulators(scenario, tmp_path_factory))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_a_real_asterisk_does_the_same(
    scenario: Scenario,
    tmp_path_factory: pytest.TempPathFactory,
    real_asterisk: RealAsterisk | None,
) -> None:
    if real_asterisk is None:
        pytest.skip(f"real Asterisk half: {find_binary()[1]}")
    simulated = on_the_simulators(scenario, tmp_path_factory)
    folder = tmp_path_factory.mktemp(scenario.name) / "asterisk"
    real = run_scenario(
        scenario,
        folder,
        lambda reactor, serve, scenario: RealPBX(reactor, serve, scenario, real_asterisk),
    )
    assert real == simulated


def test_a_real_asterisk_gives_each_queue_the_strategy_the_tests_read(
    real_asterisk: RealAsterisk | None,
) -> None:
    """queue_strategy() (what the dialplan tests take from queues.conf) is what app_queue does."""
    if real_asterisk is None:
        pytest.skip(f"real Asterisk half: {find_binary()[1]}")
    sections = load("queues.conf")
    for name in sorted(s.name for s in sections if not s.template and s.name != "general"):
        shown = real_asterisk.cli(f"queue show {name}")
        match = re.search(r"in '(\w+)' strategy", shown)
        assert match, shown
        assert match.group(1) == queue_strategy(sections, name), name
