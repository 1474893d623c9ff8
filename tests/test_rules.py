"""Every figure of service-rules.md §1–5, stated literally."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hotline.core.policy import ServicePolicy, SitePolicy
from hotline.core.rules import Rules
from hotline.core.vocabulary import DomainError, Kind, ReminderStage, Role, Severity

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SH)  # a Monday


def test_three_rings_is_fifteen_seconds_with_the_china_cadence(rules: Rules) -> None:
    assert rules.policy.answer.ring_on_seconds == 1.0
    assert rules.policy.answer.ring_off_seconds == 4.0
    assert rules.policy.answer.max_answer_seconds == 15.0
    assert rules.policy.answer.last_ring_starts == 10.0
    assert rules.rings_before_answer(T0, T0) == 0
    assert rules.rings_before_answer(T0, T0 + timedelta(seconds=0.5)) == 1
    assert rules.rings_before_answer(T0, T0 + timedelta(seconds=10)) == 3
    assert rules.answered_within_rings(T0, T0 + timedelta(seconds=14.9))
    assert not rules.answered_within_rings(T0, T0 + timedelta(seconds=15))


def test_office_hours_0830_to_1800_site_time_on_duty_otherwise(rules: Rules) -> None:
    assert rules.policy.site.timezone == "Asia/Shanghai"
    assert rules.is_office_hours(T0.replace(hour=8, minute=30))
    assert not rules.is_office_hours(T0.replace(hour=8, minute=29))
    assert rules.is_office_hours(T0.replace(hour=17, minute=59))
    assert not rules.is_office_hours(T0.replace(hour=18, minute=0))
    assert rules.is_on_duty_time(T0.replace(hour=23))
    # 10:00 in Shanghai is 02:00 UTC: the rules read the site's clock, not the server's.
    assert rules.is_office_hours(datetime(2026, 11, 23, 2, 0, tzinfo=ZoneInfo("UTC")))


def test_holidays_are_on_duty_time() -> None:
    rules = Rules(ServicePolicy(site=SitePolicy(holidays=["2026-10-01"])))
    assert not rules.is_office_hours(datetime(2026, 10, 1, 10, 0, tzinfo=SH))
    assert rules.is_holiday(datetime(2026, 10, 1, 10, 0, tzinfo=SH))
    assert rules.is_office_hours(datetime(2026, 10, 2, 10, 0, tzinfo=SH))


def test_repair_dispatched_within_5_minutes(rules: Rules) -> None:
    assert rules.dispatch_due(T0) == T0 + timedelta(minutes=5)
    assert rules.policy.answer.online_accept_minutes == 5


def test_complaint_to_supervisor_within_one_hour(rules: Rules) -> None:
    assert rules.escalation_due(T0) == T0 + timedelta(hours=1)


def test_complaints_resolved_in_3_days_general_10_days_major(rules: Rules) -> None:
    assert rules.resolution_due(Severity.GENERAL, T0) == T0 + timedelta(days=3)
    assert rules.resolution_due(Severity.MINOR, T0) == T0 + timedelta(days=3)
    assert rules.resolution_due(Severity.MAJOR, T0) == T0 + timedelta(days=10)


@pytest.mark.parametrize(
    ("kind", "category", "delay"),
    [
        (Kind.REPAIR, "leak", timedelta(days=3)),  # 3 days after the leak test
        (Kind.REPAIR, "safety", timedelta(days=2)),
        (Kind.REPAIR, "plumbing", timedelta(hours=24)),  # stricter of 24 h (002) and 2 d (000)
        (Kind.REPAIR, "other", timedelta(hours=24)),
        (Kind.COMPLAINT, "noise", timedelta(days=3)),
        (Kind.ENQUIRY, "emergency_help", timedelta(days=7)),
        (Kind.ENQUIRY, "information", timedelta(days=7)),
    ],
)
def test_followup_due(rules: Rules, kind: Kind, category: str, delay: timedelta) -> None:
    assert rules.followup_due(kind, category, T0) == T0 + delay


def test_followup_targets_and_retention(rules: Rules) -> None:
    f = rules.policy.followup
    assert f.target_rate == 1.0  # 100 %
    assert f.satisfaction_target == 0.9  # ≥ 90 %
    assert f.retention_years == 2


def test_major_complaints_followed_up_by_the_manager(rules: Rules) -> None:
    assert rules.followup_assignee(Kind.COMPLAINT, Severity.MAJOR) is Role.MANAGER
    assert rules.followup_assignee(Kind.COMPLAINT, Severity.GENERAL) is Role.SUPERVISOR
    assert rules.followup_assignee(Kind.REPAIR, Severity.MAJOR) is Role.CS_STAFF


def test_satisfaction_two_or_less_is_unsatisfied(rules: Rules) -> None:
    assert rules.is_unsatisfied(1)
    assert rules.is_unsatisfied(2)
    assert not rules.is_unsatisfied(3)
    with pytest.raises(DomainError):
        rules.is_unsatisfied(6)


def test_arrears_ladder_day_20_then_10_days_10_days_then_letter(rules: Rules) -> None:
    month = date(2026, 10, 1)
    first = rules.next_reminder(ReminderStage.NONE, month, None)
    assert first is not None and first.stage is ReminderStage.FIRST
    assert first.due_at == datetime(2026, 10, 20, 0, 0, tzinfo=SH)
    reminded = datetime(2026, 10, 20, 10, 0, tzinfo=SH)
    second = rules.next_reminder(ReminderStage.FIRST, month, reminded)
    assert second is not None and second.stage is ReminderStage.SECOND
    assert second.due_at == reminded + timedelta(days=10)
    final = rules.next_reminder(ReminderStage.SECOND, month, reminded)
    assert final is not None and final.stage is ReminderStage.FINAL
    assert final.due_at == reminded + timedelta(days=10)
    letter = rules.next_reminder(ReminderStage.FINAL, month, reminded)
    assert letter is not None and letter.stage is ReminderStage.LETTER
    legal = rules.next_reminder(ReminderStage.LETTER, month, reminded)
    assert legal is not None and legal.stage is ReminderStage.LEGAL
    assert rules.next_reminder(ReminderStage.LEGAL, month, reminded) is None
    assert rules.policy.arrears.collection_target == 0.95


def test_overdue_means_missed_or_met_late() -> None:
    assert Rules.is_overdue(T0, None, T0 + timedelta(seconds=1))
    assert not Rules.is_overdue(T0, None, T0)
    assert Rules.is_overdue(T0, T0 + timedelta(minutes=1), T0)
    assert not Rules.is_overdue(T0, T0 - timedelta(minutes=1), T0 + timedelta(days=1))
