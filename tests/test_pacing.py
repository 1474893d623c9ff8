"""Decisions of the dialer pacers, and a short seeded simulation against progressive."""

from __future__ import annotations

import importlib.util
import inspect
import math
import random
import re
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from hotline.core import dialplan as contract
from hotline.dialer import engine, queue_agents
from hotline.dialer.ami_protocol import AMIMessage
from hotline.dialer.pacing import (
    AbandonWindow,
    AgentlessPacer,
    Pacer,
    PacingConfig,
    PredictivePacer,
    PreviewPacer,
    ProgressivePacer,
    make_pacer,
)
from hotline.dialer.queue_agents import QueueAgents

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


def _event(name: str, **headers: str) -> AMIMessage:
    return AMIMessage((("Event", name), ("Queue", contract.QUEUE_OUTBOUND), *headers.items()))


def _member_event(name: str, status: str, paused: bool) -> AMIMessage:
    # The headers app_queue sends (asterisk-golden/ami-11-queue): Interface, Status, Paused.
    return _event(name, Interface="PJSIP/200", Status=status, Paused="1" if paused else "0")


def test_wrapup_ending_with_the_unpause_is_learnt_from_queue_events() -> None:
    """AgentComplete, then the agent pauses for after-call work and unpauses 40 s later: the
    pacer sees a wrap-up of unknown end, then learns its length from the unpause."""
    pacer, _ = warmed()
    now = [0.0]
    agents = QueueAgents(contract.QUEUE_OUTBOUND, pacer, lambda: now[0])
    learnt = len(pacer._wrap)
    now[0] = 5000.0
    agents.on_event(_event("AgentConnect", Interface="PJSIP/200"))
    now[0] = 5100.0
    agents.on_event(_event("AgentComplete", Interface="PJSIP/200"))
    agents.on_event(_member_event("QueueMemberStatus", "1", paused=False))
    now[0] = 5101.0
    agents.on_event(_member_event("QueueMemberPause", "1", paused=True))
    now[0] = 5130.0
    agents.expire_wrapups()  # the grace is over, but the agent is still paused
    assert pacer._agents["PJSIP/200"][0] == "wrapup"
    assert pacer._agents["PJSIP/200"][2] is None  # end unknown
    now[0] = 5140.0
    agents.on_event(_member_event("QueueMemberPause", "1", paused=False))
    assert pacer.agents_by_state()["free"] == 1
    assert len(pacer._wrap) == learnt + 1
    assert max(pacer._wrap.quantiles(1000)) == pytest.approx(40.0)


def test_pause_when_not_after_a_call_is_a_break() -> None:
    pacer = ProgressivePacer(CONFIG)
    agents = QueueAgents(contract.QUEUE_OUTBOUND, pacer, lambda: 0.0)
    agents.on_event(_member_event("QueueMemberStatus", "1", paused=False))
    assert pacer.staffed == 1
    agents.on_event(_member_event("QueueMemberPause", "1", paused=True))
    assert pacer.staffed == 0


def test_unknown_wrapup_counts_by_its_learnt_length_so_far() -> None:
    """Wrap-ups seen: 15 s. An agent 10 s into one of unknown end is as good as free soon; one
    1 s into it is not yet."""

    def decision(elapsed: float) -> int:
        pacer, t = warmed()
        pacer.agent_wrapup("a", t - elapsed, None)
        return pacer.calls_to_start(t)

    assert decision(10.0) >= 1
    assert decision(1.0) == 0


def test_durations_past_the_longest_seen_keep_an_exponential_tail() -> None:
    """Wrap-ups seen: 15 s. One that has run 60 s is not written off: past the longest seen,
    the wrap-up survival decays with the mean excess of the longest ones (here the bin width)."""
    pacer, _ = warmed()
    wrap = pacer._wrap
    assert wrap.survival(20.0) > wrap.survival(21.0) > 0.0
    assert wrap.survival(21.0) / wrap.survival(20.0) == pytest.approx(math.exp(-1.0))
    assert wrap.survival(14.0) > 0.9


def test_predictive_holds_back_until_it_has_seen_wrapups() -> None:
    config = replace(CONFIG, feedback_gain=0.0, tradeoff_initial=0.02)  # eager, fixed
    pacer, t = warmed(config)
    unlearnt = PredictivePacer(config)
    # The same calls, but every agent still in wrap-up: no wrap-up length learnt yet.
    unlearnt._ring, unlearnt._outcomes = pacer._ring, pacer._outcomes
    for pair in (pacer, unlearnt):
        pair.agent_free("a", t)
        for agent in ("b", "c", "d"):
            pair.agent_wrapup(agent, t, until=t + 9.0)
    assert not unlearnt.warmed_up
    assert unlearnt.calls_to_start(t) == 1  # progressive
    assert pacer.calls_to_start(t) > 1


