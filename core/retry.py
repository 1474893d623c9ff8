"""What a call attempt's disposition sets off: the retry policy as a pure function."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from enum import StrEnum

from .vocabulary import Disposition


@dataclass(frozen=True)
class RetryPolicy:
    """Defaults: no answer +2 h (at most 3 a day, 6 in all), busy +15 min, rejected +4 h,
    congestion or failure +15 min. The daily and total caps count every attempt.

    An abandoned resident (answered, no agent free: the abandon message named the centre) is
    called back by a person, and the dialer does not call that resident again for
    `abandoned_hold_hours` (72 h, as Ofcom's rule for abandoned calls)."""

    no_answer_minutes: float = 120.0
    busy_minutes: float = 15.0
    rejected_minutes: float = 240.0
    congestion_minutes: float = 15.0
    max_per_day: int = 3
    max_attempts: int = 6
    abandoned_hold_hours: float = 72.0

    @property
    def abandoned_hold(self) -> timedelta:
        return timedelta(hours=self.abandoned_hold_hours)

    def delay(self, disposition: Disposition) -> timedelta | None:
        """The wait before the next try, or None when the disposition is not retried."""
        minutes = {
            Disposition.NO_ANSWER: self.no_answer_minutes,
            Disposition.BUSY: self.busy_minutes,
            Disposition.REJECTED: self.rejected_minutes,
            Disposition.CONGESTION: self.congestion_minutes,
            Disposition.FAILED: self.congestion_minutes,
            # Rang while the service died: it may have rung out, so wait as after no answer.
            Disposition.INTERRUPTED: self.no_answer_minutes,
        }.get(disposition)
        return None if minutes is None else timedelta(minutes=minutes)


class StepKind(StrEnum):
    DONE = "done"
    RETRY = "retry"
    NEXT_NUMBER = "next_number"  # the number was flagged invalid; the resident's next one is used
    NEXT_RESIDENT = "next_resident"  # a visitor call moves on to the unit's next resident
    CALLBACK = "callback"  # an abandoned resident gets a callback lead
    STOPPED = "stopped"
    IGNORED = "ignored"  # a late outcome for a lead that has moved on


@dataclass(frozen=True)
class NextStep:
    kind: StepKind
    at: datetime | None = None
    detail: str | None = None

    @property
    def text(self) -> str:
        """The form kept on the call record (`next_step`), read back by `parse`."""
        return f"{self.kind}: {self.detail}" if self.detail else str(self.kind)

    @classmethod
    def parse(cls, text: str, at: datetime | None) -> NextStep:
        kind, _, detail = text.partition(": ")
        return cls(StepKind(kind), at, detail or None)


def _next_midnight(moment: datetime, tz: tzinfo) -> datetime:
    local = moment.astimezone(tz)
    return datetime.combine(local.date() + timedelta(days=1), time(0), tz)


def plan_retry(
    policy: RetryPolicy,
    disposition: Disposition,
    attempts: int,
    attempts_today: int,
    at: datetime,
    tz: tzinfo,
) -> NextStep:
    """The next try after a retried disposition, with `attempts` already counting this one.

    A lead that used up the day's tries waits for the next site day (the calling window then
    decides the hour)."""
    delay = policy.delay(disposition)
    if delay is None:
        raise ValueError(f"{disposition} is not retried")
    if attempts >= policy.max_attempts:
        return NextStep(StepKind.STOPPED, None, f"max attempts ({policy.max_attempts})")
    retry_at = at + delay
    if attempts_today >= policy.max_per_day:
        retry_at = max(retry_at, _next_midnight(at, tz))
    return NextStep(StepKind.RETRY, retry_at, str(disposition))
