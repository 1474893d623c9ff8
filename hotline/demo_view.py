"""The demo's live view: a line per thing that happens in a call, tagged with its scenario."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TextIO

from hotline.agi.simulator import Observer
from hotline.dialer.dispositions import CAUSE_DISPOSITION


def cause_name(cause: int | None) -> str:
    """A Q.850 hang-up cause as the centre says it: `no answer (19)`."""
    if cause is None:
        return ""
    meaning = CAUSE_DISPOSITION.get(cause)
    return f"{meaning.replace('_', ' ')} ({cause})" if meaning else f"cause {cause}"


class LiveView:
    """One line per thing that happens in a call, as it happens, tagged with the scenario or
    campaign it belongs to; a call's last line names the id it is stored under, as the tables
    at the end show it."""

    def __init__(
        self, out: TextIO, clock: Callable[[], Any], stored_id: Callable[[str], int | None]
    ) -> None:
        self.out, self.clock, self.stored_id = out, clock, stored_id
        self.labels: dict[str, str] = {}  # call id -> scenario or campaign
        self.aliases: dict[str, str] = {}  # an outbound call flow's id -> the dialer's call id
        self.colors: dict[str, int] = {}
        self.color = out.isatty()

    def label(self, call_id: str, text: str) -> None:
        self.labels[call_id] = text

    def alias(self, flow_id: str, call_id: str) -> None:
        """The call flow `flow_id` runs on the dialer's call `call_id`: one call, one tag."""
        self.aliases[flow_id] = call_id

    def _tag(self, call_id: str) -> str:
        tag = self.labels.get(call_id, call_id)
        n = self.colors.setdefault(call_id, len(self.colors) + 1)
        return f"\033[3{n % 6 + 1}m{tag}\033[0m" if self.color else tag

    def say(self, call_id: str, text: str) -> None:
        stamp = self.clock().strftime("%H:%M:%S")
        tag = self._tag(self.aliases.get(call_id, call_id))
        print(f"{stamp}  [{tag}]  {text}", file=self.out, flush=True)

    def _stored(self, key: str) -> str:
        found = self.stored_id(key)
        return f"; stored as call {found}" if found is not None else "; not stored"

    def __call__(self, call_id: str, event: str, data: dict[str, Any]) -> None:
        if event == "answered" and data.get("rings") is not None:
            who = data.get("caller") or "withheld"
            self.say(call_id, f"from {who}, answered after {data['rings']} ring(s)")
        elif event == "answered":
            self.say(call_id, f"{data.get('number') or data.get('caller') or ''} answered")
        elif event == "dialling":
            self.label(call_id, f"{data['kind']} #{data['campaign']} {data['number']}")
            self.say(
                call_id,
                f"dialling {data['number']} ({data['resident']}, {data['unit']}) "
                f"for {data['kind']} campaign {data['campaign']}, {data['mode']}",
            )
        elif event == "connected":
            self.say(call_id, f"  connected to {data['agent']}")
        elif event == "outcome":
            outcome = data["disposition"].replace("_", " ")
            self.say(call_id, f"outcome: {outcome}; next: {data['next']}{self._stored(call_id)}")
        elif event == "step":
            self.say(call_id, "  " + data["step"].replace(":", " → "))
        elif event == "ticket":
            state = "taken" if data["complete"] else "kept (incomplete)"
            number = f"#{data['ticket']}" if data["ticket"] else "(spooled)"
            self.say(
                call_id,
                f"  ticket {number} {data['kind']}/{data['category']} "
                f"for {data['unit'] or 'unknown unit'} {state}",
            )
        elif event == "ended" and call_id in self.aliases:  # the dialer records the outcome
            self.say(call_id, f"call flow ended: {data['disposition']}")
        elif event == "ended":
            self.say(call_id, f"ended: {data['disposition']}{self._stored(f'in:{call_id}')}")


def label_call(view: LiveView, label: str, call_id: str | None = None) -> Observer:
    """Watches a simulated call's AGI environment for its uniqueid, the id its call flow reports
    under: labels that call (inbound), or ties it to the dialer's `call_id` (outbound)."""

    def observe(direction: str, line: str, _at: float) -> None:
        if direction == ">>" and line.startswith("agi_uniqueid: "):
            flow_id = line.removeprefix("agi_uniqueid: ")
            if call_id is None:
                view.label(flow_id, label)
            else:
                view.alias(flow_id, call_id)

    return observe
