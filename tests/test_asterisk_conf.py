"""The shipped Asterisk configuration (asterisk-conf/): parsed, cross-checked and walked
(the parser and the dialplan interpreter are in asterisk_dialplan.py)."""

from __future__ import annotations

import re
from typing import cast

import pytest
from asterisk_dialplan import (
    CONF_DIR,
    Dialplan,
    Effect,
    HungUp,
    all_steps,
    dialplan_problems,
    effective,
    evaluate,
    find_extension,
    load,
    one,
    parse_conf,
    parse_dialplan,
    queue_strategy,
    run,
    split_top,
)

from hotline.agi.flows import load_flows
from hotline.agi.prompts import PROMPT_NAMES
from hotline.core import dialplan as contract
from hotline.core.dialplan import (
    ABANDONED,
    AGENT_CONTEXT,
    AGENT_PHONES_CONTEXT,
    CALLERNAME,
    CAMPAIGN_KIND,
    DIAL,
    ENTRY_EXTEN,
    FLOW_CONTEXT,
    INBOUND_CONTEXT,
    PREVIEW_CONTEXT,
    QUEUE,
    QUEUE_CASHIER,
    QUEUE_COMPLAINTS,
    QUEUE_DUTY,
    QUEUE_ENQUIRIES,
    QUEUE_OUTBOUND,
    QUEUE_REPAIRS,
    RECORDING,
    SPY,
    STATUS,
    STATUS_DONE,
    STATUS_FAILED,
    SUPERVISE_CONTEXT,
)
from hotline.core.vocabulary import CampaignKind
from hotline.dialer.agent_actions import AgentActions, SpyMode
from hotline.dialer.ami_client import AMIClient
from hotline.dialer.queue_events import agent_namer
from hotline.pbxsim import ami_agent_calls, ami_spy
from hotline.settings import AMISettings, DialerSettings, FastAGISettings, InboundSettings

CAMPAIGN_KINDS = tuple(CampaignKind)
# The dialplan reaches every route the service registers, and no other.
EXPECTED_ROUTES = load_flows().names()
QUEUES = set(contract.QUEUES)
AMI_READ_NEEDED = {"call", "agent", "dialplan"}
AMI_WRITE_NEEDED = {"originate", "call", "reporting", "agent"}


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def dialplan() -> Dialplan:
    return parse_dialplan((CONF_DIR / "extensions.conf").read_text(encoding="utf-8"))


def agi_ends(**values: str) -> dict[str, Effect]:
    """The AGI ends with these channel variables set (AGISTATUS=SUCCESS unless given)."""

    def agi(_: str, variables: dict[str, str]) -> None:
        variables.setdefault("AGISTATUS", "SUCCESS")
        variables.update(values)

    return {"AGI": agi}


def agi_sets(**values: str) -> dict[str, Effect]:
    """The flow ends having set these channel variables, then its done-marker (the server's
    last act when a flow returns)."""
    return agi_ends(**{STATUS: STATUS_DONE, **values})


def agent_answers(_: str, __: dict[str, str]) -> None:
    raise HungUp  # the bridged call ends; Queue() does not return


def queue_times_out(_: str, variables: dict[str, str]) -> None:
    variables["QUEUESTATUS"] = "TIMEOUT"


def apps(trace: list[str]) -> list[str]:
    return [entry.split("(", 1)[0] for entry in trace]


# ---------------------------------------------------------------- parser tests

SAMPLE = r"""
[general]
static = yes
[globals]
X = 1 ; a comment
[one]
include => two
exten => 100,1,NoOp(semi\;colon)
 same => n(again),Set(A=${X})
 same => n,GotoIf($[${A} = 1]?again:done)
 same => 5(done),Hangup()
;-- a block
comment --;
[two]
exten => _2XX,1,Goto(one,100,again)
 same => n,Gosub(one,100,1(arg))
"""


def test_parser_numbers_priorities_and_labels() -> None:
    plan = parse_dialplan(SAMPLE)
    assert plan.globals == {"X": "1"}
    one_ctx = plan.contexts["one"]
    assert one_ctx.includes == ["two"]
    assert sorted(one_ctx.extensions["100"]) == [1, 2, 3, 5]
    assert one_ctx.labels["100"] == {"again": 2, "done": 5}
    assert one_ctx.extensions["100"][1].args == "semi;colon"
    assert one_ctx.extensions["100"][3].app == "GotoIf"
    assert set(plan.contexts) == {"one", "two"}
    assert dialplan_problems(plan) == []
    assert find_extension(plan, "one", "250") == ("two", "_2XX")  # through include => two
    assert find_extension(plan, "two", "25") is None


