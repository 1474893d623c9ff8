"""The lock files pin, with hashes, a version of everything pyproject.toml asks for.

A dependency added to pyproject.toml without `./run relock` fails here, not on a fresh machine.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# name==version [; marker] \  then one or more --hash lines
PIN = re.compile(
    r"^([A-Za-z0-9._-]+)==(\S+)[^\n]*\\\n((?:\s+--hash=sha256:[0-9a-f]{64}.*\n)+)", re.M
)


def pins(lock: str) -> dict[str, str]:
    text = (ROOT / lock).read_text(encoding="utf-8")
    found: dict[str, str] = {
        canonicalize_name(name): version for name, version, _hashes in PIN.findall(text)
    }
    names = re.findall(r"^([A-Za-z0-9._-]+)==", text, re.M)
    assert len(found) == len(names), f"{lock}: a pin without its hashes"
    return found


SERVICE = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
DEV = [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]]
BUILD = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]


@pytest.mark.parametrize(
    ("lock", "wanted"),
    [("requirements-dev.lock", SERVICE + DEV + BUILD), ("requirements.lock", SERVICE + BUILD)],
)
def test_every_requirement_is_locked_within_its_range(lock: str, wanted: list[Requirement]) -> None:
    locked = pins(lock)
    wrong = {
        str(r): locked.get(canonicalize_name(r.name))
        for r in wanted
        if locked.get(canonicalize_name(r.name), "") not in r.specifier
    }
    assert wrong == {}, f"run ./run relock: {lock} does not satisfy pyproject.toml"


def test_the_service_lock_agrees_with_the_dev_lock() -> None:
    dev = pins("requirements-dev.lock")
    service = pins("requirements.lock")
    assert {name: dev.get(name) for name in service} == service
