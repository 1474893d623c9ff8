"""The shipped Asterisk configuration (asterisk-conf/): parsed, cross-checked and walked.

A small parser reads Asterisk's config syntax (sections, `(!)` templates, `=`/`=>`, `;`
comments) and the dialplan (`exten =>`, `same => n`, `n(label)`, `include =>`). A tiny
interpreter walks the dialplan with given channel variables, so the call paths (service
down, flow failed, queue chosen, abandoned predictive call...) are checked as behaviour.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hotline.agi.flows import load_flows
from hotline.agi.prompts import PROMPT_NAMES
from hotline.core.vocabulary import CampaignKind
from hotline.dialer import ami_sim_agent_calls
from hotline.dialer.engine import AGENT_CONTEXT, FLOW_CONTEXT
from hotline.dialer.preview_calls import PREVIEW_CONTEXT
from hotline.settings import AMISettings, DialerSettings, FastAGISettings, InboundSettings

CONF_DIR = Path(__file__).resolve().parents[1] / "asterisk-conf"

CAMPAIGN_KINDS = tuple(CampaignKind)
# The dialplan reaches every route the service registers, and no other.
EXPECTED_ROUTES = load_flows().names()
QUEUES = {"repairs", "complaints", "enquiries", "duty", "cashier", "outbound"}
AMI_READ_NEEDED = {"call", "agent", "dialplan"}
AMI_WRITE_NEEDED = {"originate", "call", "reporting", "agent"}


# ---------------------------------------------------------------- config file syntax


@dataclass
class Section:
    name: str
    template: bool
    parents: list[str]
    items: list[tuple[str, str]]
    line: int


def conf_lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines without comments: `;` to end of line (not `\\;`), and `;-- ... --;` blocks."""
    in_block = False
    for number, raw in enumerate(text.splitlines(), 1):
        line, out = raw, []
        while line:
            if in_block:
                end = line.find("--;")
                if end < 0:
                    line = ""
                    continue
                line, in_block = line[end + 3 :], False
            elif line.startswith("\\;"):
                out.append(";")
                line = line[2:]
            elif line.startswith(";--"):
                line, in_block = line[3:], True
            elif line.startswith(";"):
                line = ""
            else:
                out.append(line[0])
                line = line[1:]
        stripped = "".join(out).strip()
        if stripped:
            yield number, stripped


def parse_conf(text: str) -> list[Section]:
    sections: list[Section] = []
    for number, line in conf_lines(text):
        header = re.fullmatch(r"\[([^\]]+)\]\s*(?:\(([^)]*)\))?", line)
        if header:
            options = [o.strip() for o in (header.group(2) or "").split(",") if o.strip()]
            parents = [o for o in options if o != "!"]
            sections.append(Section(header.group(1), "!" in options, parents, [], number))
            continue
        if "=" not in line or not sections:
            raise ValueError(f"line {number}: not a section or key = value: {line!r}")
        key, value = line.split("=", 1)
        sections[-1].items.append((key.strip(), value.removeprefix(">").strip()))
    return sections


def effective(sections: list[Section], section: Section) -> list[tuple[str, str]]:
    """Items with templates applied first, as Asterisk copies them."""
    items: list[tuple[str, str]] = []
    for parent in section.parents:
        found = [s for s in sections if s.name == parent and s.template]
        assert found, f"[{section.name}] uses unknown template ({parent})"
        items += effective(sections, found[-1])
    return items + section.items


def load(name: str) -> list[Section]:
    return parse_conf((CONF_DIR / name).read_text(encoding="utf-8"))


def one(sections: list[Section], name: str) -> dict[str, str]:
    found = [s for s in sections if s.name == name and not s.template]
    assert len(found) == 1, f"[{name}] defined {len(found)} times"
    return dict(effective(sections, found[0]))


# ---------------------------------------------------------------- dialplan


@dataclass
class Step:
    app: str
    args: str


@dataclass
class Context:
    extensions: dict[str, dict[int, Step]] = field(default_factory=dict)
    labels: dict[str, dict[str, int]] = field(default_factory=dict)
    includes: list[str] = field(default_factory=list)


@dataclass
class Dialplan:
    contexts: dict[str, Context]
    globals: dict[str, str]