def test_checker_reports_broken_jumps() -> None:
    broken = SAMPLE.replace("?again:done", "?again:missing").replace("(one,100,again)", "(x,1,1)")
    broken += "include => nowhere\n"
    problems = dialplan_problems(parse_dialplan(broken))
    assert len(problems) == 3, problems
    assert any("no priority missing" in p for p in problems)
    assert any("no x,1" in p for p in problems)
    assert any("unknown [nowhere]" in p for p in problems)


def test_interpreter_follows_jumps_and_expressions() -> None:
    trace, variables = run(parse_dialplan(SAMPLE), "one", "100", {"X": "2"})
    assert trace == ["NoOp(semi;colon)", "Set(A=2)", "Hangup()"]
    assert variables["A"] == "2"
    with pytest.raises(AssertionError, match="loops"):  # X = 1: back to "again" forever
        run(parse_dialplan(SAMPLE), "one", "100")
    assert evaluate('"FAILURE" = "FAILURE" | "" = "FAILED"') == "1"
    assert evaluate("10 > 9") == "1" and evaluate("abc != abc") == "0"
    with pytest.raises(ValueError):
        evaluate(" > 0")


# ---------------------------------------------------------------- static cross-checks

# The channel variables of the contract's families, as the dialplan reads or sets them.
CONTRACT_VARIABLE = re.compile(r"\b((?:HOTLINE|LEAD|CAMPAIGN|CALL)_\w+)\b")
READ = re.compile(r"\$\{((?:HOTLINE|LEAD|CAMPAIGN|CALL)_\w+)\}")
VARIABLES = {
    *contract.FLOW_VARIABLES,
    *contract.ORIGINATE_VARIABLES,
    *contract.DIALPLAN_VARIABLES,
}
ENTERED_AT_S = (INBOUND_CONTEXT, contract.AGENT_HANDOFF_CONTEXT, FLOW_CONTEXT, AGENT_CONTEXT)


def test_every_name_of_the_dialplan_contract_is_in_the_shipped_config(dialplan: Dialplan) -> None:
    text = (CONF_DIR / "extensions.conf").read_text(encoding="utf-8")
    named = {v for k, v in vars(contract).items() if k.isupper() and isinstance(v, str)}
    checked = {*contract.CONTEXTS, *QUEUES, *VARIABLES, *contract.GLOBALS}
    # every name of the module belongs to a group checked here
    assert named == checked | {STATUS_DONE, STATUS_FAILED, ENTRY_EXTEN}, named - checked
    assert set(contract.CONTEXTS) <= dialplan.contexts.keys()
    assert set(contract.GLOBALS) == dialplan.globals.keys()
    assert {s.name for s in load("queues.conf") if not s.template} - {"general"} == QUEUES
    missing = [name for name in VARIABLES if not re.search(rf"\b{name}\b", text)]
    assert missing == []  # read by a step, or listed in the file's header for the agents' side
    for context in (*ENTERED_AT_S, PREVIEW_CONTEXT):
        assert 1 in dialplan.contexts[context].extensions[ENTRY_EXTEN], context
    steps = [s.args for s in all_steps(dialplan)]
    assert any(f'"${{{STATUS}}}" != "{STATUS_DONE}"' in args for args in steps)
    assert STATUS_FAILED != STATUS_DONE and re.search(rf"\b{STATUS_FAILED}\b", text)
    dial = f"Dial(${{{DIAL}}},{contract.PREVIEW_DIAL_TIMEOUT_S})"
    assert dial in [f"{s.app}({s.args})" for s in all_steps(dialplan)]


def test_every_variable_the_shipped_config_uses_is_in_the_contract(dialplan: Dialplan) -> None:
    steps = list(all_steps(dialplan))
    read = {name for s in steps for name in READ.findall(s.args)}
    assigned = {
        name
        for s in steps
        if s.app == "Set"
        for name in CONTRACT_VARIABLE.findall(split_top(s.args, "=", 1)[0])
    }
    assert {contract.LEAD_ID, RECORDING, contract.GLOBAL_FASTAGI} <= read  # the pattern reads
    assert {ABANDONED, contract.DIALLED} <= assigned
    assert sorted((read | assigned) - VARIABLES - set(contract.GLOBALS)) == []


