"""The service rules as pure functions of a moment: no I/O, no clock of their own.

Every answer is computed from a `ServicePolicy` (figures from service-rules.md, overridable in the
settings) and the times it is given. Times are timezone-aware datetimes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from .policy import ServicePolicy
from .vocabulary import EMERGENCY_REPAIRS, DomainError, Kind, ReminderStage, Role, Severity


@dataclass(frozen=True)
class Reminder:
    stage: ReminderStage
    due_at: datetime


def time_of_day(text: str) -> time:
    """`08:30` as a time, or a DomainError naming the format."""
    try:
        hours, minutes = text.split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise DomainError(f"bad time of day {text!r}: expected HH:MM") from None


class Rules:
    def __init__(self, policy: ServicePolicy | None = None) -> None:
        self.policy = policy or ServicePolicy()

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.policy.site.timezone)

    @cached_property
    def _holidays(self) -> frozenset[date]:
        return frozenset(date.fromisoformat(d) for d in self.policy.site.holidays)

    # §1 answering -------------------------------------------------------------------------
    def rings_before_answer(self, arrived_at: datetime, answered_at: datetime) -> int:
        """Ring bursts the caller heard: one starts every cycle (5 s), the first at arrival."""
        elapsed = (answered_at - arrived_at).total_seconds()
        if elapsed <= 0:
            return 0
        return math.floor(elapsed / self.policy.answer.ring_cycle_seconds) + 1

    def answered_within_rings(self, arrived_at: datetime, answered_at: datetime) -> bool:
        return self.rings_before_answer(arrived_at, answered_at) <= self.policy.answer.max_rings

    def dispatch_due(self, accepted_at: datetime) -> datetime:
        return accepted_at + timedelta(minutes=self.policy.answer.dispatch_minutes)

    def is_emergency(self, kind: Kind, category: str) -> bool:
        return kind is Kind.REPAIR and category in EMERGENCY_REPAIRS

    def local_iso(self, moment: datetime) -> str:
        """How a moment is written in messages: ISO 8601 in the site's offset."""
        return moment.astimezone(self.tz).isoformat(timespec="seconds")

    # hours ---------------------------------------------------------------------------------
    def is_holiday(self, moment: datetime) -> bool:
        return moment.astimezone(self.tz).date() in self._holidays

    def is_office_hours(self, moment: datetime) -> bool:
        local = moment.astimezone(self.tz)
        site = self.policy.site
        if local.isoweekday() not in site.office_days or local.date() in self._holidays:
            return False
        return time_of_day(site.office_start) <= local.time() < time_of_day(site.office_end)

    def is_on_duty_time(self, moment: datetime) -> bool:
        return not self.is_office_hours(moment)

    # §3 complaints --------------------------------------------------------------------------
    def escalation_due(self, received_at: datetime) -> datetime:
        return received_at + timedelta(hours=self.policy.complaint.escalation_hours)

    def resolution_due(self, severity: Severity, received_at: datetime) -> datetime:
        c = self.policy.complaint
        days = c.resolve_major_days if severity is Severity.MAJOR else c.resolve_general_days
        return received_at + timedelta(days=days)

    # §4 follow-ups --------------------------------------------------------------------------
    def followup_delay(self, kind: Kind, category: str) -> timedelta:
        f = self.policy.followup
        if kind is Kind.COMPLAINT:
            return timedelta(days=f.complaint_days)
        if kind is Kind.REPAIR:
            if category == "leak":
                return timedelta(days=f.leak_days)
            if category == "safety":
                return timedelta(days=f.safety_days)
            return timedelta(hours=f.repair_hours)
        if category == "emergency_help":
            return timedelta(days=f.emergency_help_days)
        return timedelta(days=f.other_service_days)

    def followup_due(self, kind: Kind, category: str, clock_start: datetime) -> datetime:
        """`clock_start` is when the repair was done (for a leak: the leak test) or the complaint
        or enquiry resolved."""
        return clock_start + self.followup_delay(kind, category)

    def followup_assignee(self, kind: Kind, severity: Severity) -> Role:
        if kind is Kind.COMPLAINT:
            return Role.MANAGER if severity is Severity.MAJOR else Role.SUPERVISOR
        return Role.CS_STAFF

    def is_unsatisfied(self, satisfaction: int) -> bool:
        if not 1 <= satisfaction <= 5:
            raise DomainError(f"satisfaction must be 1 to 5, not {satisfaction}")
        return satisfaction <= self.policy.followup.unsatisfied_max

    # §5 arrears -----------------------------------------------------------------------------
    def first_reminder_due(self, collection_month: date) -> datetime:
        """Day 20 (a setting) of the collection month, at the start of that day, site time."""
        day = collection_month.replace(day=self.policy.arrears.first_day)
        return datetime.combine(day, time(0), self.tz)

    def next_reminder(
        self, stage: ReminderStage, collection_month: date, last_reminder_at: datetime | None
    ) -> Reminder | None:
        a = self.policy.arrears
        if stage is ReminderStage.NONE:
            return Reminder(ReminderStage.FIRST, self.first_reminder_due(collection_month))
        if last_reminder_at is None:
            raise DomainError(f"an account at stage {stage} must know when it was last reminded")
        gap = {
            ReminderStage.FIRST: (ReminderStage.SECOND, a.second_after_days),
            ReminderStage.SECOND: (ReminderStage.FINAL, a.final_after_days),
            ReminderStage.FINAL: (ReminderStage.LETTER, a.letter_after_days),
            ReminderStage.LETTER: (ReminderStage.LEGAL, a.legal_after_days),
        }.get(stage)
        if gap is None:
            return None
        return Reminder(gap[0], last_reminder_at + timedelta(days=gap[1]))

    # overdue ----------------------------------------------------------------------------------
    @staticmethod
    def is_overdue(due_at: datetime, done_at: datetime | None, now: datetime) -> bool:
        """A deadline is missed when it passed undone, or was met late."""
        return (done_at or now) > due_at
