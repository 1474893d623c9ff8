"""The centre's live figures as Prometheus metrics, kept in a registry of their own.

Inputs, all cheap enough for the reactor thread:
- ``metrics.observer``: FastAGI server hooks (active calls, AGI command turnaround);
- ``metrics.subscribe(bus)``: the typed events of the flows and the dialer (answers, keypad
  choices, tickets, endings, outbound attempts), from the service's event bus;
- plain methods for the AMI client, the dialer and the recordings worker (thread-safe, as every
  prometheus-client metric is);
- ``show_db_figures``: the rule gauges' figures (``core/figures.py``, blocking SQL run off the
  reactor).

Served by ``hotline.metrics_http``; wired into the service by ``hotline.metrics_service``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hotline.agi.errors import ChannelHungUp
from hotline.agi.protocol import AGIEnvironment, AGIResponse
from hotline.agi.server import DROP_REASONS, AGIObserver
from hotline.core.event_bus import EventBus
from hotline.core.events import (
    AttemptFinished,
    CallAnswered,
    CallArrived,
    CallEnded,
    MenuChoice,
    ReportFiled,
)
from hotline.core.figures import DbFigures
from hotline.core.policy import AnswerPolicy
from hotline.settings import Settings

# Answer delay buckets end on ring boundaries: 5, 10, 15, 20 s with the China cadence.
RING_BUCKETS = 4
RINGS_BUCKETS = (0, 1, 2, 3, 4, 5, 6)
# What the PBX takes to answer a command; media commands (prompts, recordings) land in +Inf.
AGI_COMMAND_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
AGENT_STATES = ("idle", "talking", "wrapup")
# How the inbound flow ends a call (Visit.close), created at zero so rate() sees the first one.
INBOUND_DISPOSITIONS = ("completed", "to_agent", "caller_hangup", "failed", "interrupted")

# AGI commands are one, two or three words (res_agi's command table); the rest are arguments.
_TWO_WORD_VERBS = frozenset(
    {"ASYNCAGI", "CHANNEL", "CONTROL", "DATABASE", "GET", "RECEIVE", "RECORD", "SAY", "SEND"}
    | {"SET", "SPEECH", "STREAM", "TDD", "WAIT"}
)
_THREE_WORD_STARTS = frozenset(
    {"GET FULL", "WAIT FOR", "CONTROL STREAM"}
    | {"SPEECH ACTIVATE", "SPEECH DEACTIVATE", "SPEECH LOAD", "SPEECH UNLOAD"}
)


@lru_cache(maxsize=512)  # a flow sends the same few lines over and over: parsed once each
def agi_command_name(line: str) -> str:
    """``STREAM FILE hotline/welcome ""`` -> ``STREAM FILE``: a label of bounded cardinality."""
    words = line.split(" ", 3)
    if not words[0].isalpha() or not words[0].isupper():
        return "OTHER"
    if words[0] not in _TWO_WORD_VERBS or len(words) < 2:
        return words[0]
    count = 3 if " ".join(words[:2]) in _THREE_WORD_STARTS else 2
    return " ".join(words[:count])


@dataclass
class _Call:
    direction: str
    observed: bool = False  # the FastAGI observer saw it start (and will see it end)
    command: str = "OTHER"  # the command awaiting its response
    ended: bool = False  # the flow reported how it ended
    ticket_counted: bool = False  # a flow files its report again as it grows: count it once


class Metrics:
    def __init__(
        self,
        *,
        answer: AnswerPolicy | None = None,
        late_answer_alert_ratio: float = 0.05,
        abandon_limit: float = 0.03,
        fastagi_max_connections: int = 1500,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.answer = answer or AnswerPolicy()
        self.registry = registry or CollectorRegistry()
        self.observer = MetricsObserver(self)
        self._calls: dict[str, _Call] = {}
        # Each command's histogram child, found once: `labels()` costs a lock and a key each time.
        self._command_histograms: dict[str, Histogram] = {}
        r = self.registry
        cycle = self.answer.ring_cycle_seconds

        # calls -------------------------------------------------------------------------------
        self.calls = Counter(
            "hotline_calls",
            "Calls ended, by direction and disposition",
            ["direction", "disposition"],
            registry=r,
        )
        self.active_calls = Gauge(
            "hotline_active_calls", "Calls in a call flow now", ["direction"], registry=r
        )
        self.answer_delay = Histogram(
            "hotline_answer_delay_seconds",
            "Inbound calls: seconds from arrival to answer (bucket edges on ring boundaries)",
            buckets=[cycle * n for n in range(1, RING_BUCKETS + 1)],
            registry=r,
        )
        self.rings = Histogram(
            "hotline_rings_before_answer",
            "Inbound calls: ring bursts heard before the answer",
            buckets=RINGS_BUCKETS,
            registry=r,
        )
        self.answered_late = Counter(
            "hotline_calls_answered_late",
            f"Inbound calls answered after ring {self.answer.max_rings} (service rules §1)",
            registry=r,
        )
        self.late_answer_alert_ratio = Gauge(
            "hotline_late_answer_alert_ratio",
            "Setting metrics.late_answer_alert_ratio: the late-answer share that raises an alert",
            registry=r,
        )
        self.agi_command_seconds = Histogram(
            "hotline_agi_command_seconds",
            "AGI command turnaround: command sent to response",
            ["command"],
            buckets=AGI_COMMAND_BUCKETS,
            registry=r,
        )
        self.fastagi_connections = Gauge(
            "hotline_fastagi_connections", "FastAGI connections open now", registry=r
        )
        self.fastagi_max_connections = Gauge(
            "hotline_fastagi_max_connections", "Setting fastagi.max_connections", registry=r
        )
        self.fastagi_refused = Counter(
            "hotline_fastagi_connections_refused",
            "FastAGI connections closed unserved: fastagi.max_connections were open",
            registry=r,
        )
        self.fastagi_dropped = Counter(
            "hotline_fastagi_connections_dropped",
            "FastAGI connections we closed, by reason (timeouts, endless 520 block, garbage)",
            ["reason"],
            registry=r,
        )
        self.menu_choices = Counter(
            "hotline_menu_choices",
            "Keypad choices in the voice menus (wrong, none: no valid key)",
            ["menu", "choice"],
            registry=r,
        )
        self.tickets = Counter(
            "hotline_tickets",
            "Reports taken by phone, by kind and category",
            ["kind", "category"],
            registry=r,
        )
        self.intakes_spooled = Counter(
            "hotline_intakes_spooled",
            "Reports and call records spooled: database down",
            registry=r,
        )
        self.intakes_replayed = Counter(
            "hotline_intakes_replayed",
            "Spooled records stored once the database returned",
            registry=r,
        )
        self.intakes_set_aside = Counter(
            "hotline_intakes_set_aside",
            "Spool entries that can never be stored (torn, refused), moved to intakes.bad",
            registry=r,
        )
        self.intakes_lost = Counter(
            "hotline_intakes_lost",
            "Reports or call records neither the database nor the spool could keep",
            registry=r,
        )
        self.spool_depth = Gauge(
            "hotline_spool_depth", "Entries in the spool waiting for the database", registry=r
        )
        self.calls_interrupted = Counter(
            "hotline_calls_interrupted",
            "Calls a stop cut off (of this instance or a dead one), settled as interrupted",
            registry=r,
        )

        # AMI and the dialer ---------------------------------------------------------------------
        self.ami_up = Gauge("hotline_ami_connected", "1 while logged in to the AMI", registry=r)
        self.ami_reconnects = Counter(
            "hotline_ami_reconnects", "AMI connections re-established", registry=r
        )
        self.ami_field_errors = Counter(
            "hotline_ami_field_errors",
            "AMI event fields that did not parse, by event and field (e.g. Hangup.Cause)",
            ["kind"],
            registry=r,
        )
        self.dialer_ringing = Gauge(
            "hotline_dialer_calls_ringing", "Outbound calls ringing now", registry=r
        )
        self.dialer_level = Gauge(
            "hotline_dialer_dial_level", "Ringing calls per staffed agent", registry=r
        )
        self.dialer_abandon = Gauge(
            "hotline_dialer_abandon_ratio",
            "Rolling abandoned / answered outbound calls",
            registry=r,
        )
        self.dialer_abandon_limit = Gauge(
            "hotline_dialer_abandon_limit",
            "Setting dialer.abandon_limit: the abandon ratio outbound calls must stay under",
            registry=r,
        )
        self.dialer_agents = Gauge(
            "hotline_dialer_agents", "Dialer agents by state", ["state"], registry=r
        )
        self.dialer_ring_outs = Gauge(
            "hotline_dialer_agent_ring_outs",
            "Outbound calls the agent let ring out since the service started (each paused them)",
            ["agent"],
            registry=r,
        )
        self.leads_waiting_gauge = Gauge(
            "hotline_dialer_leads_waiting",
            "Leads ready to dial, by campaign kind",
            ["campaign_kind"],
            registry=r,
        )

        # the rules, from the database --------------------------------------------------------
        self.followups_due = Gauge(
            "hotline_followups_due",
            "Follow-up calls not made, deadline later today (site time), not yet passed",
            registry=r,
        )
        self.followups_overdue = Gauge(
            "hotline_followups_overdue", "Follow-up calls not made, deadline passed", registry=r
        )
        self.complaints_unescalated = Gauge(
            "hotline_complaints_unescalated_overdue",
            "Complaints not handed to a supervisor, past the escalation deadline (1 h)",
            registry=r,
        )
        self.arrears = Gauge(
            "hotline_arrears_accounts",
            "Unpaid arrears accounts by reminder stage",
            ["stage"],
            registry=r,
        )

        # recordings ----------------------------------------------------------------------------
        self.recordings_backlog = Gauge(
            "hotline_recordings_backlog", "Recordings waiting for conversion", registry=r
        )
        self.conversion_failures = Counter(
            "hotline_recording_conversion_failures",
            "Recordings whose conversion failed",
            registry=r,
        )

        self.late_answer_alert_ratio.set(late_answer_alert_ratio)
        self.dialer_abandon_limit.set(abandon_limit)
        self.fastagi_max_connections.set(fastagi_max_connections)
        for direction in ("in", "out"):
            self.active_calls.labels(direction)
        for disposition in INBOUND_DISPOSITIONS:
            self.calls.labels("in", disposition)
        for state in AGENT_STATES:
            self.dialer_agents.labels(state)
        for reason in DROP_REASONS:
            self.fastagi_dropped.labels(reason)

    @classmethod
    def from_settings(cls, settings: Settings) -> Metrics:
        return cls(
            answer=settings.answer,
            late_answer_alert_ratio=settings.metrics.late_answer_alert_ratio,
            abandon_limit=settings.dialer.abandon_limit,
            fastagi_max_connections=settings.fastagi.max_connections,
        )

    # the event bus (reactor thread) --------------------------------------------------------
    def subscribe(self, bus: EventBus) -> None:
        """Count what the flows and the dialer publish on the service's bus."""
        bus.subscribe(self._call_arrived, (CallArrived,))
        bus.subscribe(self._call_answered, (CallAnswered,))
        bus.subscribe(self._menu_choice, (MenuChoice,))
        bus.subscribe(self._report_filed, (ReportFiled,))
        bus.subscribe(self._flow_ended, (CallEnded,))
        bus.subscribe(self._attempt_finished, (AttemptFinished,))

    def _attempt_finished(self, event: AttemptFinished) -> None:
        """Every outbound attempt is counted here, by its disposition (an outbound call flow's
        own end is not counted again)."""
        self.call_finished("out", event.disposition)

    def _call_arrived(self, event: CallArrived) -> None:
        # Without a FastAGI observer (classic AGI) the call is kept here till its flow ends.
        self._calls.setdefault(event.call_id, _Call(event.direction))

    def _call_answered(self, event: CallAnswered) -> None:
        if event.direction != "in" or event.rings is None or event.arrived_at is None:
            return  # the uniqueid did not say when the call arrived (Visit.answer)
        waited = (event.answered_at - event.arrived_at).total_seconds()
        self.answer_delay.observe(max(waited, 0.0))
        self.rings.observe(event.rings)
        if event.rings > self.answer.max_rings:
            self.answered_late.inc()

    def _menu_choice(self, event: MenuChoice) -> None:
        self.menu_choices.labels(event.menu, event.choice).inc()

    def _report_filed(self, event: ReportFiled) -> None:
        call = self._calls.get(event.call_id)
        if call is not None:
            if call.ticket_counted:  # a flow files its report again as it grows
                return
            call.ticket_counted = True
        self.tickets.labels(event.kind, event.category).inc()

    def _flow_ended(self, event: CallEnded) -> None:
        if event.direction == "in":
            self.call_finished(event.direction, event.disposition)
        call = self._calls.get(event.call_id)
        if call is not None:
            call.ended = True
            if not call.observed:
                del self._calls[event.call_id]

    # FastAGI server hooks (reactor thread, via MetricsObserver) -------------------------------
    def _call_started(self, env: AGIEnvironment) -> None:
        self._calls[env.call_id] = _Call(env.direction, observed=True)
        self.active_calls.labels(env.direction).inc()

    def _command_sent(self, env: AGIEnvironment, line: str) -> None:
        call = self._calls.get(env.call_id)
        if call is not None:
            call.command = agi_command_name(line)

    def _response_received(self, env: AGIEnvironment, seconds: float) -> None:
        call = self._calls.get(env.call_id)
        command = call.command if call is not None else "OTHER"
        histogram = self._command_histograms.get(command)
        if histogram is None:
            histogram = self._command_histograms[command] = self.agi_command_seconds.labels(command)
        histogram.observe(seconds)

    def _call_ended(self, env: AGIEnvironment, error: BaseException | None) -> None:
        call = self._calls.pop(env.call_id, None)
        if call is None:
            return
        self.active_calls.labels(call.direction).dec()
        if not call.ended and call.direction == "in":  # the flow never got to say
            if error is None:
                disposition = "completed"
            else:
                disposition = "caller_hangup" if isinstance(error, ChannelHungUp) else "failed"
            self.call_finished(call.direction, disposition)

    # plain methods for the AMI client, the dialer, the intake desk and the recordings worker --
    def call_finished(self, direction: str, disposition: str) -> None:
        """A call ended. The dialer reports here only the calls that never reached a flow
        (no answer, busy, rejected...): flows report their own."""
        self.calls.labels(direction, disposition).inc()

    def ami_connected(self, connected: bool) -> None:
        """The AMI client logged in (True) or lost its connection (False)."""
        self.ami_up.set(1 if connected else 0)

    def ami_reconnected(self) -> None:
        """A lost AMI connection was re-established (not the first login)."""
        self.ami_reconnects.inc()

    def ami_field_error(self, kind: str) -> None:
        """An AMI event field of this kind (``Event.Field``) did not parse."""
        self.ami_field_errors.labels(kind).inc()

    def dialer_state(
        self,
        ringing: int,
        dial_level: float,
        abandon_ratio: float,
        agents_idle: int,
        agents_talking: int,
        agents_wrapup: int,
    ) -> None:
        """The pacer's view after each tick: calls ringing, dial level, rolling abandon ratio
        (abandoned / answered) and agents by state."""
        self.dialer_ringing.set(ringing)
        self.dialer_level.set(dial_level)
        self.dialer_abandon.set(abandon_ratio)
        for state, n in zip(
            AGENT_STATES, (agents_idle, agents_talking, agents_wrapup), strict=True
        ):
            self.dialer_agents.labels(state).set(n)

    def agent_ring_outs(self, missed: Mapping[str, int]) -> None:
        """Per agent interface, the delivered calls that rang out (dialer/queue_agents.py)."""
        for agent, n in missed.items():
            self.dialer_ring_outs.labels(agent).set(n)

    def leads_waiting(self, kind: str, n: int) -> None:
        """Leads of campaigns of this kind ready to dial now."""
        self.leads_waiting_gauge.labels(kind).set(n)

    def conversion_failed(self, n: int = 1) -> None:
        """``n`` recordings failed to convert (their WAVs are kept; the index says why)."""
        self.conversion_failures.inc(n)

    def spooled(self) -> None:
        """A report or call record went to the spool: the database was down."""
        self.intakes_spooled.inc()

    def replayed(self, n: int) -> None:
        """``n`` spooled records were stored after the database returned."""
        self.intakes_replayed.inc(n)

    def set_aside(self, n: int) -> None:
        """``n`` spool entries could never be stored: moved to intakes.bad for a person."""
        self.intakes_set_aside.inc(n)

    def lost(self) -> None:
        """Neither the database nor the spool could keep a report or call record."""
        self.intakes_lost.inc()

    def interrupted(self, n: int) -> None:
        """``n`` calls a stop of the service cut off were settled as interrupted."""
        self.calls_interrupted.inc(n)

    # the database gauges ---------------------------------------------------------------------
    def show_db_figures(self, figures: DbFigures) -> None:
        self.followups_due.set(figures.followups_due)
        self.followups_overdue.set(figures.followups_overdue)
        self.complaints_unescalated.set(figures.complaints_unescalated_overdue)
        for stage, n in figures.arrears_by_stage.items():
            self.arrears.labels(stage).set(n)
        self.recordings_backlog.set(figures.recordings_backlog)
        for kind, n in figures.leads_waiting.items():
            self.leads_waiting(kind, n)


class MetricsObserver(AGIObserver):
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def call_started(self, env: AGIEnvironment) -> None:
        self._metrics._call_started(env)

    def command_sent(self, env: AGIEnvironment, line: str) -> None:
        self._metrics._command_sent(env, line)

    def response_received(self, env: AGIEnvironment, response: AGIResponse, seconds: float) -> None:
        self._metrics._response_received(env, seconds)

    def call_ended(self, env: AGIEnvironment, error: BaseException | None) -> None:
        self._metrics._call_ended(env, error)

    def connections_open(self, n: int) -> None:
        self._metrics.fastagi_connections.set(n)

    def connection_refused(self) -> None:
        self._metrics.fastagi_refused.inc()

    def connection_dropped(self, reason: str) -> None:
        self._metrics.fastagi_dropped.labels(reason).inc()
