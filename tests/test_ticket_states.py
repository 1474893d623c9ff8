from __future__ import annotations

import itertools

import pytest

from hotline.core.ticket_states import TRANSITIONS, check_transition
from hotline.core.vocabulary import DomainError, Kind


def walk(kind: Kind, states: list[str]) -> None:
    for current, target in itertools.pairwise(states):
        check_transition(kind, current, target)


def test_repair_lifecycle_and_reopen() -> None:
    walk(Kind.REPAIR, ["new", "dispatched", "in_progress", "done", "accepted", "closed"])
    walk(Kind.REPAIR, ["closed", "reopened", "dispatched", "external", "done"])


def test_complaint_lifecycle_and_reopen() -> None:
    walk(Kind.COMPLAINT, ["new", "escalated", "resolved", "notified", "closed", "reopened"])
    walk(Kind.COMPLAINT, ["reopened", "escalated"])


@pytest.mark.parametrize(
    ("kind", "current", "target"),
    [
        (Kind.REPAIR, "new", "done"),
        (Kind.REPAIR, "done", "closed"),  # acceptance (验收签字) cannot be skipped
        (Kind.COMPLAINT, "new", "resolved"),  # it goes to the supervisor first
        (Kind.COMPLAINT, "escalated", "closed"),
    ],
)
def test_illegal_transitions_raise_a_clear_error(kind: Kind, current: str, target: str) -> None:
    with pytest.raises(DomainError, match=f"cannot go from '{current}' to '{target}'"):
        check_transition(kind, current, target)


def test_unknown_state_is_named() -> None:
    with pytest.raises(DomainError, match="'fixed' is not a repair state"):
        check_transition(Kind.REPAIR, "new", "fixed")


def test_every_target_is_a_state_of_its_machine() -> None:
    for table in TRANSITIONS.values():
        for targets in table.values():
            assert targets <= set(table)