def test_every_jump_lands_somewhere(dialplan: Dialplan) -> None:
    assert dialplan_problems(dialplan) == []


def test_agi_routes_are_exactly_the_expected_ones(dialplan: Dialplan) -> None:
    urls = set()
    for kind in CAMPAIGN_KINDS:
        trace, _ = run(dialplan, FLOW_CONTEXT, ENTRY_EXTEN, {CAMPAIGN_KIND: kind})
        urls |= {t for t in trace if t.startswith("AGI(")}
    trace, _ = run(dialplan, INBOUND_CONTEXT, ENTRY_EXTEN)
    urls |= {t.split(",")[0] + ")" for t in trace if t.startswith("AGI(")}
    prefix = "AGI(agi://127.0.0.1:4573/"
    assert all(url.startswith(prefix) and url.endswith(")") for url in urls), urls
    assert sorted(url[len(prefix) : -1] for url in urls) == sorted(EXPECTED_ROUTES)
    # ...and no AGI() in the file goes anywhere but our FastAGI server
    for step in all_steps(dialplan):
        if step.app == "AGI":
            assert step.args.startswith(f"agi://${{{contract.GLOBAL_FASTAGI}}}/"), step


def test_named_queues_exist_in_queues_conf(dialplan: Dialplan) -> None:
    queues = {s.name for s in load("queues.conf") if not s.template and s.name != "general"}
    assert queues == QUEUES
    used = {split_top(s.args, ",")[0] for s in all_steps(dialplan) if s.app == "Queue"}
    literal = {q for q in used if "${" not in q}
    assert literal and literal <= queues, literal - queues


def test_queue_settings() -> None:
    sections = load("queues.conf")
    for name in QUEUES:
        queue = one(sections, name)
        assert queue["announce-holdtime"] == "no", name
        assert queue["ringinuse"] == "no", name
    assert one(sections, QUEUE_OUTBOUND)["wrapuptime"] == "15"
    # AMI never reports a queue's wrap-up: the service takes it from the contract
    for section in (s for s in sections if s.name in QUEUES):
        stated = [v for k, v in effective(sections, section) if k == "wrapuptime"]
        assert stated[-1:] == [str(contract.WRAPUP_SECONDS[section.name])], section.name
    duty = one(sections, QUEUE_DUTY)
    assert (duty["joinempty"], duty["leavewhenempty"]) == ("yes", "no")


# Every phone rings at once where a caller must not wait (duty, predictive calls); elsewhere the
# agents take turns.
STRATEGIES = {QUEUE_DUTY: "ringall", QUEUE_OUTBOUND: "ringall"}


@pytest.mark.parametrize("name", sorted(QUEUES))
def test_each_queue_gets_the_strategy_it_states(name: str) -> None:
    sections = load("queues.conf")
    (section,) = [s for s in sections if s.name == name]
    stated = [value for key, value in effective(sections, section) if key == "strategy"]
    # what the file says last (what a reader takes) is what app_queue uses (the first one)
    assert stated and set(stated) == {queue_strategy(sections, name)}, stated
    assert queue_strategy(sections, name) == STRATEGIES.get(name, "rrmemory")


def test_queue_strategy_is_read_as_app_queue_reads_it() -> None:
    sections = parse_conf("[t](!)\nstrategy = rrmemory\n[q](t)\nstrategy = ringall\n[r]\n")
    assert queue_strategy(sections, "q") == "rrmemory"  # the template's, as Asterisk 22.10.1
    assert queue_strategy(sections, "r") == "ringall"  # app_queue's default


def test_queue_members_are_pjsip_endpoints() -> None:
    pjsip = load("pjsip.conf")
    endpoints = {
        s.name for s in pjsip if not s.template and dict(effective(pjsip, s))["type"] == "endpoint"
    }
    assert {"agent101", "agent102", "agent103", "trunk"} <= endpoints
    members = [
        value.split(",")[0]
        for s in load("queues.conf")
        for key, value in s.items
        if key == "member"
    ]
    assert members
    for member in members:
        tech, resource = member.split("/", 1)
        assert tech == "PJSIP" and resource.split("@")[-1] in endpoints, member


