"""The centre's rule figures (../shared/docs/service-rules.md) as typed, immutable policy sections.

Every default is the figure of the service rules; where two seed documents disagree the stricter
one is the default. The settings file overrides any of them (`[complaint] escalation_hours = 2`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SitePolicy:
    """Where the centre is and when it is staffed (§1: 24 h, on-duty outside office hours)."""

    name: str = "物业客服中心"
    timezone: str = "Asia/Shanghai"
    office_start: str = "08:30"
    office_end: str = "18:00"
    # ISO weekday numbers (1 = Monday); the rules name no closed weekday, so every day is a workday.
    office_days: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7])
    holidays: list[str] = field(default_factory=list)  # ISO dates, e.g. "2026-10-01"


@dataclass(frozen=True)
class AnswerPolicy:
    """§1: answer within three rings; one China ring cycle is 1 s on, 4 s off."""

    max_rings: int = 3
    ring_on_seconds: float = 1.0
    ring_off_seconds: float = 4.0
    online_accept_minutes: int = 5  # WeChat/QQ/web reports accepted within 5 min
    dispatch_minutes: int = 5  # a repair is dispatched within 5 min of acceptance

    @property
    def ring_cycle_seconds(self) -> float:
        return self.ring_on_seconds + self.ring_off_seconds

    @property
    def max_answer_seconds(self) -> float:
        """Three full ring cycles: 15 s with the China cadence."""
        return self.max_rings * self.ring_cycle_seconds

    @property
    def last_ring_starts(self) -> float:
        """When the third ring starts (10 s): whoever answers must have done so by its end."""
        return (self.max_rings - 1) * self.ring_cycle_seconds


@dataclass(frozen=True)
class ComplaintPolicy:
    """§3: to the supervisor within 1 h; general resolved in 3 d, major in 10 d."""

    escalation_hours: float = 1.0
    resolve_general_days: int = 3
    resolve_major_days: int = 10


@dataclass(frozen=True)
class FollowupPolicy:
    """§4: when the follow-up call is due, from done (repairs) or resolved (complaints).

    Other repairs: 002 says 24 h, 000 says 2 days; the stricter 24 h is the default.
    """

    repair_hours: float = 24.0
    leak_days: float = 3.0  # counted from the leak test
    safety_days: float = 2.0
    complaint_days: float = 3.0
    emergency_help_days: float = 7.0
    other_service_days: float = 7.0
    target_rate: float = 1.0  # 100 %
    satisfaction_target: float = 0.9  # ≥ 90 %
    unsatisfied_max: int = 2  # satisfaction ≤ 2 reopens the matter as a complaint
    retention_years: int = 2


@dataclass(frozen=True)
class ArrearsPolicy:
    """§5: first reminder by the 20th of the collection month, then +10 d, +10 d, then letter.

    000 allows three months after a phone reminder before the letter; 002 escalates right after the
    final reminder. The stricter ladder (+10 d) is the default. Legal action after the letter is a
    site decision the rules give no figure for.
    """

    first_day: int = 20
    second_after_days: int = 10
    final_after_days: int = 10
    letter_after_days: int = 10
    legal_after_days: int = 30
    collection_target: float = 0.95


@dataclass(frozen=True)
class ServicePolicy:
    site: SitePolicy = field(default_factory=SitePolicy)
    answer: AnswerPolicy = field(default_factory=AnswerPolicy)
    complaint: ComplaintPolicy = field(default_factory=ComplaintPolicy)
    followup: FollowupPolicy = field(default_factory=FollowupPolicy)
    arrears: ArrearsPolicy = field(default_factory=ArrearsPolicy)
