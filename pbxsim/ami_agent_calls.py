"""Agent-first (preview) calls in the simulated PBX: an Originate to an agent's phone into
``[dialer-preview]``, whose ``Dial(${HOTLINE_DIAL},25)`` rings the resident once the agent answers.

The resident's leg is a ``Local/`` pair in the agent's call (same Linkedid) played by the
resident's plan as an Originate's would be, except that Dial() reports it: DialBegin, DialState
and DialEnd carry the agent's channel before the ``Dest`` one (as the queue's Dial does in
ami-11), and the outcome is DialEnd's DialStatus instead of an OriginateResponse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hotline.core import dialplan
from hotline.dialer.ami_protocol import Header
from hotline.pbxsim.ami_calls import (
    REASON_ANSWERED,
    REASON_FAILED,
    REASON_HANGUP,
    REASON_NO_ANSWER,
    OutboundCall,
)
from hotline.pbxsim.ami_channels import CALLING_PRES, Channel
from hotline.pbxsim.ami_pbx import PBX, OriginateRequest
from hotline.pbxsim.ami_residents import AgentPlan

if TYPE_CHECKING:
    from collections.abc import Callable

    from hotline.pbxsim.ami_residents import ResidentPlan

DIAL_TIMEOUT_S = float(dialplan.PREVIEW_DIAL_TIMEOUT_S)


class AgentFirstCall(OutboundCall):
    """The agent's channel: rings, answers (OriginateResponse Success) or rings out (Failure,
    Reason 3), then runs ``[dialer-preview]`` and hangs up when Dial() returns."""

    def __init__(self, sim: PBX, req: OriginateRequest, respond: Callable[[bool], None]) -> None:
        super().__init__(sim, req, respond)
        self.plan = sim.agents.get(req.dial, AgentPlan())
        self.leg: ResidentLeg | None = None
        self.priority = 1
        self.agent_hung_up = False

    def start(self) -> None:
        sim, req = self.sim, self.req
        agent = self.one = sim.new_channel(req.dial, dialplan.AGENT_PHONES_CONTEXT, "s")
        self.register()
        sim.channel_event("Newchannel", "call", agent)
        # As on a Local ;1: Asterisk sets the Originate's variables in reverse order.
        for key, value in reversed(req.variables):
            self.set_var(agent, key, value)
        agent.cid_num, agent.cid_name = self.cid
        sim.channel_event("NewCallerid", "call", agent, ("CID-CallingPres", CALLING_PRES))
        sim.set_state(agent, 5)
        sim.device_state(req.dial, "RINGING")
        if self.plan.answer:
            sim.later(self.plan.ring_s, self.agent_answers)
        else:
            self.timeout_call = sim.later(req.timeout_s, self.agent_rang_out)

    def agent_rang_out(self) -> None:
        self.timeout_call = None
        if self.done:
            return
        assert self.one
        self.finish()
        self.originate_response(REASON_NO_ANSWER, None)
        self.sim.hangup_channel(self.one, 19)
        self.sim.device_state(self.req.dial, "NOT_INUSE")

    def agent_answers(self) -> None:
        if self.done:
            return
        sim, agent = self.sim, self.one
        assert agent
        self.originate_response(REASON_ANSWERED, agent)
        sim.set_state(agent, 6)
        sim.device_state(self.req.dial, "INUSE")
        agent.context = self.req.context or dialplan.PREVIEW_CONTEXT
        agent.exten = self.req.exten or dialplan.ENTRY_EXTEN
        variables = agent.variables
        sim.exten(agent, "NoOp", f"Preview lead {variables.get(dialplan.LEAD_ID, '')}", 1)
        if variables.get(dialplan.RECORDING):
            self.priority += 1
            sim.exten(agent, "MixMonitor", variables[dialplan.RECORDING], self.priority)
        dial = variables.get(dialplan.DIAL, "")
        self.priority += 1
        sim.exten(agent, "Dial", f"{dial},{DIAL_TIMEOUT_S:g}", self.priority)
        self.leg = ResidentLeg(self, dial)
        self.leg.start()
        if self.plan.cancel_after_s is not None:
            sim.later(self.plan.cancel_after_s, self.cancel)

    def cancel(self) -> None:
        """The agent hangs up while the resident's phone rings."""
        leg, agent = self.leg, self.one
        if self.done or leg is None or leg.done or leg.answered or agent is None:
            return
        self.agent_hung_up = True
        self.sim.channel_event("HangupRequest", "call", agent, ("Cause", "16"))
        leg.cancel()

    def resident_gone(self) -> None:
        """Dial() returned: the dialplan's Hangup() (or the agent's own hangup) ends the call."""
        if self.done:
            return
        sim, agent = self.sim, self.one
        assert agent
        if not self.agent_hung_up:
            sim.exten(agent, "Hangup", "", self.priority + 1)
            sim.channel_event("SoftHangupRequest", "call", agent, ("Cause", "16"))
        self.finish()
        sim.hangup_channel(agent, 16)
        sim.device_state(self.req.dial, "NOT_INUSE")

    def hangup_by_request(self, chan: Channel) -> None:
        """``Action: Hangup`` on the agent's channel or the resident's leg."""
        if self.done:
            return
        leg = self.leg
        if chan is not self.one and leg is not None:
            leg.hangup_by_request(chan)
        elif leg is None:  # the agent's phone still rings
            assert self.one
            self.cancel_timeout()
            self.finish()
            self.originate_response(REASON_HANGUP, None)
            self.sim.hangup_channel(self.one, 16)
        elif leg.answered:
            self.agent_hung_up = True
            leg.hangup_answered(from_resident=False)
        else:
            self.cancel()


