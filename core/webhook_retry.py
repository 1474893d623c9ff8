"""When a failed webhook delivery is tried again: the backoff as a pure function."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class WebhookRetry:
    """The wait after the n-th failed try: first_seconds doubled each time up to cap_seconds,
    give or take `jitter` of it (receivers coming back are not hit by every sender at once);
    a delivery still failing `max_age_hours` after its event is given up (failed)."""

    first_seconds: float = 10.0
    cap_seconds: float = 3600.0
    max_age_hours: float = 24.0
    jitter: float = 0.2

    @property
    def max_age(self) -> timedelta:
        return timedelta(hours=self.max_age_hours)

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        wait = min(self.cap_seconds, self.first_seconds * 2 ** max(attempts - 1, 0))
        return timedelta(seconds=wait * (1 + rng.uniform(-self.jitter, self.jitter)))