def test_endpoint_contexts_exist(dialplan: Dialplan) -> None:
    pjsip = load("pjsip.conf")
    for section in pjsip:
        items = dict(effective(pjsip, section))
        if not section.template and items.get("type") == "endpoint":
            assert items["context"] in dialplan.contexts, section.name
    trunk = [dict(s.items) for s in pjsip if s.name == "trunk"]
    assert {"type": "endpoint", "context": INBOUND_CONTEXT}.items() <= trunk[0].items()


def test_pjsip_ships_placeholders_not_secrets() -> None:
    pjsip = load("pjsip.conf")
    passwords = [v for s in pjsip for k, v in s.items if k == "password"]
    assert len(passwords) == 4
    assert all(p.startswith("CHANGE_ME") for p in passwords), passwords
    assert one(load("manager.conf"), "hotline")["secret"].startswith("CHANGE_ME")


def test_playback_prompts_exist(dialplan: Dialplan) -> None:
    played = [s.args for s in all_steps(dialplan) if s.app in ("Playback", "Background")]
    assert "hotline/abandon" in played
    for name in played:
        assert name in PROMPT_NAMES, name


def test_manager_is_loopback_and_least_privilege() -> None:
    sections = load("manager.conf")
    general = one(sections, "general")
    assert general["bindaddr"] == "127.0.0.1" and general["webenabled"] == "no"
    user = [s for s in sections if s.name == "hotline"]
    assert len(user) == 1
    items = user[0].items
    read = set(dict(items)["read"].split(","))
    write = set(dict(items)["write"].split(","))
    assert "all" not in read | write
    assert read == AMI_READ_NEEDED
    assert write == AMI_WRITE_NEEDED
    assert [v for k, v in items if k == "deny"] == ["0.0.0.0/0.0.0.0"]
    assert [v for k, v in items if k == "permit"] == ["127.0.0.1/255.255.255.255"]


# Asterisk 22.10.1's modules whose MODULEINFO `requires` another (res/res_ari_*.c: res_ari).
REQUIRES = {
    f"res_ari_{name}.so": "res_ari.so"
    for name in (
        *("applications", "asterisk", "bridges", "channels", "device_states", "endpoints"),
        *("events", "mailboxes", "playbacks", "recordings", "sounds"),
    )
}


def test_a_module_not_loaded_takes_the_modules_requiring_it_along() -> None:
    """Else each of them logs "missing dependency" at every start (11 lines for res_ari)."""
    noload = {value for s in load("modules.conf") for key, value in s.items if key == "noload"}
    assert "res_ari.so" in noload
    left = {module for module, needs in REQUIRES.items() if needs in noload} - noload
    assert not left, sorted(left)


# Required modules that decline to load without their config file (Asterisk 22.10.1).
CONFIG_OF = {
    "app_amd.so": "amd.conf",
    "app_queue.so": "queues.conf",
    "pbx_config.so": "extensions.conf",
}


def test_every_required_module_has_the_config_file_it_needs() -> None:
    """A required module that declines stops Asterisk at start-up (exit status 2)."""
    required = {value for s in load("modules.conf") for key, value in s.items if key == "require"}
    missing = [CONFIG_OF[m] for m in sorted(required) if m in CONFIG_OF]
    missing = [name for name in missing if not (CONF_DIR / name).is_file()]
    assert not missing, missing


def test_modules_conf_requires_what_the_dialplan_uses(dialplan: Dialplan) -> None:
    required = {value for s in load("modules.conf") for key, value in s.items if key == "require"}
    provides = {
        "AGI": "res_agi.so", "Queue": "app_queue.so", "MixMonitor": "app_mixmonitor.so",
        "AMD": "app_amd.so", "Playback": "app_playback.so", "Gosub": "app_stack.so",
        "Return": "app_stack.so", "Dial": "app_dial.so",
    }  # fmt: skip
    used = {s.app for s in all_steps(dialplan)}
    assert {provides[app] for app in used if app in provides} <= required


# ---------------------------------------------------------------- call paths


def test_service_down_goes_straight_to_duty(dialplan: Dialplan) -> None:
    trace, _ = run(dialplan, INBOUND_CONTEXT, "88001234", effects=agi_ends(AGISTATUS="FAILURE"))
    answered_by_duty = ["Answer", "Gosub", "Return", "Queue", "Hangup"]
    assert apps(trace) == ["Set", "NoOp", "Set", "Ringing", "AGI", *answered_by_duty]
    assert trace[-2] == f"Queue({QUEUE_DUTY})"


