"""The abandon-rate brake on predictive dialling, whatever the pacer believes.

A predictive pacer dials ahead of its agents on forecasts; if those are wrong (an agent who
lets every call ring out, a model still warming up), residents are abandoned one after the
other. The guard watches what actually happened: over the last `window_seconds`, abandoned
calls against every call a resident picked up (the rate `campaign status` shows). Above
`dialer.abandon_limit` predictive dialling stops (the engine paces the campaign progressively,
one call per free agent) until the rate is back under the limit.
"""

from __future__ import annotations

import logging
from collections import deque

log = logging.getLogger(__name__)

WINDOW_SECONDS = 3600.0


class AbandonGuard:
    def __init__(self, limit: float, window_seconds: float = WINDOW_SECONDS) -> None:
        self.limit, self.window_seconds = limit, window_seconds
        self._picked_up: deque[tuple[float, bool]] = deque()  # (when, abandoned)
        self._abandoned = 0
        self._holding = False

    def picked_up(self, now: float, *, abandoned: bool) -> None:
        """A resident answered: an agent took the call, or nobody did (`abandoned`)."""
        self._picked_up.append((now, abandoned))
        self._abandoned += abandoned

    def rate(self, now: float) -> float | None:
        """Abandoned / picked up over the window; None when nobody picked up in it."""
        while self._picked_up and self._picked_up[0][0] <= now - self.window_seconds:
            _, abandoned = self._picked_up.popleft()
            self._abandoned -= abandoned
        return self._abandoned / len(self._picked_up) if self._picked_up else None

    def holds(self, now: float) -> bool:
        """Predictive dialling must stop now (the rate is above the limit)."""
        rate = self.rate(now)
        holding = rate is not None and rate > self.limit
        if holding != self._holding:
            self._holding = holding
            if holding:
                log.warning(
                    "dialer: abandon rate %.1f%% over the last %.0f min is above the %.1f%% "
                    "limit: predictive dialling stops until it recovers",
                    100 * (rate or 0.0), self.window_seconds / 60, 100 * self.limit,
                )  # fmt: skip
            else:
                log.info("dialer: abandon rate back under the limit: predictive dialling resumes")
        return holding