def test_answer_rate_forgets_its_past_after_a_mid_shift_change() -> None:
    rng = random.Random(3)
    pacer, t = PredictivePacer(CONFIG), 0.0
    tradeoffs = []
    for i in range(2800):  # the memory (2000) is full when the rate changes
        p = 0.6 if i < 2400 else 0.2
        pacer.call_started(f"c{i}", t)
        if rng.random() < p:
            pacer.call_answered(f"c{i}", t + 5.0)
            pacer.call_connected(f"c{i}", "a", t + 5.0)  # each one raises the tradeoff
        else:
            pacer.call_not_answered(f"c{i}", t + 25.0)
        t += 1.0
        if i == 2399:
            assert pacer.answer_probability == pytest.approx(0.6, abs=0.04)
            assert pacer._outcomes.changes == 0  # no shift seen in a steady stream
            tradeoffs.append(pacer.tradeoff)
    assert pacer._outcomes.changes >= 1
    assert pacer.answer_probability == pytest.approx(0.2, abs=0.06)
    assert tradeoffs[0] > 4 * CONFIG.tradeoff_initial
    # The price of an abandon is kept (no abandon came: it only rose), while the feedback
    # restarted its large steps: it has counted the answers since the shift, not all 1,300.
    assert pacer.tradeoff >= tradeoffs[0]
    assert 0 < pacer._feedback_count < 200


def test_shift_in_talk_times_rebuilds_the_forecast_and_keeps_the_tradeoff() -> None:
    pacer, t = warmed()
    for i in range(400):  # talks of 60-118 s, then of 600 s
        pacer.call_started(f"c{i}", t)
        pacer.call_answered(f"c{i}", t + 5.0)
        pacer.call_connected(f"c{i}", "a", t + 5.0)
        talk = 60.0 + (i % 30) * 2 if i < 300 else 600.0
        pacer.agent_free("a", t + 5.0 + talk)
        pacer.call_ended(f"c{i}", t + 5.0 + talk)
        t += 5.0 + talk
        if i == 299:
            pacer.calls_to_start(t)  # forecast tables built from the old talk times
            assert pacer._talk.changes == 0
            before = pacer.tradeoff
            assert pacer._tables_at >= 0
    assert pacer._talk.changes >= 1
    assert pacer._talk.mean == pytest.approx(600.0)  # only the new talk times are kept
    assert pacer._tables_at == -1 or pacer._tables_at > pacer._observations - 100
    assert pacer.tradeoff >= before


def test_predictive_leaves_progressive_after_its_warmup() -> None:
    """Progressive until 5 answers, 5 wrap-ups and 20 outcomes (of which the answers)."""
    config = replace(CONFIG, feedback_gain=0.0, tradeoff_initial=0.05)  # eager, fixed
    pacer, t = PredictivePacer(config), 0.0
    for i in range(20):
        assert not pacer.warmed_up
        pacer.call_started(f"c{i}", t)
        if i % 4 == 0:  # 5 answered, talk 60 s, wrap-up 10 s
            pacer.call_answered(f"c{i}", t + 8.0)
            pacer.call_connected(f"c{i}", "w", t + 8.0)
            pacer.call_ended(f"c{i}", t + 68.0)
            pacer.agent_wrapup("w", t + 68.0, t + 78.0)
            pacer.agent_free("w", t + 78.0)
            t += 78.0
        else:
            pacer.call_not_answered(f"c{i}", t + 25.0)
            t += 25.0
    assert pacer.warmed_up
    pacer.agent_gone("w", t)
    pacer.agent_free("a", t)
    for agent in ("b", "c", "d"):
        pacer.agent_wrapup(agent, t, until=t + 9.0)
    assert pacer.calls_to_start(t) > 1  # more than the one free agent


class _EventsOnly:
    """A pacer seen through the ``Pacer`` protocol only: anything else is refused."""

    def __init__(self, pacer: PredictivePacer, calls: set[str]) -> None:
        self._pacer, self._calls = pacer, calls

    def __getattr__(self, name: str) -> Any:
        if name not in _PROTOCOL:
            raise AttributeError(f"the simulator reached past the events: {name}")
        self._calls.add(name)
        return getattr(self._pacer, name)


_PROTOCOL = {name for name, _ in inspect.getmembers(Pacer) if not name.startswith("_")} - {
    "dial_level",
    "abandon_rate",
    "ringing",
    "agents_by_state",
}


def _live_inputs() -> set[str]:
    """The pacer methods the live dialer calls (engine and queue agents)."""
    source = inspect.getsource(engine) + inspect.getsource(queue_agents)
    return set(re.findall(r"pacer\.(\w+)\(", source))


def test_pacer_decides_from_the_live_engines_events_only() -> None:
    """The bench drives the pacer through the protocol's event methods alone, with every
    kind of event the live dialer sends and nothing else (wrap-up ends unknown, as with
    agents who unpause), and the pacer has no other input."""
    bench = _bench()
    scenario = bench.WIDE[1]
    scenario = replace(scenario, hours=0.5)
    calls: set[str] = set()
    pacer = PredictivePacer(bench._config(scenario))
    shift = bench.run_shift(scenario, 3, _EventsOnly(pacer, calls))
    assert shift.answered > 20
    assert calls <= _live_inputs()
    # No logouts in a shift; the connect says the agent talks; abandons may not happen.
    assert calls >= _live_inputs() - {"agent_gone", "agent_talking", "call_abandoned"}
    # Decisions take the time alone; every other input is an event.
    assert list(inspect.signature(PredictivePacer.calls_to_start).parameters) == ["self", "at"]
    # And it can reach nothing else: the pacing module imports the standard library only.
    source = inspect.getsource(sys.modules[PredictivePacer.__module__])
    imported = {name.split(".")[0] for name in re.findall(r"^(?:from|import) (\S+)", source, re.M)}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}
