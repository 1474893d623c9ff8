"""The packages' allowed imports (docs/architecture.md, "Layers"), checked on the import graph
read with `ast` from the source files: every import counts, those under `TYPE_CHECKING` and
inside functions included, since a type-only cycle is still two modules that need each other."""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CORE = "hotline.core"
# Each package (pyproject's package-dir) and the product packages it may import besides itself:
# the diagram of docs/architecture.md. `hotline` itself (the service, settings, metrics, CLI,
# web) is the application and may import them all.
NET = "hotline.net"  # what the Twisted protocols share: the connected transport, a port
LAYERS: dict[str, tuple[str, ...]] = {
    CORE: (),
    NET: (),
    "hotline.recordings": (CORE,),
    "hotline.agi": (CORE, NET, "hotline.recordings"),
    "hotline.dialer": (CORE, NET, "hotline.recordings"),
    # The PBX simulator speaks the product's protocols and knows nothing else of it.
    "hotline.pbxsim": (NET, "hotline.agi.protocol", "hotline.dialer.ami_protocol"),
}
APPLICATION = "hotline"
PROTOCOL_MODULES = ("hotline.agi.protocol", "hotline.dialer.ami_protocol")
# What the domain may not know of: the reactor, the network, and every layer above it.
NETWORK = ("twisted", "socket", "socketserver", "ssl", "selectors", "asyncio", "http")
SQL = ("sqlalchemy", "alembic")
# Modules outside core that still run SQL themselves, each named (issue 12 wants none): the list
# may only shrink (test_the_sql_exceptions_are_still_needed).
SQL_OUTSIDE_CORE = {
    # recordings: the index, the conversion worker's claims, retention, export and the audit
    # trail are written against the models; moving them into core is a package move of its own.
    "hotline.recordings.audit": "recordings index and audit trail",
    "hotline.recordings.export": "recordings export",
    "hotline.recordings.index": "recordings index",
    "hotline.recordings.resolve": "recordings index",
    "hotline.recordings.retention": "recordings retention",
    "hotline.recordings.worker": "recordings conversion claims",
}
# Cycles still there, each named: the list may only shrink (test_the_known_cycles_are_still_there).
KNOWN_CYCLES = {
    # The AMI simulator's modules name each other's classes in type hints (the session and the
    # calls their AMISimulator, the queues and queue calls each other; the supervisor's spy call
    # is a kind of call the simulator starts).
    frozenset(
        {
            "hotline.pbxsim.ami_agent_calls",
            "hotline.pbxsim.ami_calls",
            "hotline.pbxsim.ami_queue_calls",
            "hotline.pbxsim.ami_queues",
            "hotline.pbxsim.ami_session",
            "hotline.pbxsim.ami_spy",
            "hotline.pbxsim.ami",
        }
    ): "the AMI simulator",
}


def _first_party() -> dict[str, Path]:
    """Package name -> folder, from pyproject's package-dir (the folders install under other
    names: `core/` is `hotline.core`)."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return {name: ROOT / folder for name, folder in setuptools["package-dir"].items()}


@cache
def modules() -> dict[str, Path]:
    """Every product module's dotted name -> its file."""
    found: dict[str, Path] = {}
    for package, folder in _first_party().items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


def _imports(name: str, path: Path, known: Mapping[str, Path]) -> Iterator[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # `from pkg import module` imports the module; `from module import name` the module
                sub = f"{base}.{alias.name}"
                yield sub if sub in known else base


@cache
def graph() -> dict[str, frozenset[str]]:
    known = modules()
    return {name: frozenset(_imports(name, path, known)) for name, path in known.items()}


def _under(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def violations(sources: Iterable[str], forbidden: Iterable[str]) -> list[str]:
    forbidden = tuple(forbidden)
    g = graph()
    return sorted(f"{m} -> {i}" for m in sources for i in g[m] if _under(i, forbidden))


def cycles(g: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module, or a module importing itself
    (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in g.get(v, ()):
            if w not in g:
                continue  # outside the product
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in g.get(v, ()):
                found.append(sorted(component))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return found


def _in(package: str) -> list[str]:
    return [m for m in modules() if _under(m, (package,))]


def test_the_graph_reads_the_imports_it_checks() -> None:
    # Without these the checks below would pass on an empty graph.
    g = graph()
    assert len(_in(CORE)) > 20 and "hotline.dialer.engine" in g
    assert "hotline.dialer.engine" in g["hotline.service"]
    assert "hotline.core.db" in g["hotline.dialer.engine"]  # `from hotline.core.db import`
    assert "hotline.dialer.call_tracker" in g["hotline.dialer.engine"]  # `from .call_tracker`
    assert "hotline.core.campaigns" in g["hotline.cli.campaigns"]  # `from hotline.core import`
    assert "twisted.internet.defer" in g["hotline.dialer.engine"]


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": ["b"], "b": ["c", "x"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert cycles({"a": ["a"]}) == [["a"]]
    assert cycles({"a": ["b"], "b": []}) == []


def first_party_outside(package: str, allowed: Iterable[str]) -> list[str]:
    """Imports of the product's modules by `package` that lie outside `allowed` and itself."""
    allowed = (package, *allowed)
    found = violations(_in(package), ("hotline",))
    return [v for v in found if not _under(v.split(" -> ")[1], allowed)]


def reach(sources: Iterable[str]) -> set[str]:
    """Every module `sources` import, directly or through the product's modules."""
    g, seen, todo = graph(), set(), list(sources)
    while todo:
        for i in g.get(todo.pop(), ()):
            if i not in seen:
                seen.add(i)
                todo.append(i)
    return seen


def test_every_package_has_its_place_in_the_layers() -> None:
    assert sorted(_first_party().keys() - {APPLICATION}) == sorted(LAYERS)


def test_packages_import_only_the_layers_below() -> None:
    # recordings: not hotline.settings above all (the service hands it its ConversionSettings);
    # core: no agi, dialer, recordings, settings, CLI or web.
    for package, below in LAYERS.items():
        assert first_party_outside(package, below) == []


def test_core_knows_nothing_of_the_reactor_or_sockets() -> None:
    assert violations(_in(CORE), NETWORK) == []


def test_protocol_modules_know_nothing_of_the_domain_or_the_transport() -> None:
    reached = reach(PROTOCOL_MODULES)
    assert sorted(i for i in reached if _under(i, (CORE, *NETWORK, *SQL))) == []


def test_sql_stays_in_core() -> None:
    outside = [m for m in modules() if not _under(m, (CORE,)) and m not in SQL_OUTSIDE_CORE]
    assert violations(outside, SQL) == []


def test_the_sql_exceptions_are_still_needed() -> None:
    stale = [m for m in SQL_OUTSIDE_CORE if m not in graph() or not violations([m], SQL)]
    assert stale == []


def test_no_import_cycles() -> None:
    assert [c for c in cycles(graph()) if frozenset(c) not in KNOWN_CYCLES] == []


def test_the_known_cycles_are_still_there() -> None:
    found = {frozenset(c) for c in cycles(graph())}
    assert [sorted(c) for c in KNOWN_CYCLES if c not in found] == []
