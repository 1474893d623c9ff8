"""Asterisk's config syntax and dialplan, read and walked as Asterisk 22 does (for the tests).

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

CONF_DIR = Path(__file__).resolve().parents[1] / "asterisk-conf"

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


def queue_strategy(sections: list[Section], name: str) -> str:
    """The strategy app_queue gives a static queue: the FIRST `strategy` of its items, templates'
    first (reload_single_queue reads it with ast_variable_retrieve; queue_set_param skips any
    later one), ringall if none (checked on Asterisk 22.10.1)."""
    (section,) = [s for s in sections if s.name == name and not s.template]
    return next((v for k, v in effective(sections, section) if k == "strategy"), "ringall")


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