class ResidentLeg(OutboundCall):
    """``Dial(${HOTLINE_DIAL},25)`` from the agent's channel, played by the resident's plan."""

    def __init__(self, agent_call: AgentFirstCall, dial: str) -> None:
        req = OriginateRequest(
            action_id=None,
            dial=dial,
            context=None,
            exten=None,
            priority=None,
            application=None,
            data=None,
            timeout_s=DIAL_TIMEOUT_S,
            cid_num=agent_call.cid[0],
            cid_name=agent_call.cid[1],
            variables=[],
            is_async=True,
        )
        super().__init__(agent_call.sim, req, lambda ok: None)
        assert agent_call.one
        self.agent_call = agent_call
        self.linkedid = agent_call.one.linkedid

    @property
    def answered(self) -> bool:
        return self.one is not None and self.one.answered is not None

    def register(self) -> None:
        """The agent's call answers ``Action: Hangup`` for the whole call."""

    def caller_block(self) -> list[Header]:
        assert self.agent_call.one
        return self.agent_call.one.block()

    def originate_response(self, reason: int, answered_channel: Channel | None) -> None:
        """Dial() has no OriginateResponse: a ring timeout ends as DialEnd NOANSWER, a
        channel that could not be made ends Dial() at once (CHANUNAVAIL, no Dial* events)."""
        if reason == REASON_NO_ANSWER:
            self.dial_event("DialEnd", "NOANSWER")
        elif reason == REASON_FAILED and self.one is None:
            self.finish()

    def rejected_dial_status(self, cause: int) -> str:
        """Dial() (app_dial) names the cause: no such number, or refused (not golden-checked)."""
        return "CHANUNAVAIL" if cause == 1 else "BUSY"

    def land(self) -> None:
        """Answered: the resident talks with the agent; no landing dialplan."""

    def resident_script(self, plan: ResidentPlan, priority: int) -> None:
        self.sim.later(plan.talk_s, self.resident_hangup, priority)

    def cancel(self) -> None:
        self.dial_event("DialEnd", "CANCEL")
        self.unanswered_end(two_cause=16, reason=REASON_HANGUP)

    def finish(self) -> None:
        if not self.done:
            self.done = True
            self.sim.later(0, self.agent_call.resident_gone)
