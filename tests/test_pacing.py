"""Decisions of the dialer pacers, and a short seeded simulation against progressive."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest

from hotline.dialer.pacing import (
    AbandonWindow,
    AgentlessPacer,
    PacingConfig,
    PredictivePacer,
    PreviewPacer,
    ProgressivePacer,
    make_pacer,
)

CONFIG = PacingConfig()


def warmed(config: PacingConfig = CONFIG) -> tuple[PredictivePacer, float]:
    """A predictive pacer that has seen 150 calls (p = 1/3, rings 4-15 s, talks 60-118 s)
    from one agent who then logged out; returns it and the time reached."""
    pacer, t = PredictivePacer(config), 0.0
    for i in range(150):
        call = f"w{i}"
        pacer.call_started(call, t)
        if i % 3 == 0:
            ring = 4.0 + (i // 3) % 12
            pacer.call_answered(call, t + ring)
            pacer.call_connected(call, "warm", t + ring)
            end = t + ring + 60.0 + (i % 30) * 2
            pacer.call_ended(call, end)
            pacer.agent_wrapup("warm", end, end + 15.0)
            pacer.agent_free("warm", end + 15.0)
            t = end + 15.0
        else:
            pacer.call_not_answered(call, t + 25.0)
            t += 25.0
    pacer.agent_gone("warm", t)
    assert pacer.warmed_up
    return pacer, t


def test_progressive_never_rings_more_than_free_agents() -> None:
    pacer = ProgressivePacer(CONFIG)
    for agent in ("a", "b", "c"):
        pacer.agent_free(agent, 0.0)
    assert pacer.calls_to_start(0.0) == 3
    for call in ("x", "y"):
        pacer.call_started(call, 0.0)
    assert pacer.calls_to_start(1.0) == 1
    pacer.agent_talking("c", 1.0)
    assert pacer.calls_to_start(1.0) == 0  # two free agents, two calls ringing
    pacer.call_answered("x", 5.0)  # waiting for an agent still holds one
    assert pacer.calls_to_start(5.0) == 0
    pacer.call_connected("x", "a", 5.0)
    pacer.call_not_answered("y", 25.0)
    assert pacer.calls_to_start(25.0) == 1
    assert pacer.agents_by_state() == {"free": 1, "talking": 2, "wrapup": 0}


def test_preview_starts_nothing() -> None:
    pacer = PreviewPacer(CONFIG)
    pacer.agent_free("a", 0.0)
    assert pacer.calls_to_start(0.0) == 0


@pytest.mark.parametrize("learnt", [False, True])
def test_predictive_starts_nothing_without_staffed_agents(learnt: bool) -> None:
    pacer, t = warmed() if learnt else (PredictivePacer(CONFIG), 0.0)
    assert pacer.calls_to_start(t) == 0
    pacer.agent_free("a", t)
    assert pacer.calls_to_start(t) >= 1
    pacer.agent_gone("a", t)
    assert pacer.calls_to_start(t + 1.0) == 0


def test_predictive_is_progressive_before_it_has_learnt() -> None:
    pacer = PredictivePacer(CONFIG)
    pacer.agent_free("a", 0.0)
    pacer.agent_wrapup("b", 0.0, until=3.0)
    assert not pacer.warmed_up
    assert pacer.calls_to_start(0.0) == 1


def test_predictive_learns_answer_probability_and_horizon() -> None:
    pacer, _ = warmed()
    assert pacer.answer_probability == pytest.approx(1 / 3, abs=0.02)
    assert 15.0 <= pacer.answer_horizon <= 16.0
    assert pacer.answer_chance(20.0, 5.0) == 0.0
    # the longer a call has rung unanswered, the less likely it is ever answered
    assert pacer.answer_chance(0.0, 30.0) == pytest.approx(pacer.answer_probability)
    assert pacer.answer_chance(4.0, 30.0) > pacer.answer_chance(12.0, 30.0) > 0.0


def test_wrapup_agents_with_known_end_count_as_soon_free() -> None:
    soon, t = warmed()
    soon.agent_wrapup("a", t, until=t + 6.0)
    late, t2 = warmed()
    late.agent_wrapup("a", t2, until=t2 + 120.0)
    assert soon.calls_to_start(t) >= 1
    assert late.calls_to_start(t2) == 0
    progressive = ProgressivePacer(CONFIG)
    progressive.agent_wrapup("a", t, until=t + 6.0)
    assert progressive.calls_to_start(t) == 0


def test_call_rung_past_learnt_horizon_counts_as_lost() -> None:
    def with_ringing(age: float | None) -> int:
        pacer, t = warmed()
        for agent in ("a", "b"):
            pacer.agent_free(agent, t)
        if age is not None:  # 4 calls: the line cap (4 per agent, dead calls too) stays loose
            for i in range(4):
                pacer.call_started(f"r{i}", t - age)
        return pacer.calls_to_start(t)

    none = with_ringing(None)
    assert none >= 2
    assert with_ringing(20.0) == none  # past 16 s: as good as no calls at all
    assert with_ringing(5.0) < none  # young calls will still answer


def test_predictive_backs_off_when_rolling_abandon_rate_is_over_limit() -> None:
    # A fixed, eager tradeoff isolates the window guard.
    config = replace(CONFIG, feedback_gain=0.0, tradeoff_initial=0.02)
    pacer, t = warmed(config)
    pacer.agent_free("a", t)
    for agent in ("b", "c", "d"):
        pacer.agent_wrapup(agent, t, until=t + 9.0)
    eager = pacer.calls_to_start(t)
    assert eager > 1  # more than the one free agent
    for i in range(10):
        pacer.call_started(f"x{i}", t)
        pacer.call_answered(f"x{i}", t + 5.0)
        pacer.call_abandoned(f"x{i}", t + 7.0)
    assert pacer.abandon_rate > config.abandon_limit
    assert pacer.calls_to_start(t + 7.0) == 1  # progressive: one per free agent


def test_predictive_values_a_call_by_what_starting_it_now_adds() -> None:
    """The one agent's wrap-up ends in 10 s: a call started now may answer before that (an
    abandon) where one started a step later would not, so it is worth only its margin over
    waiting, and less than its own ratio."""
    pacer, t = warmed()
    pacer.agent_wrapup("a", t, until=t + 10.0)
    pacer._build_tables()
    mean, var = pacer._forecast(t)
    gain, abandons = pacer._call_effect(mean, var, 0, 0)
    later_gain, later_abandons = pacer._call_effect(mean, var, 0, 1)
    assert later_abandons < abandons and later_gain < gain
    worth = pacer._next_call_worth(mean, var, 0)
    assert worth == pytest.approx((gain - later_gain) / (abandons - later_abandons))
    assert worth < gain / abandons


def test_abandons_lower_the_predictive_tradeoff() -> None:
    pacer, t = warmed()
    before = pacer.tradeoff
    pacer.call_started("x", t)
    pacer.call_answered("x", t + 5.0)
    pacer.call_abandoned("x", t + 7.0)
    assert pacer.tradeoff < before


def test_abandon_window_rolls_by_count_and_age() -> None:
    window = AbandonWindow(max_calls=4, max_age=100.0)
    window.record(0.0, True)
    for t in (1.0, 2.0, 3.0):
        window.record(t, False)
    assert window.rate() == 0.25
    window.record(4.0, False)  # the abandon falls out by count
    assert window.rate() == 0.0
    window.record(50.0, True)
    assert window.rate(150.0) == 1.0  # only the last one is under 100 s old
    assert window.answered == 1


def test_agentless_respects_its_line_limit() -> None:
    pacer = AgentlessPacer(replace(CONFIG, agentless_lines=3))
    assert pacer.calls_to_start(0.0) == 3
    for call in ("a", "b", "c"):
        pacer.call_started(call, 0.0)
    assert pacer.calls_to_start(0.0) == 0
    pacer.call_answered("a", 5.0)  # playing its message: still a line
    assert pacer.calls_to_start(5.0) == 0
    pacer.call_ended("a", 30.0)
    pacer.call_not_answered("b", 25.0)
    assert pacer.calls_to_start(30.0) == 2


def test_make_pacer() -> None:
    assert isinstance(make_pacer("predictive"), PredictivePacer)
    assert isinstance(make_pacer("agentless", CONFIG), AgentlessPacer)
    with pytest.raises(ValueError, match="unknown dialing mode"):
        make_pacer("turbo")


def _bench() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "bench" / "dialer_pacing.py"
    spec = importlib.util.spec_from_file_location("dialer_pacing_bench", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    return module


def test_short_simulation_beats_progressive_within_abandon_limit() -> None:
    bench = _bench()
    scenario = bench.Scenario(agents=10, p=0.3, hours=2.0)
    predictive = bench.run_shift(scenario, 7, PredictivePacer(bench._config(scenario)))
    progressive = bench.run_shift(scenario, 7, ProgressivePacer(bench._config(scenario)))
    assert predictive.answered > 100
    assert predictive.abandon_rate <= 0.03
    assert progressive.abandoned == 0
    assert predictive.busy / predictive.staffed > progressive.busy / progressive.staffed + 0.05


@pytest.mark.parametrize("highest", [None, 0, 7, 30])
def test_ratio_search_finds_highest_compliant_level(highest: int | None) -> None:
    bench = _bench()
    ok, over = bench.Shift(1.0, 1.0, 100, 3, 97), bench.Shift(1.0, 1.0, 100, 4, 96)
    search, tried = bench._Search(len(bench.RATIOS), bench._compliant), []
    while (level := search.next_level()) is not None:
        tried.append(level)
        search.record(level, [ok if highest is not None and level <= highest else over])
    assert search.chosen == (0 if highest is None else highest)
    assert len(tried) <= 6  # bisection over 31 levels, not a scan