def test_service_dying_mid_call_goes_to_duty(dialplan: Dialplan) -> None:
    """Asterisk 22 ends the AGI with AGISTATUS=SUCCESS when the FastAGI socket closes (res_agi:
    EOF is "script completed"), even with the queue chosen before the flow could finish."""
    effects = agi_ends(**{CALLERNAME: "3-1-201", QUEUE: QUEUE_REPAIRS})
    effects["Queue"] = agent_answers
    trace, variables = run(dialplan, INBOUND_CONTEXT, "88001234", effects=effects)
    assert trace[-1] == f"Queue({QUEUE_DUTY})" and "Answer()" in trace
    assert variables["CALLERID(name)"] == "3-1-201"  # what the flow had told the dialplan


def test_the_dialled_number_reaches_the_flow(dialplan: Dialplan) -> None:
    trace, _ = run(dialplan, INBOUND_CONTEXT, "88001234", effects=agi_sets())
    assert "AGI(agi://127.0.0.1:4573/inbound,88001234)" in trace
    trace, _ = run(dialplan, INBOUND_CONTEXT, "+862188001234", effects=agi_sets())
    assert "AGI(agi://127.0.0.1:4573/inbound,+862188001234)" in trace


def test_failed_flow_goes_to_duty_with_what_it_knew(dialplan: Dialplan) -> None:
    trace, variables = run(
        dialplan,
        INBOUND_CONTEXT,
        ENTRY_EXTEN,
        effects=agi_sets(**{STATUS: STATUS_FAILED, CALLERNAME: "3-1-201 王女士"}),
    )
    assert "Answer()" in trace and trace[-2] == f"Queue({QUEUE_DUTY})"
    assert variables["CALLERID(name)"] == "3-1-201 王女士"


def test_flow_hands_caller_to_its_queue_with_name_and_recording(dialplan: Dialplan) -> None:
    effects = agi_sets(
        **{
            QUEUE: QUEUE_REPAIRS,
            CALLERNAME: "3-1-201 张先生",
            RECORDING: "hotline/2026/TK1001.wav",
        }
    )
    effects["Queue"] = agent_answers
    trace, variables = run(dialplan, INBOUND_CONTEXT, ENTRY_EXTEN, effects=effects)
    assert trace[-1] == f"Queue({QUEUE_REPAIRS},,,,300)"
    assert "MixMonitor(hotline/2026/TK1001.wav,b)" in trace
    assert variables["CALLERID(name)"] == "3-1-201 张先生"
    assert "Answer()" not in trace  # the flow answered; the dialplan does not


def test_no_recording_when_switched_off(dialplan: Dialplan) -> None:
    effects = agi_sets(**{QUEUE: QUEUE_CASHIER})
    effects["Queue"] = agent_answers
    trace, variables = run(dialplan, INBOUND_CONTEXT, ENTRY_EXTEN, effects=effects)
    assert not [t for t in trace if t.startswith("MixMonitor")]
    assert "CALLERID(name)" not in variables
    assert trace[-1] == f"Queue({QUEUE_CASHIER},,,,300)"


def test_unanswered_queue_falls_back_to_duty(dialplan: Dialplan) -> None:
    effects = agi_sets(**{QUEUE: QUEUE_COMPLAINTS})
    effects["Queue"] = queue_times_out
    trace, _ = run(dialplan, INBOUND_CONTEXT, ENTRY_EXTEN, effects=effects)
    assert [t for t in trace if t.startswith("Queue")] == [
        f"Queue({QUEUE_COMPLAINTS},,,,300)",
        f"Queue({QUEUE_DUTY})",
    ]


def test_flow_without_queue_hangs_up(dialplan: Dialplan) -> None:
    trace, _ = run(dialplan, INBOUND_CONTEXT, ENTRY_EXTEN, effects=agi_sets())
    assert apps(trace) == ["NoOp", "Set", "Ringing", "AGI", "Hangup"]


def test_menu_answers_at_once_by_default(dialplan: Dialplan) -> None:
    trace, variables = run(dialplan, INBOUND_CONTEXT, ENTRY_EXTEN, effects=agi_sets())
    assert trace[2:4] == ["Ringing()", "AGI(agi://127.0.0.1:4573/inbound,)"]
    assert variables["CHANNEL(language)"] == "zh"