def split_top(text: str, separators: str, limit: int = -1) -> list[str]:
    """Split at separators outside ${...}, $[...] and (...)."""
    parts: list[str] = []
    depth = start = 0
    for i, ch in enumerate(text):
        if ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
        elif ch in separators and depth == 0 and (limit < 0 or len(parts) < limit):
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def parse_app(text: str) -> tuple[str, str]:
    match = re.fullmatch(r"(\w+)(?:\((.*)\))?", text.strip(), re.DOTALL)
    if not match:
        raise ValueError(f"bad application call {text!r}")
    return match.group(1), match.group(2) or ""


def parse_dialplan(text: str) -> Dialplan:
    contexts: dict[str, Context] = {}
    global_vars: dict[str, str] = {}
    for section in parse_conf(text):
        if section.name == "general":
            continue
        if section.name == "globals":
            global_vars.update(section.items)
            continue
        context = contexts.setdefault(section.name, Context())
        exten, last = None, 0
        for key, value in section.items:
            if key == "include":
                context.includes.append(value)
                continue
            if key == "exten":
                exten, prio, app = split_top(value, ",", 2)
            elif key == "same" and exten is not None:
                prio, app = split_top(value, ",", 1)
            else:
                raise ValueError(f"[{section.name}] unexpected {key} => {value}")
            match = re.fullmatch(r"(\d+|n)(?:\(([\w-]+)\))?", prio.strip())
            if not match:
                raise ValueError(f"[{section.name}] bad priority {prio!r}")
            number = last + 1 if match.group(1) == "n" else int(match.group(1))
            steps = context.extensions.setdefault(exten, {})
            if number in steps:
                raise ValueError(f"[{section.name}] {exten} priority {number} twice")
            steps[number] = Step(*parse_app(app))
            if match.group(2):
                context.labels.setdefault(exten, {})[match.group(2)] = number
            last = number
    return Dialplan(contexts, global_vars)


def pattern_matches(pattern: str, exten: str) -> bool:
    if not pattern.startswith("_"):
        return pattern == exten
    regex = ""
    for token in re.findall(r"\[[^\]]*\]|.", pattern[1:]):
        regex += {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}.get(
            token, token if token.startswith("[") else re.escape(token)
        )
    return re.fullmatch(regex, exten) is not None


def find_extension(dialplan: Dialplan, context: str, exten: str) -> tuple[str, str] | None:
    """(context, extension) that dialling `exten` in `context` reaches, includes searched."""
    ctx = dialplan.contexts.get(context)
    if ctx is None:
        return None
    if exten in ctx.extensions:
        return context, exten
    for pattern in ctx.extensions:
        if pattern_matches(pattern, exten):
            return context, pattern
    for included in ctx.includes:
        found = find_extension(dialplan, included, exten)
        if found:
            return found
    return None


def priority_of(dialplan: Dialplan, context: str, exten: str, prio: str) -> int | None:
    ctx = dialplan.contexts[context]
    if prio.isdigit():
        return int(prio) if int(prio) in ctx.extensions[exten] else None
    return ctx.labels.get(exten, {}).get(prio)


def resolve_target(target: str, context: str, exten: str) -> tuple[str, str, str]:
    """[[context,]exten,]priority-or-label, as Goto and Gosub take it."""
    parts = [p.strip() for p in split_top(target, ",")]
    parts[-1] = re.sub(r"\(.*\)$", "", parts[-1])  # Gosub arguments
    if len(parts) == 1:
        return context, exten, parts[0]
    if len(parts) == 2:
        return context, parts[0], parts[1]
    return parts[0], parts[1], parts[2]


def jump_targets(step: Step) -> list[str]:
    if step.app in ("Goto", "Gosub"):
        return [step.args]
    if step.app in ("GotoIf", "GosubIf"):
        _, branches = split_top(step.args, "?", 1)
        return [b for b in split_top(branches, ":", 1) if b.strip()]
    return []


def dialplan_problems(dialplan: Dialplan) -> list[str]:
    """Jumps and includes that lead nowhere."""
    problems = []
    for name, ctx in dialplan.contexts.items():
        problems += [
            f"[{name}] includes unknown [{inc}]"
            for inc in ctx.includes
            if inc not in dialplan.contexts
        ]
        for exten, steps in ctx.extensions.items():
            for number, step in steps.items():
                for target in jump_targets(step):
                    if "${" in target:
                        continue
                    context, to_exten, prio = resolve_target(target, name, exten)
                    where = f"[{name}] {exten},{number} {step.app}({step.args}):"
                    found = find_extension(dialplan, context, to_exten)
                    if found is None:
                        problems.append(f"{where} no {context},{to_exten}")
                    elif priority_of(dialplan, *found, prio) is None:
                        problems.append(f"{where} no priority {prio} in {context},{to_exten}")
    return problems


