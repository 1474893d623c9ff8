"""Dialer pacing: how many outbound calls to start now.

Pure objects: no I/O and no clock of their own. The live dialer and the benchmark feed the
same events (with the time ``at`` in seconds) and ask :meth:`Pacer.calls_to_start` on a tick.

Modes: ``preview`` (agents start calls themselves), ``progressive`` (one call per free
agent), ``ratio`` (a fixed dial level), ``predictive`` (forecast of answers against agents
soon free, held under an abandon budget) and ``agentless`` (a fixed number of lines).
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True)
class PacingConfig:
    """Settings shared by every pacing mode; times in seconds."""

    abandon_limit: float = 0.03  # regulatory ceiling: abandoned / answered
    abandon_target: float = 0.028  # what the predictive feedback aims at, below the limit
    abandon_guard_band: float = 0.004  # predictive tradeoff falls to nothing over this band
    abandon_window_calls: int = 10000  # rolling window: last N answered calls ...
    abandon_window_seconds: float = 8 * 3600.0  # ... no older than T seconds (a shift)
    connect_limit: float = 2.0  # an answered call waits this long for an agent, then is abandoned
    max_ring: float = 25.0  # unanswered calls are released after this
    max_dial_level: float = 4.0  # ringing calls per staffed agent, hard cap
    dial_ratio: float = 1.5  # ratio mode: level x active agents
    agentless_lines: int = 10  # agentless mode: concurrent calls
    # Predictive behaves progressively until it has seen this many answers and wrap-ups ...
    # (few: the cautious initial tradeoff and the guard's pseudo-answers carry the early risk,
    # while every progressive minute costs 10-25 points of occupancy at 2-5 agents)
    warmup_answered: int = 5
    warmup_outcomes: int = 20  # ... and this many answered-or-not outcomes
    model_memory: int = 2000  # observations kept by the online models
    forecast_step: float = 0.5  # forecast grid, seconds
    # Predictive: abandons accepted per idle agent-second saved. It starts low and the
    # feedback raises it: a shift that starts cautious and reacts hard to each abandon keeps
    # the rate off the guard band, where the pacer falls back to progressive.
    tradeoff_initial: float = 0.004
    tradeoff_min: float = 1e-4
    tradeoff_max: float = 0.1
    feedback_gain: float = 0.16  # log-tradeoff step per answered call outcome, at first ...
    feedback_settle: float = 200.0  # ... shrinking as sqrt(settle / (settle + answers fed back))
    feedback_gain_floor: float = 0.08  # ... to this floor (0.04 gave 0.1 point less at 5
    # agents with unknown wrap-up; 50 agents equal)
    # Predictive: recent call starts per second, over this span. Kept short so the rate follows
    # the moment (bursts as wrap-ups end, lulls while all talk); a 60 s mean overstated the
    # competition in lulls and cost about 1 point of occupancy at 5 agents.
    dialing_rate_span: float = 15.0
    # Pseudo-answers at target added to the rolling window rate: with 50, a few abandons in a
    # shift's first hour put the pacer in the guard band; 150 cost 2.6 points at p = 0.15.
    guard_prior_calls: int = 100
    # Forgetting: the answer rate and talk times keep the last ``model_memory`` observations,
    # but only the newest window (of these sizes) once its mean is this many standard errors
    # off the older ones' (an answer rate falling from 0.6 to 0.2 mid-shift).
    change_windows: tuple[int, ...] = (50, 200)
    change_z: float = 4.5
    wrapup_points: int = 8  # wrap-up quantiles convolved with the talk-time survival


class AgentState(StrEnum):
    FREE = "free"
    TALKING = "talking"
    WRAPUP = "wrapup"


class Pacer(Protocol):
    """Events in, a number of calls to start out. ``at`` is seconds on any monotonic clock."""

    def call_started(self, call_id: str, at: float) -> None: ...
    def call_answered(self, call_id: str, at: float) -> None: ...
    def call_not_answered(self, call_id: str, at: float) -> None: ...
    def call_connected(self, call_id: str, agent_id: str, at: float) -> None: ...
    def call_abandoned(self, call_id: str, at: float) -> None: ...
    def call_ended(self, call_id: str, at: float) -> None: ...
    def agent_free(self, agent_id: str, at: float) -> None: ...
    def agent_talking(self, agent_id: str, at: float) -> None: ...
    def agent_wrapup(self, agent_id: str, at: float, until: float | None = None) -> None: ...
    def agent_gone(self, agent_id: str, at: float) -> None: ...
    def calls_to_start(self, at: float) -> int: ...

    @property
    def dial_level(self) -> float: ...
    @property
    def abandon_rate(self) -> float: ...
    @property
    def ringing(self) -> int: ...
    def agents_by_state(self) -> dict[str, int]: ...


class AbandonWindow:
    """Rolling abandon rate over the last answered calls (by count and by age)."""

    def __init__(self, max_calls: int, max_age: float) -> None:
        self._max_calls = max_calls
        self._max_age = max_age
        self._outcomes: deque[tuple[float, bool]] = deque()
        self.abandoned = 0

    def record(self, at: float, abandoned: bool) -> None:
        self._outcomes.append((at, abandoned))
        self.abandoned += abandoned
        self._trim(at)

    def _trim(self, at: float) -> None:
        outcomes = self._outcomes
        while outcomes and (len(outcomes) > self._max_calls or outcomes[0][0] < at - self._max_age):
            self.abandoned -= outcomes.popleft()[1]

    @property
    def answered(self) -> int:
        return len(self._outcomes)

    def rate(self, at: float | None = None) -> float:
        if at is not None:
            self._trim(at)
        return self.abandoned / len(self._outcomes) if self._outcomes else 0.0


class _Tracker:
    """Agent and call state every pacer needs, with O(1) counters."""

    def __init__(self, config: PacingConfig) -> None:
        self.config = config
        self._agents: dict[str, tuple[AgentState, float, float | None]] = {}
        self._counts = dict.fromkeys(AgentState, 0)
        self._ringing: dict[str, float] = {}  # call id -> started at
        self._waiting: set[str] = set()  # answered, not yet connected or abandoned
        self._live: set[str] = set()  # answered and connected (or playing, agentless)
        self.window = AbandonWindow(config.abandon_window_calls, config.abandon_window_seconds)

    # -- calls
    def call_started(self, call_id: str, at: float) -> None:
        self._ringing[call_id] = at

    def call_answered(self, call_id: str, at: float) -> None:
        if self._ringing.pop(call_id, None) is not None:
            self._waiting.add(call_id)

    def call_not_answered(self, call_id: str, at: float) -> None:
        self._ringing.pop(call_id, None)

    def call_connected(self, call_id: str, agent_id: str, at: float) -> None:
        self._ringing.pop(call_id, None)
        self._waiting.discard(call_id)
        self._live.add(call_id)
        self.window.record(at, False)
        self.agent_talking(agent_id, at)

    def call_abandoned(self, call_id: str, at: float) -> None:
        self._ringing.pop(call_id, None)
        self._waiting.discard(call_id)
        self.window.record(at, True)

    def call_ended(self, call_id: str, at: float) -> None:
        self._ringing.pop(call_id, None)
        self._waiting.discard(call_id)
        self._live.discard(call_id)

    # -- agents
    def _set_agent(
        self, agent_id: str, state: AgentState | None, at: float, until: float | None = None
    ) -> None:
        previous = self._agents.pop(agent_id, None)
        if previous is not None:
            self._counts[previous[0]] -= 1
            self._agent_left(previous, state, at)
        if state is not None:
            self._agents[agent_id] = (state, at, until)
            self._counts[state] += 1

    def _agent_left(
        self, previous: tuple[AgentState, float, float | None], state: AgentState | None, at: float
    ) -> None:
        """Hook: an agent left ``previous`` for ``state`` (None: gone) at ``at``."""

    def agent_free(self, agent_id: str, at: float) -> None:
        self._set_agent(agent_id, AgentState.FREE, at)

    def agent_talking(self, agent_id: str, at: float) -> None:
        current = self._agents.get(agent_id)
        if current is None or current[0] is not AgentState.TALKING:
            self._set_agent(agent_id, AgentState.TALKING, at)

    def agent_wrapup(self, agent_id: str, at: float, until: float | None = None) -> None:
        """Wrap-up from ``at``, ending at ``until`` (None: when the agent says so, e.g. by
        unpausing). Told again during the same wrap-up, only its end changes."""
        current = self._agents.get(agent_id)
        if current is not None and current[0] is AgentState.WRAPUP:
            self._agents[agent_id] = (AgentState.WRAPUP, current[1], until)
        else:
            self._set_agent(agent_id, AgentState.WRAPUP, at, until)

    def agent_gone(self, agent_id: str, at: float) -> None:
        self._set_agent(agent_id, None, at)

    # -- figures
    @property
    def ringing(self) -> int:
        return len(self._ringing)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def staffed(self) -> int:
        return len(self._agents)

    @property
    def free(self) -> int:
        return self._counts[AgentState.FREE]

    @property
    def dial_level(self) -> float:
        """Calls ringing per staffed agent."""
        return self.ringing / self.staffed if self.staffed else 0.0

    @property
    def abandon_rate(self) -> float:
        return self.window.rate()

    def agents_by_state(self) -> dict[str, int]:
        return {state.value: count for state, count in self._counts.items()}

    def _progressive(self) -> int:
        return max(0, self.free - self.ringing - self.waiting)


class PreviewPacer(_Tracker):
    """Agents preview a lead and start each call themselves: the pacer starts nothing."""

    def calls_to_start(self, at: float) -> int:
        return 0


class ProgressivePacer(_Tracker):
    """One call per free agent: never more calls ringing than free agents."""

    def calls_to_start(self, at: float) -> int:
        return self._progressive()


class RatioPacer(_Tracker):
    """Fixed dial level, VICIdial's RATIO formula: level x active agents - calls in progress.

    Active agents are free or talking (an agent in wrap-up is dispositioning, as if paused);
    calls in progress are ringing, waiting for an agent or talking. Level 1.0 is progressive;
    above it, calls ring ahead of agents still talking.
    """

    def __init__(self, config: PacingConfig, level: float | None = None) -> None:
        super().__init__(config)
        self.level = config.dial_ratio if level is None else level

    def calls_to_start(self, at: float) -> int:
        talking = self._counts[AgentState.TALKING]
        goal = int(self.level * (self.free + talking))
        return max(0, goal - self.ringing - self.waiting - talking)


class AgentlessPacer(_Tracker):
    """A fixed number of concurrent lines (messages, surveys); no agents involved."""

    def calls_to_start(self, at: float) -> int:
        in_progress = self.ringing + self.waiting + len(self._live)
        return max(0, self.config.agentless_lines - in_progress)


class _Memory:
    """The last ``size`` observations, forgetting all but the newest ones when they have
    clearly shifted from the rest (a mid-shift change): the horizon follows the change."""

    def __init__(self, size: int, windows: tuple[int, ...], z: float) -> None:
        self.values: deque[float] = deque()
        self._size, self._windows, self._z = size, windows, z
        self.total = self.total_sq = 0.0
        self.changes = 0  # shifts detected so far

    def __len__(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return self.total / len(self.values) if self.values else 0.0

    def add(self, value: float) -> list[float]:
        """Remember ``value``; returns the observations forgotten."""
        self.values.append(value)
        self.total += value
        self.total_sq += value * value
        dropped = self._forget(self._size) if len(self.values) > self._size else []
        keep = self._shifted()
        if keep is not None:
            self.changes += 1
            dropped += self._forget(keep)
        return dropped

    def _shifted(self) -> int | None:
        """The smallest recent window whose mean differs from the older observations' by
        more than z standard errors (variance pooled, as if nothing had changed)."""
        n_all = len(self.values)
        for n in self._windows:
            if n_all < 2 * n:
                break
            recent = list(itertools.islice(reversed(self.values), n))
            r_sum = sum(recent)
            m = n_all - n
            var = max(self.total_sq / n_all - (self.total / n_all) ** 2, 0.0)
            diff = r_sum / n - (self.total - r_sum) / m
            if diff * diff > self._z**2 * var * (1.0 / n + 1.0 / m):
                return n
        return None

    def _forget(self, keep: int) -> list[float]:
        dropped = []
        while len(self.values) > keep:
            value = self.values.popleft()
            self.total -= value
            self.total_sq -= value * value
            dropped.append(value)
        return dropped


class _Histogram:
    """Durations in fixed bins over a (change-following) memory, with a cached survival."""

    def __init__(
        self,
        bin_width: float,
        limit: float,
        memory: int,
        windows: tuple[int, ...] = (),
        z: float = 5.0,
        tail: bool = False,
    ) -> None:
        self._width = bin_width
        self._counts = [0] * (math.ceil(limit / bin_width) + 1)
        self._samples = _Memory(memory, windows, z)
        self._survival: list[float] | None = None
        self._tail = tail
        self._tail_mean = self._tail_start = 0.0

    def _index(self, value: float) -> int:
        return min(int(value / self._width), len(self._counts) - 1)

    def add(self, value: float) -> None:
        value = max(value, 0.0)
        self._counts[self._index(value)] += 1
        for old in self._samples.add(value):
            self._counts[self._index(old)] -= 1
        self._survival = None

    @property
    def changes(self) -> int:
        return self._samples.changes

    @property
    def mean(self) -> float:
        return self._samples.mean

    def quantiles(self, count: int) -> list[float]:
        """Mid-points of ``count`` equally likely slices of the durations seen."""
        ordered = sorted(self._samples.values)
        n = len(ordered)
        return [ordered[min(n - 1, int((j + 0.5) * n / count))] for j in range(count)] if n else []

    def __len__(self) -> int:
        return len(self._samples)

    @property
    def upper(self) -> float:
        """Upper edge of the highest non-empty bin: nothing longer has been seen."""
        for index in range(len(self._counts) - 1, -1, -1):
            if self._counts[index]:
                return (index + 1) * self._width
        return 0.0

    def survival(self, t: float) -> float:
        """P(duration > t), linear within a bin. With a tail, the samples seen count as n of
        n + 1, the last one lying past the longest seen, exponentially with the mean excess
        of the longest tenth over the next longest: so an agent whose wrap-up or call has run
        longer than any seen so far (few seen early in a shift) is still expected back soon
        rather than never."""
        table = self._survival or self._build_survival()
        position = max(t, 0.0) / self._width
        index = int(position)
        if index >= len(self._counts):
            body = 0.0
        else:
            low, high = table[index], table[index + 1]
            body = low + (high - low) * (position - index)
        if not self._tail:
            return body
        n, upper = len(self._samples), self._tail_start
        beyond = math.exp(-(t - upper) / self._tail_mean) if t > upper else 1.0
        return (n * body + beyond) / (n + 1)

    def _build_survival(self) -> list[float]:
        n = len(self._samples) or 1
        above, table = n, []
        for count in self._counts:
            table.append(above / n)
            above -= count
        table.append(0.0)
        self._survival = table
        if self._tail:
            longest = sorted(self._samples.values)[-(len(self._samples) // 10 + 2) :]
            excess = [value - longest[0] for value in longest[1:]]
            self._tail_start = self.upper
            self._tail_mean = max(sum(excess) / len(excess) if excess else 0.0, self._width)
        return table


class PredictivePacer(_Tracker):
    """Forecasts answers against agents available over the next ring horizon.

    Inputs are the live dialer's events only (``Pacer``: calls started, answered, not
    answered, connected, abandoned, ended; agents free, talking, in wrap-up, gone, as
    ``QueueAgents`` reads them from app_queue) and the time of each decision.

    Assumes: calls are independent; an answered call waits ``connect_limit`` for an agent;
    answered calls connect to any free agent; durations are stable over the memory (or
    change abruptly, which it notices). Told nothing else.

    Learnt online: the answer probability p; the ring-to-answer distribution and its horizon
    (a call that has rung past the longest answer seen will not be answered); talk durations;
    wrap-up durations, from AgentComplete to the agent being free (the end of the queue's
    wrap-up, or the unpause after after-call work, whose end is never told in advance); the
    recent dialing rate. The answer rate and talk times keep the last ``model_memory``
    observations, and only the newest ``change_windows`` ones once these have clearly
    shifted (a mid-shift change); the pacer then rebuilds its forecast from them and restarts
    the feedback's large steps, keeping its tradeoff. It holds back (is progressive) until it
    has seen ``warmup_answered`` answers and wrap-ups and ``warmup_outcomes`` outcomes. Past
    the longest talk or wrap-up seen it assumes an exponential tail (mean: the excess of the
    longest tenth), so an agent who has run longer than any seen is expected back, not
    written off.

    At each decision, for every step k ahead (0.5 s) it forecasts the mean and variance of

        margin(k) = agents available by k + connect limit - answers by k

    Agents: free now, wrap-ups whose end is known, wrap-ups of unknown end (learnt wrap-up
    survival given the time spent so far), talking agents whose call may end in time to
    finish a wrap-up (talk-time survival given the time talked so far, convolved with the
    wrap-up quantiles). Answers: calls waiting for an agent; per ringing call of age a,
    p·(S(a)-S(a+k)) / (p·S(a) + 1-p); and calls the dialer will start on the next ticks (at
    its recent rate), whose short rings overtake long-ringing calls.

    One more call is then worth its expected idle agent-seconds saved over the horizon
    (sum over k of P(answered by k)·P(margin(k) >= 1)) per abandon it risks (p times the
    chance, over its answer time, that margin < 1, normal approximation). Timing counts too:
    the call is worth only what starting it now rather than one step later adds, per abandon
    that adds, when waiting is the safer choice (an agent whose wrap-up ends in 15 s is better
    served by a call started a little later). Calls are added while worth x tradeoff >= 1.
    The tradeoff is the feedback term: an integrator on each answered call's outcome, with
    steps that shrink as answers accrue, drives the abandon rate to the target, and a guard
    on the rolling window rate cuts it to nothing as that rate reaches the limit. The floor
    is always progressive.
    """

    def __init__(self, config: PacingConfig) -> None:
        super().__init__(config)
        memory, windows, z = config.model_memory, config.change_windows, config.change_z
        self._outcomes = _Memory(memory, windows, z)  # 1.0 answered, 0.0 not
        self._ring = _Histogram(0.5, config.max_ring, memory)
        self._talk = _Histogram(5.0, 3600.0, memory, windows, z, tail=True)
        self._wrap = _Histogram(1.0, 600.0, memory, tail=True)
        self._changes = 0  # shifts seen in the answer rate and talk times
        self._feedback_count = 0  # answered calls fed back since the start or a shift
        self._log_tradeoff = math.log(config.tradeoff_initial)
        self._tables_at = -1  # observation count when the forecast tables were built
        self._observations = 0
        self._ring_table: list[list[float]] = []
        self._new_call: tuple[list[float], list[float]] = ([], [])
        self._talk_rows: dict[int, list[float]] = {}
        self._later_calls: list[float] = []
        self._steps = 0
        self._wrap_rows: dict[int, list[float]] = {}
        self._wraps: list[float] = []  # wrap-up quantiles
        self._starts: deque[float] = deque()  # recent call starts, for the dialing rate

    # -- learning
    def _record_outcome(self, answered: bool) -> None:
        self._outcomes.add(float(answered))
        self._observations += 1
        self._after_change()

    def _after_change(self) -> None:
        """Conditions shifted: the forecast learnt before no longer holds, so it is rebuilt
        from the newest observations, and the feedback takes large steps again. The tradeoff
        is kept: it prices an abandon in idle agent-seconds, which a new answer rate or talk
        time does not change (the forecast carries those); starting cautious again cost a
        point of occupancy when the answer rate fell from 0.6 to 0.2."""
        changes = self._outcomes.changes + self._talk.changes
        if changes != self._changes:
            self._changes = changes
            self._feedback_count = 0
            self._tables_at = -1

    def call_started(self, call_id: str, at: float) -> None:
        super().call_started(call_id, at)
        self._starts.append(at)

    def call_answered(self, call_id: str, at: float) -> None:
        started = self._ringing.get(call_id)
        if started is not None:
            self._ring.add(at - started)
            self._record_outcome(True)
        super().call_answered(call_id, at)

    def call_not_answered(self, call_id: str, at: float) -> None:
        if call_id in self._ringing:
            self._record_outcome(False)
        super().call_not_answered(call_id, at)

    def call_connected(self, call_id: str, agent_id: str, at: float) -> None:
        super().call_connected(call_id, agent_id, at)
        self._feedback(False)

    def call_abandoned(self, call_id: str, at: float) -> None:
        super().call_abandoned(call_id, at)
        self._feedback(True)

    def _feedback(self, abandoned: bool) -> None:
        # Stochastic approximation: the mean step is zero exactly when rate == target.
        cfg = self.config
        # Steps shrink as answers accrue (settling where a fixed step keeps it wandering),
        # down to a floor that still follows slow drift; a shift in conditions restarts them.
        self._feedback_count += 1
        settle = cfg.feedback_settle
        gain = max(
            cfg.feedback_gain_floor,
            cfg.feedback_gain * math.sqrt(settle / (settle + self._feedback_count)),
        )
        self._log_tradeoff += gain * (cfg.abandon_target - abandoned)
        self._log_tradeoff = min(
            max(self._log_tradeoff, math.log(cfg.tradeoff_min)), math.log(cfg.tradeoff_max)
        )

    def _agent_left(
        self, previous: tuple[AgentState, float, float | None], state: AgentState | None, at: float
    ) -> None:
        # Only completed durations teach: a logout in the middle says nothing of their length.
        was, since, _ = previous
        if was is AgentState.TALKING and state is not None:
            self._talk.add(at - since)
            self._observations += 1
            self._after_change()
        elif was is AgentState.WRAPUP and state is AgentState.FREE:
            self._wrap.add(at - since)
            self._observations += 1

    def agent_free(self, agent_id: str, at: float) -> None:
        previous = self._agents.get(agent_id)
        if previous is not None and previous[0] is AgentState.TALKING:
            self._wrap.add(0.0)  # no wrap-up after this call
        super().agent_free(agent_id, at)

    # -- figures
    @property
    def answer_probability(self) -> float:
        return (self._outcomes.total + 1) / (len(self._outcomes) + 2)

    @property
    def answer_horizon(self) -> float:
        """Longest ring-to-answer time seen: calls ringing longer are counted as lost."""
        return self._ring.upper

    @property
    def tradeoff(self) -> float:
        """Abandons currently accepted per idle agent-second a new call is expected to save."""
        return math.exp(self._log_tradeoff)

    @property
    def warmed_up(self) -> bool:
        cfg = self.config
        return (
            len(self._ring) >= cfg.warmup_answered
            and len(self._outcomes) >= cfg.warmup_outcomes
            and len(self._wrap) >= cfg.warmup_answered
        )

    def answer_chance(self, age: float, within: float) -> float:
        """P(a call that has rung ``age`` seconds is answered in the next ``within``)."""
        p, s = self.answer_probability, self._ring.survival
        alive = p * s(age)
        return alive * (1.0 - s(age + within) / s(age)) / (alive + 1.0 - p) if alive else 0.0

    # -- forecast
    def _build_tables(self) -> None:
        step = self.config.forecast_step
        # One step past the horizon, so a call started a step later is forecast to the end.
        self._steps = math.ceil(self.answer_horizon / step) + 2
        ages = self._steps
        steps = range(self._steps + 1)
        self._ring_table = [
            [self.answer_chance((b + 0.5) * step, k * step) for k in steps] for b in range(ages)
        ]
        s = self._ring.survival
        weights = [0.0] + [s((k - 1) * step) - s(k * step) for k in range(1, self._steps + 1)]
        new = [self.answer_chance(0.0, k * step) for k in steps]
        self._new_call = (weights, new)
        # Answers by step k from one call a second started over the next k-1 steps.
        self._later_calls = [step * sum(new[1:k]) for k in steps]
        self._talk_rows.clear()
        self._wrap_rows.clear()
        self._wraps = self._wrap.quantiles(self.config.wrapup_points)
        self._tables_at = self._observations

    def _row_length(self) -> int:
        return self._steps + int(self.config.connect_limit / self.config.forecast_step) + 1

    def _talk_row(self, elapsed: float) -> list[float]:
        """P(talking agent free by step k): talk ends, then a wrap-up of learnt length (its
        quantiles, equally likely), given talk so far; cached per talk-time bin."""
        step = self.config.forecast_step
        key = int(elapsed / 5.0)
        row = self._talk_rows.get(key)
        if row is None:
            base = key * 5.0 + 2.5
            alive, survival = self._talk.survival(base), self._talk.survival
            row = [0.0] * self._row_length()
            if alive:
                for k in range(len(row)):
                    ends = sum(
                        alive - survival(base + k * step - wrap)
                        for wrap in self._wraps
                        if k * step > wrap
                    )
                    row[k] = ends / (alive * len(self._wraps))
            self._talk_rows[key] = row
        return row

    def _wrap_row(self, elapsed: float) -> list[float]:
        """P(an agent whose wrap-up end is unknown is free by step k), given the wrap-up so
        far; none if it already ran longer than any seen. Cached per second of wrap-up."""
        key = int(elapsed)
        row = self._wrap_rows.get(key)
        if row is None:
            base, step = key + 0.5, self.config.forecast_step
            alive, survival = self._wrap.survival(base), self._wrap.survival
            row = [
                1.0 - survival(base + k * step) / alive if alive else 0.0
                for k in range(self._row_length())
            ]
            self._wrap_rows[key] = row
        return row

    def _forecast(self, at: float) -> tuple[list[float], list[float]]:
        """Mean and variance, per step k, of agents available by k + connect limit minus
        answers by k, before any new call."""
        step = self.config.forecast_step
        lag = int(self.config.connect_limit / step)
        width = self._steps + 1
        supply = [float(self.free)] * (width + lag)
        supply_var = [0.0] * (width + lag)
        for state, since, until in self._agents.values():
            if state is AgentState.WRAPUP and until is not None:
                for k in range(max(0, math.ceil((until - at) / step)), width + lag):
                    supply[k] += 1.0
                continue
            if state is AgentState.WRAPUP:
                row = self._wrap_row(at - since)
            elif state is AgentState.TALKING and len(self._talk) >= self.config.warmup_answered:
                row = self._talk_row(at - since)
            else:
                continue
            for k, q in enumerate(row):
                if q:
                    supply[k] += q
                    supply_var[k] += q * (1.0 - q)
        mean = [supply[k + lag] - self.waiting for k in range(width)]
        var = [supply_var[k + lag] for k in range(width)]
        # Calls started on the next ticks with short rings answer before long-ringing ones:
        # the recent dialing rate stands in for them.
        starts, span = self._starts, self.config.dialing_rate_span
        while starts and starts[0] < at - span:
            starts.popleft()
        rate = len(starts) / span
        for k, q in enumerate(self._later_calls):
            mean[k] -= rate * q
            var[k] += rate * q
        table, last = self._ring_table, len(self._ring_table) - 1
        for started in self._ringing.values():
            bucket = int((at - started) / step)
            if bucket > last:
                continue  # rung past the answer horizon: lost
            for k, q in enumerate(table[bucket]):
                mean[k] -= q
                var[k] += q * (1.0 - q)
        return mean, var

    def _call_effect(
        self, mean: list[float], var: list[float], extra: int, delay: int
    ) -> tuple[float, float]:
        """Idle agent-seconds saved and abandons added by one more call started ``delay``
        steps from now, ``extra`` new calls being already decided."""
        weights, new = self._new_call
        step = self.config.forecast_step
        risk = gain = 0.0
        for k in range(1 + delay, self._steps + 1):
            q, w = new[k - delay], weights[k - delay]
            short = _below_one(mean[k] - extra * q, var[k] + extra * q * (1.0 - q))
            risk += w * short
            gain += q * (1.0 - short) * step
        return gain, new[-1] * risk

    def _next_call_worth(self, mean: list[float], var: list[float], extra: int) -> float:
        """Idle agent-seconds per abandon that one more call started now is worth: its own
        ratio, or, when starting it a step later would risk fewer abandons, the ratio of what
        starting now adds to what it risks more."""
        gain, abandons = self._call_effect(mean, var, extra, 0)
        worth = gain / abandons if abandons > 0.0 else math.inf
        later_gain, later_abandons = self._call_effect(mean, var, extra, 1)
        if abandons > later_abandons:
            worth = min(worth, max(gain - later_gain, 0.0) / (abandons - later_abandons))
        return worth

    def calls_to_start(self, at: float) -> int:
        if not self.staffed:
            return 0
        floor = self._progressive()
        cfg = self.config
        cap = max(0, int(cfg.max_dial_level * self.staffed) - self.ringing - self.waiting)
        if not self.warmed_up:
            return min(floor, cap)
        # Guard on the rolling rate, with a few pseudo-calls at target so that one early
        # abandon out of ten answers does not stall the dialer.
        rate = self.window.rate(at)
        prior = self.config.guard_prior_calls
        rate = (rate * self.window.answered + cfg.abandon_target * prior) / (
            self.window.answered + prior
        )
        guard = (cfg.abandon_limit - rate) / cfg.abandon_guard_band
        if guard <= 0.0:
            return min(floor, cap)
        if self._observations - self._tables_at >= 20 or not self._ring_table:
            self._build_tables()
        tradeoff = self.tradeoff * min(guard, 1.0)
        mean, var = self._forecast(at)
        extra = 0
        while extra < cap and self._next_call_worth(mean, var, extra) * tradeoff >= 1.0:
            extra += 1
        return min(max(floor, extra), cap)


def _below_one(mean: float, var: float) -> float:
    """P(X < 1) for an integer-valued X ~ N(mean, var), continuity corrected."""
    if var <= 1e-12:
        return 1.0 if mean < 0.5 else 0.0
    return 0.5 * math.erfc((mean - 0.5) / math.sqrt(2.0 * var))


PACERS: dict[str, Callable[[PacingConfig], Pacer]] = {
    "preview": PreviewPacer,
    "progressive": ProgressivePacer,
    "ratio": RatioPacer,
    "predictive": PredictivePacer,
    "agentless": AgentlessPacer,
}


def make_pacer(mode: str, config: PacingConfig | None = None) -> Pacer:
    """Build the pacer for a dialing ``mode`` (see ``PACERS``)."""
    try:
        factory = PACERS[mode]
    except KeyError:
        raise ValueError(
            f"unknown dialing mode {mode!r}; expected one of {sorted(PACERS)}"
        ) from None
    return factory(config or PacingConfig())
