"""The ticket state machines (§2 repairs, §3 complaints), explicit and checked.

repair:    new → dispatched → in_progress → done → accepted → closed
           (dispatched | in_progress) → external → in_progress | done   (developer / outside party)
complaint: new → escalated → resolved → notified → closed
enquiry:   new → resolved → closed
Any finished matter can be reopened; a reopened repair is dispatched again, a reopened complaint
escalated again.
"""

from __future__ import annotations

from .vocabulary import DomainError, Kind

TRANSITIONS: dict[Kind, dict[str, frozenset[str]]] = {
    Kind.REPAIR: {
        "new": frozenset({"dispatched"}),
        "dispatched": frozenset({"in_progress", "external"}),
        "in_progress": frozenset({"done", "external"}),
        "external": frozenset({"in_progress", "done"}),
        "done": frozenset({"accepted", "reopened"}),
        "accepted": frozenset({"closed", "reopened"}),
        "closed": frozenset({"reopened"}),
        "reopened": frozenset({"dispatched"}),
    },
    Kind.COMPLAINT: {
        "new": frozenset({"escalated"}),
        "escalated": frozenset({"resolved"}),
        "resolved": frozenset({"notified", "reopened"}),
        "notified": frozenset({"closed", "reopened"}),
        "closed": frozenset({"reopened"}),
        "reopened": frozenset({"escalated"}),
    },
    Kind.ENQUIRY: {
        "new": frozenset({"resolved"}),
        "resolved": frozenset({"closed", "reopened"}),
        "closed": frozenset({"reopened"}),
        "reopened": frozenset({"resolved"}),
    },
}

ALL_STATES: frozenset[str] = frozenset(s for table in TRANSITIONS.values() for s in table)

# The state from which a matter's follow-up clock runs (§4).
FOLLOWUP_TRIGGER: dict[Kind, str] = {
    Kind.REPAIR: "done",
    Kind.COMPLAINT: "resolved",
    Kind.ENQUIRY: "resolved",
}


def check_transition(kind: Kind, current: str, target: str) -> None:
    table = TRANSITIONS[kind]
    if target not in table:
        raise DomainError(f"{target!r} is not a {kind} state (states: {', '.join(table)})")
    if target not in table[current]:
        allowed = ", ".join(sorted(table[current])) or "none"
        raise DomainError(
            f"a {kind} cannot go from {current!r} to {target!r} (allowed from {current}: {allowed})"
        )
