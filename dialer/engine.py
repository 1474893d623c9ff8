"""The live dialer: running campaigns from the database, calls through AMI, paced by the very
pacer classes the simulation benchmark drives.

Each tick asks every campaign's pacer how many calls to start, claims that many leads (several
dialers may share one PostgreSQL database: claims use SKIP LOCKED) and originates them. The call
tracker turns AMI events into outcomes, which go back to the database with the retry rules.
Campaigns with agents share the outbound queue, so one of them dials at a time (the one started
first); agentless campaigns each have their own lines. Preview leads are called when an agent
asks, agent first (`preview_calls`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from hotline.core import dialplan
from hotline.core.db import DatabaseUnavailable
from hotline.core.dialer_desk import DialerDesk, RunningCampaign
from hotline.core.event_bus import EventBus
from hotline.core.events import (
    AgentConnected,
    AgentMissed,
    AgentPaused,
    AgentStateChanged,
    AttemptFinished,
    OriginatePlaced,
    OutboundAnswered,
)
from hotline.core.leads import LeadClaim
from hotline.core.outcomes import AttemptOutcome
from hotline.core.retry import NextStep
from hotline.core.vocabulary import DialMode, Disposition
from hotline.recordings.names import recording_path

from .abandon_guard import AbandonGuard
from .agent_states import TellingPacer
from .ami_client import AMIActionError, AMIClient, AMIError
from .ami_protocol import AMIMessage
from .call_tracker import Attempt, CallTracker
from .dispositions import REASON_ANSWERED, telling_cause
from .pacing import Pacer, PacingConfig, make_pacer
from .pbx_snapshot import channel_variables, device_of
from .preview_calls import PreviewCalls
from .queue_agents import QueueAgents, RingNoAnswer
from .queue_events import agent_namer

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")
Runner = Callable[..., Awaitable[Any]]

AGENT_MODES = (DialMode.PROGRESSIVE, DialMode.PREDICTIVE)
RING_NO_ANSWER = "ring-no-answer"  # QueuePause reason for an agent who let a call ring out
# The Originate's variables a restarted dialer reads off a call to follow it again.
ADOPTING = (dialplan.CALL_ID, dialplan.LEAD_ID, dialplan.CAMPAIGN_ID, dialplan.RECORDING)
CHANNEL_UP = "6"  # CoreShowChannel's ChannelState of an answered channel (AST_STATE_UP)


@dataclass(frozen=True)
class DialerConfig:
    channel_template: str = "PJSIP/{number}@trunk"
    agent_channel_template: str = "PJSIP/agent{agent}"  # an extension's phone, as pjsip.conf ships
    ring_timeout_seconds: float = 25.0
    poll_seconds: float = 1.0
    lead_refresh_seconds: float = 30.0
    agent_queue: str = dialplan.QUEUE_OUTBOUND
    caller_id: str | None = None
    recordings_dir: Path | None = None  # where Asterisk records answered calls; None: not at all
    pacing: PacingConfig = field(default_factory=PacingConfig)


class Dialer:
    def __init__(
        self,
        config: DialerConfig,
        ami: AMIClient,
        desk: DialerDesk,
        run: Runner,
        clock: Callable[[], datetime],
        reactor: Any,
        events: EventBus | None = None,
    ) -> None:
        self.config, self.ami, self.desk = config, ami, desk
        self.run, self.clock = run, clock
        self.tracker = CallTracker(
            clock, self, ami.field_errors, agent_namer(config.agent_channel_template)
        )
        # One pacer per agent mode, both told about the shared queue's agents.
        self.agent_pacers = {m: make_pacer(m, config.pacing) for m in AGENT_MODES}
        self.queue_agents = [
            QueueAgents(config.agent_queue, TellingPacer(p, self._agent_state), self._seconds)
            for p in self.agent_pacers.values()
        ]
        self.ring_no_answer = RingNoAnswer(config.agent_queue, self._pause_agent)
        self.abandon_guard = AbandonGuard(config.pacing.abandon_limit)
        self.line_pacers: dict[int, Pacer] = {}  # agentless campaigns
        self._pacer_of: dict[str, Pacer] = {}
        self._refreshed: dict[int, datetime] = {}
        self.preview = PreviewCalls(self)
        # Outcomes not stored yet (the DB refused them); None: a preview call's agent missed it.
        self._unrecorded: list[tuple[Attempt, Disposition | None]] = []
        self._busy = False
        self._recording = False
        self._loop = LoopingCall(self._tick)
        self._loop.clock = reactor
        self.on_state: Callable[[Dialer], None] | None = None  # metrics, after each tick
        self.events = events or EventBus()  # the service's one bus
        self._agent_states: dict[str, str] = {}  # as last published

    def _seconds(self) -> float:
        return self.clock().timestamp()

    def _agent_state(self, agent: str, state: str) -> None:
        # Each agent pacer's QueueAgents reports the same member: publish changes once.
        if self._agent_states.get(agent) != state:
            self._agent_states[agent] = state
            self.events.publish(
                AgentStateChanged(
                    agent=agent, queue=self.config.agent_queue, state=state, at=self.clock()
                )
            )

    # lifecycle
    def start(self) -> None:
        """Dial from now on. Whoever starts the dialer runs `reconcile` at each AMI (re)connect
        (the service does, before its PBX snapshot names the calls in progress)."""
        self.ami.on_any(self._on_event)
        self._loop.start(self.config.poll_seconds, now=False)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    async def reconcile(self) -> None:
        """After (re)connecting: follow again our calls still up at the PBX that this process
        did not place (it restarted), settle calls that ended while AMI was away, give back
        leads no call carries, and learn the agents' state afresh. Nobody is dialled twice: a
        call still up keeps its lead claimed."""
        channels = await self.ami.core_show_channels()
        await self._adopt(channels.events)
        live = {m.get("Linkedid") or "" for m in channels.events}
        for attempt in self.tracker.in_flight():
            self.tracker.settle(attempt, live)
        # The settled outcomes land before any claim is given back, so their leads follow the
        # retry rules instead of being dialled again at once.
        await self._record_unrecorded()
        known = {a.call_id for a in self.tracker.in_flight()}
        known |= {attempt.call_id for attempt, _ in self._unrecorded}
        released = await self.run(self.desk.release, known, self.clock())
        if released:
            log.info(
                "dialer %s: %d lead(s) back to ready after reconnect",
                self.desk.worker,
                len(released),
            )
        status = await self.ami.queue_status(self.config.agent_queue)
        for event in getattr(status, "events", ()):
            self._on_event(event)

    async def _adopt(self, channels: Sequence[AMIMessage]) -> None:
        """Our campaign calls among ``channels`` (CoreShowChannel events) that the tracker does
        not follow: each call's first channel (the Originate's) carries the variables it set,
        read with Status; those naming an attempt this worker left unsettled are followed again.
        Answered ones count as answered now (the moment before the restart is not known), one
        bridged with an agent as connected to that agent."""
        legs: dict[str, list[AMIMessage]] = {}
        for m in channels:
            legs.setdefault(m.get("Linkedid") or "", []).append(m)
        named: dict[str, tuple[AMIMessage, dict[str, str]]] = {}
        for linkedid, up in legs.items():
            first = next((m for m in up if m.get("Uniqueid") == linkedid), None)
            if not linkedid or first is None or self.tracker.call_of(linkedid) is not None:
                continue
            try:
                status = await self.ami.status(first.get("Channel") or "", ADOPTING)
            except AMIActionError:  # "No such channel": it hung up since the listing
                continue
            variables = channel_variables(status, ADOPTING)
            call_id = variables.get(dialplan.CALL_ID)
            if call_id is None or dialplan.LEAD_ID not in variables:
                continue
            ours = self.tracker.calls.get(call_id)
            if ours is not None:
                # Placed by this process, but its channels came while AMI was away: linked
                # now, else the reconcile below would take it for ended.
                self._follow(ours, first, up, channels)
                continue
            named[call_id] = (first, variables)
        if not named:
            return
        found = await self.run(self.desk.in_flight, set(named))
        for a in found:
            first, variables = named[a.call_id]
            linkedid = first.get("Linkedid") or ""
            attempt = Attempt(
                a.call_id,
                a.lead_id,
                a.campaign_id,
                a.number or "",
                a.mode in AGENT_MODES,
                queued_at=a.queued_at or self.clock(),
                dialled_at=a.queued_at,
                variables=variables,
                channel=first.get("Channel"),
                uniqueid=linkedid,
            )
            self._follow(attempt, first, legs[linkedid], channels)
        log.info("dialer %s: %d call(s) in progress followed again", self.desk.worker, len(found))

    def _follow(
        self,
        attempt: Attempt,
        first: AMIMessage,
        legs: list[AMIMessage],
        channels: Sequence[AMIMessage],
    ) -> None:
        """The tracker follows ``attempt`` on its channels ``legs``, answered if its first is
        up (and connected, if bridged with an agent), as of now."""
        now = self.clock()
        up = first.get("ChannelState") == CHANNEL_UP
        # An agent-first call's first channel is the agent's: its answer is not the resident's.
        if up and attempt.reason is None and not attempt.agent_first:
            attempt.reason, attempt.answered_at = REASON_ANSWERED, attempt.answered_at or now
            agent = self._bridged_agent(first, legs, channels)
            if agent is not None and attempt.connected_at is None:
                attempt.connected_at, attempt.agent_interface = now, agent
                attempt.agent = self.tracker.agent_name(agent)
        self.tracker.adopt(attempt, first.get("Linkedid") or "", len(legs))

    @staticmethod
    def _bridged_agent(
        first: AMIMessage, legs: list[AMIMessage], channels: Sequence[AMIMessage]
    ) -> str | None:
        """The device of a channel bridged with the call's (the queue's agent), if any: the
        resident's own device (both halves of a Local channel) is not the agent's."""
        resident = device_of(first.get("Channel") or "")
        bridges = {m.get("BridgeId") for m in legs if m.get("BridgeId")}
        for m in channels:
            device = device_of(m.get("Channel") or "")
            if m.get("BridgeId") in bridges and device != resident:
                return device
        return None

    # the tick
    async def _tick(self) -> None:
        if self._busy or not self.ami.connected:
            return
        self._busy = True
        try:
            self.tracker.expire()
            await self._record_unrecorded()
            campaigns = await self.run(self.desk.running_campaigns)
            for campaign in campaigns:
                await self._refresh_leads(campaign)
            for agents in self.queue_agents:
                agents.expire_wrapups()
            for campaign, pacer in self._dialling(campaigns):
                wanted = pacer.calls_to_start(self._seconds())
                if wanted > 0:
                    claims = await self.run(self.desk.claim, campaign.id, wanted, self.clock())
                    for claim in claims:
                        self._dial(claim, campaign, pacer)
            await self.preview.place_requested()
            if self.on_state is not None:
                self.on_state(self)
        except DatabaseUnavailable as exc:
            log.warning("dialer: %s; calls in progress go on, no new ones", exc)
        except Exception:
            # A tick that breaks must not stop the dialer: log it, try again next tick.
            log.exception("dialer: tick failed")
        finally:
            self._busy = False

    def _dialling(self, campaigns: list[RunningCampaign]) -> list[tuple[RunningCampaign, Pacer]]:
        with_agents = [c for c in campaigns if c.mode in AGENT_MODES]
        chosen = []
        if with_agents:
            first = min(with_agents, key=lambda c: (c.started_at or self.clock(), c.id))
            pacer = self._agent_pacer(first.mode)
            if pacer is not None:
                chosen.append((first, pacer))
        for c in campaigns:
            if c.mode == DialMode.AGENTLESS:
                pacer = self.line_pacers.get(c.id)
                if pacer is None:
                    pacer = self.line_pacers[c.id] = make_pacer(c.mode, self.config.pacing)
                chosen.append((c, pacer))
        return chosen

    def _agent_pacer(self, mode: DialMode) -> Pacer | None:
        """Above the abandon limit a predictive campaign is paced progressively, once the
        calls its predictive pacer placed have ended (None until then)."""
        predictive = self.agent_pacers[DialMode.PREDICTIVE]
        if mode != DialMode.PREDICTIVE or not self.abandon_guard.holds(self._seconds()):
            return self.agent_pacers[mode]
        if any(pacer is predictive for pacer in self._pacer_of.values()):
            return None
        return self.agent_pacers[DialMode.PROGRESSIVE]

    async def _refresh_leads(self, campaign: RunningCampaign) -> None:
        now = self.clock()
        last = self._refreshed.get(campaign.id)
        if last is not None and (now - last).total_seconds() < self.config.lead_refresh_seconds:
            return
        self._refreshed[campaign.id] = now
        added = await self.run(self.desk.generate, campaign.id, now)
        if added:
            log.info("campaign %d: %d new lead(s)", campaign.id, added)

    # placing calls
    def call_variables(self, claim: LeadClaim) -> dict[str, str]:
        """The channel variables every Originate sets (asterisk-conf/extensions.conf)."""
        variables = {
            dialplan.CALL_ID: claim.call_id,
            dialplan.LEAD_ID: str(claim.lead_id),
            dialplan.CAMPAIGN_ID: str(claim.campaign_id),
            dialplan.CAMPAIGN_KIND: claim.kind,
            "CHANNEL(language)": claim.lang,
        }
        if self.config.recordings_dir is not None:
            # The dialplan's MixMonitor records the call once answered (asterisk-conf).
            variables[dialplan.RECORDING] = str(
                recording_path(self.config.recordings_dir / "calls", claim.call_id, ".wav")
            )
        return variables

    def _dial(self, claim: LeadClaim, campaign: RunningCampaign, pacer: Pacer) -> None:
        with_agent = campaign.mode in AGENT_MODES
        variables = self.call_variables(claim)
        attempt = Attempt(
            claim.call_id,
            claim.lead_id,
            claim.campaign_id,
            claim.number,
            with_agent,
            queued_at=self.clock(),
            variables=variables,
        )
        self.tracker.dialled(attempt)
        self._pacer_of[claim.call_id] = pacer
        pacer.call_started(claim.call_id, self._seconds())
        self.placed(claim, campaign.mode)
        self.originate(
            self.config.channel_template.format(number=claim.number),
            dialplan.AGENT_CONTEXT if with_agent else dialplan.FLOW_CONTEXT,
            variables,
            claim.call_id,
        )

    def placed(self, claim: LeadClaim, mode: str, agent: str | None = None) -> None:
        """Tell the bus a call to `claim`'s resident is about to be originated."""
        self.events.publish(
            OriginatePlaced(
                call_id=claim.call_id,
                number=claim.number,
                lead_id=claim.lead_id,
                campaign_id=claim.campaign_id,
                campaign_kind=claim.kind,
                mode=mode,
                resident=claim.resident_name,
                unit=claim.unit,
                agent=agent,
            )
        )

    def originate(
        self, channel: str, context: str, variables: dict[str, str], call_id: str
    ) -> None:
        """Originate into `context`,s,1 under the call's id; the tracker follows it."""
        d = self.ami.originate(
            channel,
            context,
            "s",
            1,
            variables=variables,
            timeout_ms=int(self.config.ring_timeout_seconds * 1000),
            caller_id=self.config.caller_id,
            action_id=call_id,
        )
        d.addErrback(self._originate_failed, call_id)

    def _originate_failed(self, failure: Failure, call_id: str) -> None:
        if failure.check(AMIActionError):
            self.tracker.refused(call_id)
        elif failure.check(AMIError):
            # The link dropped with the Originate in the air: reconcile decides once it is back.
            log.warning("dialer: originate %s not confirmed: %s", call_id, failure.value)
        else:
            failure.raiseException()

    # what the tracker reports
    def answered(self, attempt: Attempt) -> None:
        pacer = self._pacer_of.get(attempt.call_id)  # none for preview calls
        if pacer is not None:
            pacer.call_answered(attempt.call_id, self._seconds())
        self.events.publish(OutboundAnswered(call_id=attempt.call_id, number=attempt.number))

    def connected(self, attempt: Attempt) -> None:
        agent = attempt.agent_interface or attempt.agent or "agent"
        pacer = self._pacer_of.get(attempt.call_id)
        if pacer is not None:
            pacer.call_connected(attempt.call_id, agent, self._seconds())
        self.events.publish(AgentConnected(call_id=attempt.call_id, agent=attempt.agent or agent))

    def finished(self, attempt: Attempt, outcome: Disposition) -> None:
        pacer, now = self._pacer_of.pop(attempt.call_id, None), self._seconds()
        if pacer is not None:
            if outcome is Disposition.ABANDONED:
                pacer.call_abandoned(attempt.call_id, now)
            elif attempt.answered_at is None:
                pacer.call_not_answered(attempt.call_id, now)
            pacer.call_ended(attempt.call_id, now)
        if attempt.expect_agent and attempt.answered_at is not None:
            self.abandon_guard.picked_up(now, abandoned=outcome is Disposition.ABANDONED)
        self._record_later(attempt, outcome)

    def _pause_agent(self, interface: str) -> None:
        log.warning(
            "dialer: %s let a call ring out (%d so far): paused in queue %s",
            interface,
            self.ring_no_answer.missed[interface],
            self.config.agent_queue,
        )
        queue = self.config.agent_queue
        self.events.publish(AgentPaused(agent=interface, queue=queue, reason=RING_NO_ANSWER))
        d = self.ami.queue_pause(interface, True, queue=queue, reason=RING_NO_ANSWER)
        d.addErrback(self._log_failure, f"pause of {interface}")

    def agent_missed(self, attempt: Attempt) -> None:
        self._record_later(attempt, None)

    def _record_later(self, attempt: Attempt, outcome: Disposition | None) -> None:
        self._unrecorded.append((attempt, outcome))
        Deferred.fromCoroutine(self._record_unrecorded()).addErrback(self._log_failure, "record")

    async def _record_unrecorded(self) -> None:
        """Store outcomes in order, one writer at a time; while the database is down they stay
        queued for the next tick."""
        if self._recording:
            return
        self._recording = True
        try:
            while self._unrecorded:
                attempt, outcome = self._unrecorded[0]
                try:
                    step = await self.run(self._record, attempt, outcome)
                except DatabaseUnavailable:
                    return
                except Exception:
                    log.exception("dialer: outcome of call %s not recorded", attempt.call_id)
                else:
                    self._report(attempt, outcome, step)
                self._unrecorded.pop(0)
        finally:
            self._recording = False

    def _report(self, attempt: Attempt, outcome: Disposition | None, step: NextStep) -> None:
        if outcome is None:  # not an attempt: live views and metrics count no call
            self.events.publish(AgentMissed(call_id=attempt.call_id, agent=attempt.agent))
        else:
            self.events.publish(
                AttemptFinished(
                    call_id=attempt.call_id, disposition=outcome.value, next_step=step.text
                )
            )

    def _record(self, attempt: Attempt, outcome: Disposition | None) -> NextStep:
        if outcome is None:
            return self.preview.record_agent_missed(attempt)
        result = AttemptOutcome(
            call_id=attempt.call_id,
            disposition=outcome.value,
            queued_at=attempt.queued_at,
            ended_at=attempt.ended_at or self.clock(),
            hangup_cause=telling_cause(attempt.causes),
            dialled_at=attempt.dialled_at,
            answered_at=attempt.answered_at,
            connected_at=attempt.connected_at,
            agent=attempt.agent,
            number=attempt.number,
            channel=attempt.channel,
            uniqueid=attempt.uniqueid,
            recording=attempt.variables.get(dialplan.RECORDING) if attempt.answered_at else None,
            lost=attempt.lost_during_outage,
        )
        request_id = attempt.info["request_id"] if attempt.agent_first else None
        step = self.desk.record(attempt.lead_id, result, self.clock(), request_id)
        log.info("call %s to %s: %s, then %s", attempt.call_id, attempt.number, outcome, step.text)
        return step

    # events
    def _on_event(self, msg: AMIMessage) -> None:
        self.tracker.on_event(msg)
        for agents in self.queue_agents:
            agents.on_event(msg)
        self.ring_no_answer.on_event(msg)

    @staticmethod
    def _log_failure(failure: Failure, what: str) -> None:
        log.error("dialer %s failed: %s", what, failure.getTraceback())
