"""What a call flow is given besides the channel: the centre's records, rules, clock and settings.

The service builds one per call. `run` carries blocking (database) work off the reactor: a thread
pool under FastAGI, a plain call in classic AGI mode. `write` does the same for the intake desk's
writes, which the service batches (hotline/write_batches.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import ParamSpec, Protocol, TypeVar

from hotline.core.event_bus import EventBus
from hotline.core.intake import IntakeDesk
from hotline.core.outbound_desk import OutboundDesk
from hotline.core.rules import Rules

P = ParamSpec("P")
T = TypeVar("T")


class Runner(Protocol):
    def __call__(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Awaitable[T]: ...


@dataclass
class FlowContext:
    desk: IntakeDesk
    rules: Rules
    run: Runner
    write: Runner  # the intake desk's writes: they use only its transactions (Database.together)
    clock: Callable[[], datetime]
    recordings_dir: Path  # where Asterisk writes recordings (its monitor directory)
    menu_tries: int = 3
    digit_timeout_ms: int = 5000
    record_max_seconds: int = 60
    record_calls: bool = True
    events: EventBus = field(default_factory=EventBus)  # the service's one bus
    outbound: OutboundDesk | None = None  # campaign calls' leads and answers
    params: dict[str, str] = field(default_factory=dict)