def all_steps(dialplan: Dialplan) -> Iterator[Step]:
    for ctx in dialplan.contexts.values():
        for steps in ctx.extensions.values():
            yield from steps.values()


# ---------------------------------------------------------------- dialplan interpreter


class HungUp(Exception):
    pass


def substitute(text: str, variables: dict[str, str]) -> str:
    """${VAR}, ${VAR:offset}, ${LEN(...)} and $[expression], innermost first."""
    out, i = "", 0
    while i < len(text):
        if text.startswith(("${", "$["), i):
            closer = "}" if text[i + 1] == "{" else "]"
            depth, j = 0, i + 1
            while True:
                if text[j] in "{[":
                    depth += 1
                elif text[j] in "}]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            assert text[j] == closer, f"unbalanced {text!r}"
            inner = substitute(text[i + 2 : j], variables)
            out += evaluate(inner) if closer == "]" else read_variable(inner, variables)
            i = j + 1
        else:
            out += text[i]
            i += 1
    return out


def read_variable(name: str, variables: dict[str, str]) -> str:
    if name.startswith("LEN(") and name.endswith(")"):
        return str(len(name[4:-1]))
    match = re.fullmatch(r"([^:]+):(-?\d+)", name)
    if match:
        return variables.get(match.group(1), "")[int(match.group(2)) :]
    return variables.get(name, "")


NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


def evaluate(expression: str) -> str:
    """Asterisk $[...] subset: quoted strings, numbers, = != < > <= >=, & and |."""
    tokens = re.findall(r'"[^"]*"|!=|<=|>=|[=<>&|]|[^\s"=<>&|!]+', expression)

    def operand(pos: int) -> tuple[str, int]:
        if pos >= len(tokens) or tokens[pos] in (*COMPARE, "&", "|"):
            raise ValueError(f"missing operand in $[{expression}]")
        return tokens[pos], pos + 1

    def comparison(pos: int) -> tuple[str, int]:
        left, pos = operand(pos)
        if pos < len(tokens) and tokens[pos] in COMPARE:
            op, (right, pos) = tokens[pos], operand(pos + 1)
            if all(NUMBER.fullmatch(t) for t in (left, right)):
                result = COMPARE[op](float(left), float(right))
            else:
                result = COMPARE[op](left, right)
            return ("1" if result else "0"), pos
        return left, pos

    def chain(pos: int, op: str, inner: Callable[[int], tuple[str, int]]) -> tuple[str, int]:
        value, pos = inner(pos)
        while pos < len(tokens) and tokens[pos] == op:
            right, pos = inner(pos + 1)
            both = [truthy(value), truthy(right)]
            value = "1" if (all(both) if op == "&" else any(both)) else "0"
        return value, pos

    value, pos = chain(0, "|", lambda p: chain(p, "&", comparison))
    if pos != len(tokens):
        raise ValueError(f"cannot evaluate $[{expression}]")
    return value


def truthy(value: str) -> bool:
    value = value.strip()
    if NUMBER.fullmatch(value):
        return float(value) != 0
    return value != ""


Effect = Callable[[str, dict[str, str]], None]


def locate(
    dialplan: Dialplan, target: str, context: str, exten: str, variables: dict[str, str]
) -> tuple[str, str, int]:
    """Where a jump lands: (context, extension key, priority); sets ${EXTEN} like Asterisk."""
    to_context, dialled, label = resolve_target(target, context, exten)
    found = find_extension(dialplan, to_context, dialled)
    assert found is not None, f"jump to missing {to_context},{dialled}"
    number = priority_of(dialplan, *found, label)
    assert number is not None, f"jump to missing {target}"
    if len(split_top(target, ",")) > 1:  # names an extension, so ${EXTEN} changes
        variables["EXTEN"] = dialled
    return (*found, number)


