"""AMI event fields read as numbers, with what does not parse counted instead of raised.

A peer (a newer Asterisk, a broken proxy, something else on port 5038) may send ``Cause:
notanumber`` on every event: each is counted by kind (``Event.Field``) for the metrics and only the
first of a kind is logged, so the log and the reactor are not flooded and the event is still handled
with the field unknown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from hotline.dialer.ami_protocol import AMIMessage

log = logging.getLogger(__name__)


class FieldErrors:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.listeners: list[Callable[[str], None]] = []  # e.g. Metrics.ami_field_error

    def integer(self, msg: AMIMessage, key: str, default: int = 0) -> int:
        """The field as an int; ``default`` when absent, empty or not a number (counted)."""
        value = msg.get(key)
        if not value:
            return default
        try:
            return int(value)
        except ValueError:
            self.report(f"{msg.name}.{key}", value)
            return default

    def report(self, kind: str, value: str) -> None:
        """``kind`` must come from our code (a handler's event and field), not from the peer."""
        n = self.counts[kind] = self.counts.get(kind, 0) + 1
        if n == 1:
            log.warning(
                "AMI %s %r is not a number; handled as unknown (counted in"
                " hotline_ami_field_errors_total, logged once)",
                kind,
                value[:40],
            )
        for listener in self.listeners:
            listener(kind)