def test_agents_first_rings_the_queue_before_the_menu(dialplan: Dialplan) -> None:
    effects = agi_sets()
    effects["Queue"] = queue_times_out
    trace, _ = run(
        dialplan, INBOUND_CONTEXT, ENTRY_EXTEN, {contract.GLOBAL_RING_AGENTS_FIRST: "6"}, effects
    )
    assert apps(trace)[2:5] == ["Ringing", "Queue", "AGI"]
    assert trace[3] == f"Queue({QUEUE_ENQUIRIES},r,,,6)"
    # an agent who picks up takes the call: no voice menu at all
    trace, _ = run(
        dialplan,
        INBOUND_CONTEXT,
        ENTRY_EXTEN,
        {contract.GLOBAL_RING_AGENTS_FIRST: "6"},
        {"Queue": agent_answers},
    )
    assert "AGI" not in apps(trace)


def test_outbound_landing_runs_the_campaign_flow(dialplan: Dialplan) -> None:
    trace, _ = run(dialplan, FLOW_CONTEXT, ENTRY_EXTEN, {CAMPAIGN_KIND: "visitor"}, agi_sets())
    assert "AGI(agi://127.0.0.1:4573/outbound/visitor)" in trace
    assert "AMD" not in apps(trace)
    assert apps(trace)[-1] == "Hangup"


def test_outbound_landing_can_queue_the_resident(dialplan: Dialplan) -> None:
    effects = agi_sets(**{QUEUE: QUEUE_CASHIER})
    effects["Queue"] = queue_times_out
    trace, _ = run(dialplan, FLOW_CONTEXT, ENTRY_EXTEN, {CAMPAIGN_KIND: "arrears"}, effects)
    assert trace[-3:] == [f"Queue({QUEUE_CASHIER},,,,300)", "Playback(hotline/abandon)", "Hangup()"]


def test_an_answered_campaign_call_is_recorded_whole_and_only_once(dialplan: Dialplan) -> None:
    effects = agi_sets(**{QUEUE: QUEUE_CASHIER})
    effects["Queue"] = agent_answers
    call = {CAMPAIGN_KIND: "arrears", RECORDING: "/rec/calls/lead-7-1.wav"}
    trace, _ = run(dialplan, FLOW_CONTEXT, ENTRY_EXTEN, call, effects)
    # from the answer (the flow and the agent alike), not only while bridged
    assert [t for t in trace if t.startswith("MixMonitor")] == [
        "MixMonitor(/rec/calls/lead-7-1.wav)"
    ]
    assert trace.index("MixMonitor(/rec/calls/lead-7-1.wav)") < trace.index(
        "AGI(agi://127.0.0.1:4573/outbound/arrears)"
    )


@pytest.mark.parametrize(("amd", "flow_runs"), [("MACHINE", False), ("HUMAN", True)])
def test_answering_machine_detection(dialplan: Dialplan, amd: str, flow_runs: bool) -> None:
    def detect(_: str, variables: dict[str, str]) -> None:
        variables["AMDSTATUS"] = amd

    effects = {**agi_sets(), "AMD": detect}
    variables = {contract.GLOBAL_AMD: "1", CAMPAIGN_KIND: "notice"}
    trace, _ = run(dialplan, FLOW_CONTEXT, ENTRY_EXTEN, variables, effects)
    assert "AMD()" in trace
    assert ("AGI(agi://127.0.0.1:4573/outbound/notice)" in trace) is flow_runs


def test_predictive_call_without_agent_is_abandoned(dialplan: Dialplan) -> None:
    trace, variables = run(dialplan, AGENT_CONTEXT, ENTRY_EXTEN, effects={"Queue": queue_times_out})
    assert trace[-4:] == [
        f"Queue({QUEUE_OUTBOUND},n,,,2)",
        f"Set({ABANDONED}=1)",
        "Playback(hotline/abandon)",
        "Hangup()",
    ]
    assert variables[ABANDONED] == "1"


def test_predictive_call_reaching_an_agent_is_not_abandoned(dialplan: Dialplan) -> None:
    variables_in = {CALLERNAME: "5-2-1102 李先生", contract.GLOBAL_CONNECT_LIMIT: "3"}
    trace, variables = run(
        dialplan, AGENT_CONTEXT, ENTRY_EXTEN, variables_in, {"Queue": agent_answers}
    )
    assert trace[-1] == f"Queue({QUEUE_OUTBOUND},n,,,3)"
    assert ABANDONED not in variables
    assert variables["CALLERID(name)"] == "5-2-1102 李先生"


