"""The demo's live view: a line per thing that happens in a call, tagged with its scenario."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TextIO

from hotline.core.events import (
    AgentConnected,
    AttemptFinished,
    CallAnswered,
    CallEnded,
    CallEvent,
    Event,
    OriginatePlaced,
    OutboundAnswered,
    ReportFiled,
    StepTaken,
)
from hotline.dialer.dispositions import CAUSE_DISPOSITION
from hotline.pbxsim.fastagi import Observer


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

    def __call__(self, event: Event) -> None:
        """A subscriber of the service's event bus."""
        if not isinstance(event, CallEvent):
            return
        line = self._line(event)
        if line is not None:
            self.say(event.call_id, line)

    def _line(self, event: CallEvent) -> str | None:
        call_id = event.call_id
        match event:
            case CallAnswered(rings=int()):
                return f"from {event.caller or 'withheld'}, answered after {event.rings} ring(s)"
            case CallAnswered():
                return f"{event.caller or ''} answered"
            case OutboundAnswered():
                return f"{event.number} answered"
            case OriginatePlaced():
                e = event
                self.label(call_id, f"{e.campaign_kind} #{e.campaign_id} {e.number}")
                return (
                    f"dialling {e.number} ({e.resident}, {e.unit}) "
                    f"for {e.campaign_kind} campaign {e.campaign_id}, {e.mode}"
                )
            case AgentConnected():
                return f"  connected to {event.agent}"
            case AttemptFinished():
                outcome = event.disposition.replace("_", " ")
                return f"outcome: {outcome}; next: {event.next_step}{self._stored(call_id)}"
            case StepTaken():
                return "  " + event.step.replace(":", " → ")
            case ReportFiled():
                state = "taken" if event.complete else "kept (incomplete)"
                number = f"#{event.ticket_id}" if event.ticket_id else "(spooled)"
                return (
                    f"  ticket {number} {event.kind}/{event.category} "
                    f"for {event.unit or 'unknown unit'} {state}"
                )
            case CallEnded() if call_id in self.aliases:  # the dialer records the outcome
                return f"call flow ended: {event.disposition}"
            case CallEnded():
                return f"ended: {event.disposition}{self._stored(f'in:{call_id}')}"
        return None


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
