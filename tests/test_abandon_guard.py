"""The abandon-rate brake: predictive dialling stops above dialer.abandon_limit, until the
rolling rate is back under it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from twisted.internet.task import Clock

from hotline.core.dialer_desk import RunningCampaign
from hotline.core.vocabulary import DialMode, Disposition
from hotline.dialer.abandon_guard import AbandonGuard
from hotline.dialer.call_tracker import Attempt
from hotline.dialer.engine import Dialer, DialerConfig

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def test_the_guard_holds_above_the_limit_and_lets_go_when_abandons_age_out() -> None:
    guard = AbandonGuard(0.03, window_seconds=600)
    assert guard.rate(0) is None and not guard.holds(0)
    for t in range(40):
        guard.picked_up(t, abandoned=False)
    guard.picked_up(40, abandoned=True)
    assert guard.rate(41) == 1 / 41 and not guard.holds(41)  # 2.4 %: under 3 %
    guard.picked_up(42, abandoned=True)
    assert guard.holds(43)  # 2 of 42: 4.8 %
    for t in range(50, 60):
        guard.picked_up(t, abandoned=False)
    assert guard.holds(60)  # 2 of 52: 3.8 %
    assert guard.rate(641) == 1 / 11 and guard.holds(641)  # the first 41 have aged out
    assert guard.rate(643) == 0 and not guard.holds(643)  # so have both abandons


class Quiet:
    """An AMI client the dialer does not get to use here (it only reads its field counter)."""

    field_errors = None

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"AMI {name} used")


def dialer() -> Dialer:
    return Dialer(
        # test doubles: the guard's path touches neither AMI, database nor rules
        DialerConfig(), Quiet(), None, None, lambda: T0, Clock(),  # type: ignore[arg-type]
    )  # fmt: skip


def answered(d: Dialer, call_id: str, outcome: Disposition) -> None:
    attempt = Attempt(call_id, 1, 1, "100", True, T0, answered_at=T0)
    # a stand-in on this one dialer: no record is written
    d._record_later = lambda *a: None  # type: ignore[method-assign]
    d.finished(attempt, outcome)


def test_an_abandon_rate_above_the_limit_stops_predictive_dialling() -> None:
    d = dialer()
    campaign = RunningCampaign(1, "arrears", DialMode.PREDICTIVE, T0)
    predictive = d.agent_pacers[DialMode.PREDICTIVE]
    progressive = d.agent_pacers[DialMode.PROGRESSIVE]
    assert d._dialling([campaign]) == [(campaign, predictive)]
    answered(d, "c1", Disposition.ABANDONED)
    # Its predictive calls still up: nothing new until they end.
    d._pacer_of["c2"] = predictive
    assert d._dialling([campaign]) == []
    del d._pacer_of["c2"]
    # Then one call per free agent: the agent waits for the resident, not the other way round.
    assert d._dialling([campaign]) == [(campaign, progressive)]
    for n in range(40):
        answered(d, f"a{n}", Disposition.ANSWERED)
    assert d._dialling([campaign]) == [(campaign, predictive)]  # 1 in 41: recovered


def test_the_guard_leaves_progressive_campaigns_as_they_are() -> None:
    d = dialer()
    campaign = RunningCampaign(1, "followup", DialMode.PROGRESSIVE, T0)
    answered(d, "c1", Disposition.ABANDONED)
    assert d._dialling([campaign]) == [(campaign, d.agent_pacers[DialMode.PROGRESSIVE])]