def test_every_context_the_dialer_originates_into_exists(dialplan: Dialplan) -> None:
    for context in (FLOW_CONTEXT, AGENT_CONTEXT, PREVIEW_CONTEXT):
        assert 1 in dialplan.contexts[context].extensions[ENTRY_EXTEN], context


@pytest.mark.parametrize("recording", ["/rec/calls/lead-7-1.wav", ""])
def test_a_preview_call_rings_the_resident_from_the_agents_answered_phone(
    dialplan: Dialplan, recording: str
) -> None:
    call = {DIAL: "PJSIP/13800138000@trunk", RECORDING: recording}
    trace, _ = run(dialplan, PREVIEW_CONTEXT, ENTRY_EXTEN, call)
    timeout = f"{ami_agent_calls.DIAL_TIMEOUT_S:g}"
    assert trace[-2:] == [f"Dial(PJSIP/13800138000@trunk,{timeout})", "Hangup()"]
    recorded = [t for t in trace if t.startswith("MixMonitor")]
    assert recorded == ([f"MixMonitor({recording},b)"] if recording else [])
    assert "AGI" not in apps(trace) and "Queue" not in apps(trace)  # the agent talks


@pytest.mark.parametrize(
    ("mode", "options"),
    [(SpyMode.LISTEN, "qE"), (SpyMode.WHISPER, "qwE"), (SpyMode.BARGE, "qBE")],
)
def test_a_supervisor_spies_on_the_agents_call_as_the_console_asks(
    dialplan: Dialplan, mode: SpyMode, options: str
) -> None:
    """The Originate AgentActions.supervise sends lands on an extension of the shipped context
    that spies on exactly the variable it sets, with the mode's options."""
    # The shipped endpoints and queue members are PJSIP/agent101, ... (pjsip.conf, queues.conf).
    actions = AgentActions(cast(AMIClient, None), DialerSettings().agent_channel_template)
    prefix = f"{actions.phone('101')}-"
    trace, _ = run(dialplan, SUPERVISE_CONTEXT, mode.value, {SPY: prefix})
    assert trace == ["Answer()", f"ChanSpy({prefix},{options})", "Hangup()"]
    assert prefix == "PJSIP/agent101-"  # the shipped queues' member interface, dash-ended
    assert set(dialplan.contexts[SUPERVISE_CONTEXT].extensions) == set(SpyMode)
    # The simulator plays the same context with the same options.
    assert ami_spy.OPTIONS[mode.value] == options


def test_agents_can_test_the_hotline_and_call_out(dialplan: Dialplan) -> None:
    trace, _ = run(dialplan, AGENT_PHONES_CONTEXT, "8000", effects=agi_sets())
    assert "AGI(agi://127.0.0.1:4573/inbound,8000)" in trace
    trace, _ = run(dialplan, AGENT_PHONES_CONTEXT, "913800001111")
    assert trace[0] == "Dial(PJSIP/13800001111@trunk,60)"


def test_conf_matches_service_defaults(dialplan: Dialplan) -> None:
    globals_ = dialplan.globals
    assert globals_[contract.GLOBAL_FASTAGI] == FastAGISettings().listen
    limit = DialerSettings().connect_limit_seconds
    assert float(globals_[contract.GLOBAL_CONNECT_LIMIT]) == limit
    first = InboundSettings().ring_agents_first
    assert float(globals_[contract.GLOBAL_RING_AGENTS_FIRST]) == first
    manager = load("manager.conf")
    assert int(one(manager, "general")["port"]) == AMISettings().port
    assert one(manager, AMISettings().username)["read"]
    template = DialerSettings().channel_template
    assert template.startswith("PJSIP/") and template.endswith("@trunk")
    # Extension 101 (users, `campaign dial --agent 101`, the live stream) is the endpoint agent101
    # and the queues' member PJSIP/agent101, through the default template both ways.
    agent_template = DialerSettings().agent_channel_template
    assert agent_template.format(agent="101") == "PJSIP/agent101"
    queues = load("queues.conf")
    members = {v.split(",")[0] for s in queues for k, v in s.items if k == "member"}
    assert "PJSIP/agent101" in members
    assert {agent_namer(agent_template)(m) for m in members} == {"101", "102", "103"}
    pjsip = load("pjsip.conf")
    (endpoint,) = [
        items
        for items in (dict(effective(pjsip, s)) for s in pjsip if s.name == "agent101")
        if items.get("type") == "endpoint"
    ]
    assert endpoint["context"] == AGENT_PHONES_CONTEXT
