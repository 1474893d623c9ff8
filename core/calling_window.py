"""When residents may be phoned by a campaign: a daily window in site time (09:00–20:00)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, tzinfo

from .rules import time_of_day
from .vocabulary import DomainError


def in_calling_window(moment: datetime, tz: tzinfo, start: time, end: time) -> bool:
    """Start inclusive, end exclusive, both read on the site's clock."""
    return start <= moment.astimezone(tz).time() < end


@dataclass(frozen=True)
class CallingWindow:
    tz: tzinfo
    start: time = time(9)
    end: time = time(20)

    @classmethod
    def parse(cls, tz: tzinfo, start: str, end: str) -> CallingWindow:
        window = cls(tz, time_of_day(start), time_of_day(end))
        if window.start >= window.end:
            raise DomainError(f"calling window {start}–{end} is empty")
        return window

    def contains(self, moment: datetime) -> bool:
        return in_calling_window(moment, self.tz, self.start, self.end)