def run(
    dialplan: Dialplan,
    context: str,
    exten: str,
    variables: dict[str, str] | None = None,
    effects: dict[str, Effect] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """Walk the dialplan; return the applications run (arguments expanded) and the variables.

    `effects` stand in for what an application does to the channel (AGI setting variables,
    Queue connecting an agent by raising HungUp...).
    """
    variables = {**dialplan.globals, **(variables or {})}
    effects = effects or {}
    trace: list[str] = []
    stack: list[tuple[str, str, int]] = []
    place = locate(dialplan, f"{context},{exten},1", context, exten, variables)
    for _ in range(500):
        context, exten, prio = place
        step = dialplan.contexts[context].extensions[exten].get(prio)
        if step is None:
            break  # falling off the end hangs up
        args = substitute(step.args, variables)
        place = (context, exten, prio + 1)
        try:
            if step.app in ("Goto", "GotoIf"):
                if step.app == "GotoIf":
                    condition, branches = split_top(args, "?", 1)
                    true, _, false = branches.partition(":")
                    args = true if truthy(condition) else false
                if args:
                    place = locate(dialplan, args, context, exten, variables)
                continue
            trace.append(f"{step.app}({args})")
            if step.app == "Gosub":
                stack.append(place)
                place = locate(dialplan, args, context, exten, variables)
            elif step.app == "Return":
                place = stack.pop()
            elif step.app == "Set":
                name, value = args.split("=", 1)
                variables[name] = value
            elif step.app == "Hangup":
                break
            elif step.app in effects:
                effects[step.app](args, variables)
        except HungUp:
            break
    else:
        raise AssertionError(f"dialplan loops: {trace[-10:]}")
    return trace, variables


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def dialplan() -> Dialplan:
    return parse_dialplan((CONF_DIR / "extensions.conf").read_text(encoding="utf-8"))


def agi_sets(**values: str) -> dict[str, Effect]:
    """The flow (AGI) ends having set these channel variables."""

    def agi(_: str, variables: dict[str, str]) -> None:
        variables.setdefault("AGISTATUS", "SUCCESS")
        variables.update(values)

    return {"AGI": agi}


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


def test_every_jump_lands_somewhere(dialplan: Dialplan) -> None:
    assert dialplan_problems(dialplan) == []


def test_agi_routes_are_exactly_the_expected_ones(dialplan: Dialplan) -> None:
    urls = set()
    for kind in CAMPAIGN_KINDS:
        trace, _ = run(dialplan, "dialer-landing", "s", {"CAMPAIGN_KIND": kind})
        urls |= {t for t in trace if t.startswith("AGI(")}
    trace, _ = run(dialplan, "hotline", "s")
    urls |= {t for t in trace if t.startswith("AGI(")}
    prefix = "AGI(agi://127.0.0.1:4573/"
    assert all(url.startswith(prefix) and url.endswith(")") for url in urls), urls
    assert sorted(url[len(prefix) : -1] for url in urls) == sorted(EXPECTED_ROUTES)
    # ...and no AGI() in the file goes anywhere but our FastAGI server
    for step in all_steps(dialplan):
        if step.app == "AGI":
            assert step.args.startswith("agi://${HOTLINE_FASTAGI}/"), step


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
    assert one(sections, "outbound")["wrapuptime"] == "15"
    duty = one(sections, "duty")
    assert (duty["joinempty"], duty["leavewhenempty"], duty["strategy"]) == ("yes", "no", "ringall")


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
    assert {"type": "endpoint", "context": "hotline"}.items() <= trunk[0].items()


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
    trace, _ = run(dialplan, "hotline", "88001234", effects=agi_sets(AGISTATUS="FAILURE"))
    answered_by_duty = ["Answer", "Gosub", "Return", "Queue", "Hangup"]
    assert apps(trace) == ["NoOp", "Set", "Ringing", "AGI", *answered_by_duty]
    assert trace[-2] == "Queue(duty)"


def test_failed_flow_goes_to_duty_with_what_it_knew(dialplan: Dialplan) -> None:
    trace, variables = run(
        dialplan,
        "hotline",
        "s",
        effects=agi_sets(HOTLINE_STATUS="FAILED", HOTLINE_CALLERNAME="3-1-201 王女士"),
    )
    assert "Answer()" in trace and trace[-2] == "Queue(duty)"
    assert variables["CALLERID(name)"] == "3-1-201 王女士"


def test_flow_hands_caller_to_its_queue_with_name_and_recording(dialplan: Dialplan) -> None:
    effects = agi_sets(
        HOTLINE_QUEUE="repairs",
        HOTLINE_CALLERNAME="3-1-201 张先生",
        HOTLINE_RECORDING="hotline/2026/TK1001.wav",
    )
    effects["Queue"] = agent_answers
    trace, variables = run(dialplan, "hotline", "s", effects=effects)
    assert trace[-1] == "Queue(repairs,,,,300)"
    assert "MixMonitor(hotline/2026/TK1001.wav,b)" in trace
    assert variables["CALLERID(name)"] == "3-1-201 张先生"
    assert "Answer()" not in trace  # the flow answered; the dialplan does not


def test_no_recording_when_switched_off(dialplan: Dialplan) -> None:
    effects = agi_sets(HOTLINE_QUEUE="cashier")
    effects["Queue"] = agent_answers
    trace, variables = run(dialplan, "hotline", "s", effects=effects)
    assert not [t for t in trace if t.startswith("MixMonitor")]
    assert "CALLERID(name)" not in variables
    assert trace[-1] == "Queue(cashier,,,,300)"


def test_unanswered_queue_falls_back_to_duty(dialplan: Dialplan) -> None:
    effects = agi_sets(HOTLINE_QUEUE="complaints")
    effects["Queue"] = queue_times_out
    trace, _ = run(dialplan, "hotline", "s", effects=effects)
    assert [t for t in trace if t.startswith("Queue")] == [
        "Queue(complaints,,,,300)",
        "Queue(duty)",
    ]


def test_flow_without_queue_hangs_up(dialplan: Dialplan) -> None:
    trace, _ = run(dialplan, "hotline", "s", effects=agi_sets())
    assert apps(trace) == ["NoOp", "Set", "Ringing", "AGI", "Hangup"]


def test_menu_answers_at_once_by_default(dialplan: Dialplan) -> None:
    trace, variables = run(dialplan, "hotline", "s", effects=agi_sets())
    assert trace[2:4] == ["Ringing()", "AGI(agi://127.0.0.1:4573/inbound)"]
    assert variables["CHANNEL(language)"] == "zh"


def test_agents_first_rings_the_queue_before_the_menu(dialplan: Dialplan) -> None:
    effects = agi_sets()
    effects["Queue"] = queue_times_out
    trace, _ = run(dialplan, "hotline", "s", {"HOTLINE_RING_AGENTS_FIRST": "6"}, effects)
    assert apps(trace)[2:5] == ["Ringing", "Queue", "AGI"]
    assert trace[3] == "Queue(enquiries,r,,,6)"
    # an agent who picks up takes the call: no voice menu at all
    trace, _ = run(
        dialplan, "hotline", "s", {"HOTLINE_RING_AGENTS_FIRST": "6"}, {"Queue": agent_answers}
    )
    assert "AGI" not in apps(trace)


def test_outbound_landing_runs_the_campaign_flow(dialplan: Dialplan) -> None:
    trace, _ = run(dialplan, "dialer-landing", "s", {"CAMPAIGN_KIND": "visitor"}, agi_sets())
    assert "AGI(agi://127.0.0.1:4573/outbound/visitor)" in trace
    assert "AMD" not in apps(trace)
    assert apps(trace)[-1] == "Hangup"


def test_outbound_landing_can_queue_the_resident(dialplan: Dialplan) -> None:
    effects = agi_sets(HOTLINE_QUEUE="cashier")
    effects["Queue"] = queue_times_out
    trace, _ = run(dialplan, "dialer-landing", "s", {"CAMPAIGN_KIND": "arrears"}, effects)
    assert trace[-3:] == ["Queue(cashier,,,,300)", "Playback(hotline/abandon)", "Hangup()"]


def test_an_answered_campaign_call_is_recorded_whole_and_only_once(dialplan: Dialplan) -> None:
    effects = agi_sets(HOTLINE_QUEUE="cashier")
    effects["Queue"] = agent_answers
    call = {"CAMPAIGN_KIND": "arrears", "HOTLINE_RECORDING": "/rec/calls/lead-7-1.wav"}
    trace, _ = run(dialplan, "dialer-landing", "s", call, effects)
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
    variables = {"HOTLINE_AMD": "1", "CAMPAIGN_KIND": "notice"}
    trace, _ = run(dialplan, "dialer-landing", "s", variables, effects)
    assert "AMD()" in trace
    assert ("AGI(agi://127.0.0.1:4573/outbound/notice)" in trace) is flow_runs


def test_predictive_call_without_agent_is_abandoned(dialplan: Dialplan) -> None:
    trace, variables = run(dialplan, "dialer-agent", "s", effects={"Queue": queue_times_out})
    assert trace[-4:] == [
        "Queue(outbound,n,,,2)",
        "Set(HOTLINE_ABANDONED=1)",
        "Playback(hotline/abandon)",
        "Hangup()",
    ]
    assert variables["HOTLINE_ABANDONED"] == "1"


def test_predictive_call_reaching_an_agent_is_not_abandoned(dialplan: Dialplan) -> None:
    variables_in = {"HOTLINE_CALLERNAME": "5-2-1102 李先生", "HOTLINE_CONNECT_LIMIT": "3"}
    trace, variables = run(dialplan, "dialer-agent", "s", variables_in, {"Queue": agent_answers})
    assert trace[-1] == "Queue(outbound,n,,,3)"
    assert "HOTLINE_ABANDONED" not in variables
    assert variables["CALLERID(name)"] == "5-2-1102 李先生"


def test_every_context_the_dialer_originates_into_exists(dialplan: Dialplan) -> None:
    for context in (FLOW_CONTEXT, AGENT_CONTEXT, PREVIEW_CONTEXT):
        assert 1 in dialplan.contexts[context].extensions["s"], context
    assert ami_sim_agent_calls.PREVIEW_CONTEXT == PREVIEW_CONTEXT  # the simulator plays it


@pytest.mark.parametrize("recording", ["/rec/calls/lead-7-1.wav", ""])
def test_a_preview_call_rings_the_resident_from_the_agents_answered_phone(
    dialplan: Dialplan, recording: str
) -> None:
    call = {"HOTLINE_DIAL": "PJSIP/13800138000@trunk", "HOTLINE_RECORDING": recording}
    trace, _ = run(dialplan, PREVIEW_CONTEXT, "s", call)
    timeout = f"{ami_sim_agent_calls.DIAL_TIMEOUT_S:g}"
    assert trace[-2:] == [f"Dial(PJSIP/13800138000@trunk,{timeout})", "Hangup()"]
    recorded = [t for t in trace if t.startswith("MixMonitor")]
    assert recorded == ([f"MixMonitor({recording},b)"] if recording else [])
    assert "AGI" not in apps(trace) and "Queue" not in apps(trace)  # the agent talks


def test_agents_can_test_the_hotline_and_call_out(dialplan: Dialplan) -> None:
    trace, _ = run(dialplan, "agents", "8000", effects=agi_sets())
    assert "AGI(agi://127.0.0.1:4573/inbound)" in trace
    trace, _ = run(dialplan, "agents", "913800001111")
    assert trace[0] == "Dial(PJSIP/13800001111@trunk,60)"


def test_conf_matches_service_defaults(dialplan: Dialplan) -> None:
    globals_ = dialplan.globals
    assert globals_["HOTLINE_FASTAGI"] == FastAGISettings().listen
    assert float(globals_["HOTLINE_CONNECT_LIMIT"]) == DialerSettings().connect_limit_seconds
    assert float(globals_["HOTLINE_RING_AGENTS_FIRST"]) == InboundSettings().ring_agents_first
    manager = load("manager.conf")
    assert int(one(manager, "general")["port"]) == AMISettings().port
    assert one(manager, AMISettings().username)["read"]
    template = DialerSettings().channel_template
    assert template.startswith("PJSIP/") and template.endswith("@trunk")
    # `campaign dial --agent agent101` rings the agent's endpoint, whose channel starts there.
    assert DialerSettings().agent_channel_template.format(agent="agent101") == "PJSIP/agent101"
    pjsip = load("pjsip.conf")
    (endpoint,) = [
        items
        for items in (dict(effective(pjsip, s)) for s in pjsip if s.name == "agent101")
        if items.get("type") == "endpoint"
    ]
    assert endpoint["context"] == ami_sim_agent_calls.AGENT_ENDPOINT_CONTEXT
