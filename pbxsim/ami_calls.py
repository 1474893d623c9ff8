"""Originate in the simulated PBX: one outbound call through a ``Local/`` channel pair,
with the full event sequence Asterisk 22 sends for each outcome."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.python.failure import Failure

from hotline.core import dialplan
from hotline.dialer.ami_protocol import Header
from hotline.pbxsim.ami_channels import CALLING_PRES, UNKNOWN, Channel
from hotline.pbxsim.ami_pbx import PBX, OriginateRequest
from hotline.pbxsim.ami_queue_calls import QueueCall

if TYPE_CHECKING:
    from collections.abc import Callable

    from hotline.pbxsim.ami_residents import ResidentPlan

# OriginateResponse Reason values (Asterisk's AST_CONTROL_* of the outgoing leg).
REASON_FAILED, REASON_HANGUP, REASON_NO_ANSWER, REASON_ANSWERED, REASON_BUSY = 0, 1, 3, 4, 5
REASON_CONGESTION = 8


# Landing dialplan for answered calls without an ``on_answered`` hook, as in the golden
# ``[dialer-landing]``: s,1 NoOp(landed campaign=${CAMPAIGN_ID} lead=${LEAD_ID}), Wait(10).
DEFAULT_LANDING = {
    (dialplan.FLOW_CONTEXT, dialplan.ENTRY_EXTEN): [
        ("NoOp", "landed campaign=${CAMPAIGN_ID} lead=${LEAD_ID}"),
        ("Wait", "10"),
    ]
}


def _expand(template: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: variables.get(m.group(1), ""), template)


class OutboundCall:
    """One Originate through a ``Local/number@context`` channel pair."""

    def __init__(self, sim: PBX, req: OriginateRequest, respond: Callable[[bool], None]) -> None:
        self.sim = sim
        self.req = req
        self.respond = respond
        self.cid = (req.cid_num, req.cid_name)
        self.one: Channel | None = None
        self.two: Channel | None = None
        self.timeout_call: Any = None
        self.done = False
        self.dial_string = ""
        self.linkedid: str | None = None  # the pair joins this call (a Dial() leg), else its own

    # -- outcome reporting -------------------------------------------------------
    def originate_response(self, reason: int, answered_channel: Channel | None) -> None:
        if self.req.is_async:
            req = self.req
            headers: list[Header] = []
            if req.action_id is not None:
                headers.append(("ActionID", req.action_id))
            headers += [
                ("Response", "Success" if answered_channel else "Failure"),
                ("Channel", answered_channel.name if answered_channel else req.dial),
            ]
            if req.application is not None:
                headers += [("Application", req.application), ("Data", req.data or "")]
            else:
                headers += [("Context", req.context or ""), ("Exten", req.exten or "")]
            headers += [
                ("Reason", str(reason)),
                ("Uniqueid", answered_channel.uniqueid if answered_channel else UNKNOWN),
                ("CallerIDNum", self.req.cid_num),
                ("CallerIDName", self.req.cid_name),
            ]
            self.sim.publish("OriginateResponse", "call", headers)
        else:
            self.respond(answered_channel is not None)

    # -- the call ----------------------------------------------------------------
    def start(self) -> None:
        sim, req = self.sim, self.req
        tech, _, rest = req.dial.partition("/")
        number, at, context = rest.partition("@")
        if tech.lower() != "local" or not at:
            self.originate_response(REASON_FAILED, None)
            return
        plan = sim.residents.plan(number, context)
        self.dial_string = rest
        one, two = self.one, self.two = sim.new_local_pair(number, context, self.linkedid)
        self.register()
        sim.channel_event("Newchannel", "call", one)
        sim.channel_event("Newchannel", "call", two)
        sim.exten(one, "AppDial2", "(Outgoing Line)")
        # Asterisk copies the variables onto ;1 in reverse order and onto ;2 in order.
        for key, value in reversed(req.variables):
            self.set_var(one, key, value)
        one.cid_num, one.cid_name = self.cid
        sim.channel_event(
            "NewCallerid",
            "call",
            one,
            ("CID-CallingPres", CALLING_PRES),
        )
        one.connected_num, one.connected_name = self.cid
        sim.channel_event("NewConnectedLine", "call", one)
        for key, value in req.variables:
            self.set_var(two, key, value)
        two.cid_num, two.cid_name = two.connected_num, two.connected_name = self.cid
        sim.channel_event(
            "NewCallerid",
            "call",
            two,
            ("CID-CallingPres", CALLING_PRES),
        )
        sim.channel_event("NewConnectedLine", "call", two)
        if plan is None:
            self.invalid()
            return
        self.local_bridge()
        sim.publish(
            "DialBegin",
            "call",
            [*self.caller_block(), *one.block("Dest"), ("DialString", self.dial_string)],
        )
        self.timeout_call = sim.later(req.timeout_s, self.ring_timeout)
        getattr(self, f"callee_{plan.outcome}")(plan)

    def register(self) -> None:
        """Known by Linkedid, for ``Action: Hangup``."""
        assert self.one
        self.sim.calls[self.one.linkedid] = self

    def caller_block(self) -> list[Header]:
        """The dialling channel's snapshot in Dial* events: none for an Originate."""
        return []

    def set_var(self, chan: Channel, key: str, value: str) -> None:
        chan.variables[key] = value
        self.sim.channel_event("VarSet", "dialplan", chan, ("Variable", key), ("Value", value))

    def device(self, state: str) -> None:
        self.sim.device_state(f"Local/{self.dial_string}", state)

    def local_bridge(self) -> None:
        assert self.one and self.two
        context, exten = self.two.context, self.two.exten
        self.sim.publish(
            "LocalBridge",
            "call",
            [
                *self.one.block("LocalOne"),
                *self.two.block("LocalTwo"),
                ("Context", context),
                ("Exten", exten),
                ("LocalOptimization", "Yes"),
            ],
        )

    def dial_event(self, event: str, status: str) -> None:
        assert self.one
        self.sim.publish(
            event, "call", [*self.caller_block(), *self.one.block("Dest"), ("DialStatus", status)]
        )

    def invalid(self) -> None:
        """No such context/extension: both halves die with cause 0."""
        sim, one, two = self.sim, self.one, self.two
        assert one and two
        if not self.req.is_async:
            self.originate_response(REASON_FAILED, None)
        sim.hangup_channel(two, 0)
        self.device("INVALID")
        sim.hangup_channel(one, 0)
        if self.req.is_async:
            self.originate_response(REASON_FAILED, None)
        self.device("INVALID")
        self.finish()

    # -- callee behaviours (``ResidentPlan.outcome``) -----------------------------
    def callee_answer(self, plan: ResidentPlan) -> None:
        if plan.ring_s > 0:
            self.ringing()
            self.sim.later(plan.ring_s, self.answer, plan, 2)
        else:
            self.answer(plan, 1)

    def callee_noanswer(self, plan: ResidentPlan) -> None:
        assert self.two
        self.ringing()
        self.sim.exten(self.two, "Wait", "60", 2)

    def callee_busy(self, plan: ResidentPlan) -> None:
        self.signalled_unanswered("Busy", "BUSY", 17, REASON_BUSY)

    def callee_congestion(self, plan: ResidentPlan) -> None:
        """As Asterisk 22.10.1 reports Congestion() on a Local channel (checked by the
        differential suite): Reason 8, cause 34 on the callee half, 0 on ours."""
        self.signalled_unanswered("Congestion", "CONGESTION", 34, REASON_CONGESTION)

    def signalled_unanswered(self, app: str, status: str, cause: int, reason: int) -> None:
        sim, one, two = self.sim, self.one, self.two
        assert one and two
        sim.exten(two, app, "10")
        sim.set_state(two, 7)
        self.device("INUSE")
        self.dial_event("DialEnd", status)
        self.unanswered_end(two_cause=cause, reason=reason)

    def callee_reject(self, plan: ResidentPlan) -> None:
        self.hangup_unanswered(21)

    def callee_unallocated(self, plan: ResidentPlan) -> None:
        self.hangup_unanswered(1)

    def hangup_unanswered(self, cause: int) -> None:
        """The callee hangs up unanswered with a Q.850 cause (ami-09, ``Hangup(21)``): the
        cause is on both halves' Hangup, DialEnd says NOANSWER and the Reason is 0."""
        sim, one, two = self.sim, self.one, self.two
        assert one and two
        self.cancel_timeout()
        self.finish()
        sim.exten(two, "Hangup", str(cause))
        sim.channel_event("SoftHangupRequest", "call", two, ("Cause", "16"))
        sim.channel_event("HangupRequest", "call", one, ("Cause", str(cause)))
        sim.hangup_channel(two, cause)
        self.device("NOT_INUSE")
        self.dial_event("DialEnd", self.rejected_dial_status(cause))
        sim.hangup_channel(one, cause)
        self.device("NOT_INUSE")
        self.originate_response(REASON_FAILED, None)

    def rejected_dial_status(self, cause: int) -> str:
        """DialEnd of an Originate whose callee hung up unanswered: NOANSWER (ami-09)."""
        return "NOANSWER"

    def unanswered_end(self, *, two_cause: int, reason: int) -> None:
        sim, one, two = self.sim, self.one, self.two
        assert one and two
        self.cancel_timeout()
        sim.channel_event("HangupRequest", "call", two, ("Cause", "0"))
        sim.channel_event("SoftHangupRequest", "call", two, ("Cause", "16"))
        sim.hangup_channel(one, 0)
        self.device("NOT_INUSE")
        sim.hangup_channel(two, two_cause)
        self.originate_response(reason, None)
        self.device("NOT_INUSE")
        self.finish()

    def ringing(self) -> None:
        assert self.one and self.two
        self.sim.exten(self.two, "Ringing", "")
        self.sim.set_state(self.one, 5)
        self.device("INUSE")
        self.dial_event("DialState", "RINGING")

    def ring_timeout(self) -> None:
        """Originate Timeout while ringing: Reason 3, cause 19 on both halves."""
        self.timeout_call = None
        if self.done:
            return
        sim, one, two = self.sim, self.one, self.two
        assert one and two
        self.finish()
        sim.channel_event("HangupRequest", "call", two, ("Cause", "19"))
        sim.channel_event("SoftHangupRequest", "call", two, ("Cause", "16"))
        self.originate_response(REASON_NO_ANSWER, None)
        sim.hangup_channel(one, 19)
        self.device("NOT_INUSE")
        sim.hangup_channel(two, 19)
        self.device("NOT_INUSE")

    def cancel_timeout(self) -> None:
        if self.timeout_call is not None and self.timeout_call.active():
            self.timeout_call.cancel()
        self.timeout_call = None

    def answer(self, plan: ResidentPlan, priority: int) -> None:
        if self.done:
            return
        sim, one, two = self.sim, self.one, self.two
        assert one and two
        self.cancel_timeout()
        sim.exten(two, "Answer", "", priority)
        self.originate_response(REASON_ANSWERED, one)
        sim.set_state(two, 6)
        sim.set_state(one, 6)
        self.dial_event("DialEnd", "ANSWER")
        self.device("INUSE")
        self.device("INUSE")
        hook = self.land()
        landing_queue = sim.landing_queues.get(one.context)
        if isinstance(hook, defer.Deferred):
            hook.addBoth(self.landing_done)
        elif landing_queue is not None:
            queue, timeout = landing_queue
            plan = replace(plan, outcome="queue", queue=queue, queue_timeout_s=timeout)
            QueueCall(self, plan, priority + 1).join()
        elif plan.outcome == "queue":
            QueueCall(self, plan, priority + 1).join()
        else:
            self.resident_script(plan, priority + 1)

    def callee_queue(self, plan: ResidentPlan) -> None:
        self.callee_answer(plan)

    def land(self) -> defer.Deferred[Any] | None:
        """Run the landing side on ;1: the ``on_answered`` hook, else the Originate's
        application or the landing dialplan (``landing``) for as long as its Waits last."""
        sim, one, req = self.sim, self.one, self.req
        assert one
        if req.application is not None:
            one.application, one.app_data = req.application, req.data or ""
        else:
            one.context, one.exten, one.priority = req.context or "", req.exten or "", 1
        if one.context in sim.landing_queues:
            return None  # the queue decides how long the call lasts
        if sim.on_answered is not None:
            return sim.on_answered(
                {
                    "channel": one.name,
                    "uniqueid": one.uniqueid,
                    "dial": req.dial,
                    "context": one.context,
                    "exten": one.exten,
                    "caller_id": self.cid,
                    "variables": dict(one.variables),
                }
            )
        if req.application is None:
            steps = sim.landing.get((one.context, one.exten), [])
            for priority, (app, data) in enumerate(steps, start=1):
                sim.exten(one, app, _expand(data, one.variables), priority)
        sim.later(self.landing_seconds(), self.landing_done, None)
        return None

    def finish(self) -> None:
        self.done = True
        if self.one is not None:
            self.sim.calls.pop(self.one.linkedid, None)

    def landing_seconds(self) -> float:
        """How long the landing side stays up: its ``Wait`` applications."""
        req = self.req
        if req.application is not None:
            steps = [(req.application, req.data or "")]
        else:
            steps = self.sim.landing.get((req.context or "", req.exten or ""), [])
        return sum(float(data or 0) for app, data in steps if app.lower() == "wait")

    def landing_done(self, result: object) -> None:
        if not self.done:
            self.hangup_answered(from_resident=False)
        if isinstance(result, Failure):
            result.trap(Exception)

    def resident_script(self, plan: ResidentPlan, priority: int) -> None:
        sim, two = self.sim, self.two
        assert two
        think = plan.think_s
        sim.later(0, sim.exten, two, "Wait", f"{think:g}", priority)
        sim.later(think, self.send_dtmf, plan, priority + 1)

    def send_dtmf(self, plan: ResidentPlan, priority: int) -> None:
        if self.done:
            return
        sim, one, two = self.sim, self.one, self.two
        assert one and two
        sim.exten(two, "SendDTMF", plan.digits, priority)
        for i, digit in enumerate(plan.digits):
            sim.later(0.1 + 0.25 * i, self.dtmf_event, "DTMFBegin", digit, ())
            sim.later(0.2 + 0.25 * i, self.dtmf_event, "DTMFEnd", digit, (("DurationMs", "100"),))
        talk_start = 0.35 + 0.25 * (len(plan.digits) - 1)
        sim.later(talk_start, self.talk, plan, priority + 1)

    def dtmf_event(self, event: str, digit: str, extra: tuple[Header, ...]) -> None:
        if self.done or self.one is None:
            return
        self.sim.channel_event(
            event, "dtmf", self.one, ("Digit", digit), *extra, ("Direction", "Received")
        )

    def talk(self, plan: ResidentPlan, priority: int) -> None:
        if self.done:
            return
        assert self.two
        self.sim.exten(self.two, "Wait", f"{plan.talk_s:g}", priority)
        self.sim.later(plan.talk_s, self.resident_hangup, priority + 1)

    def resident_hangup(self, priority: int) -> None:
        if self.done:
            return
        assert self.two
        self.sim.exten(self.two, "Hangup", "", priority)
        self.hangup_answered(from_resident=True)

    def hangup_answered(self, *, from_resident: bool, destination: str = "") -> None:
        """Normal clearing of an answered call, started by either half."""
        sim, one, two = self.sim, self.one, self.two
        assert one and two
        self.finish()
        first, second = (two, one) if from_resident else (one, two)
        sim.channel_event("SoftHangupRequest", "call", first, ("Cause", "16"))
        sim.channel_event("HangupRequest", "call", second, ("Cause", "16"))
        sim.hangup_channel(first, 16)
        # A ;1 running dialplan is soft-hung-up; one running an Originate application
        # (ami-11's Wait) just ends.
        if not (from_resident and self.req.application is not None):
            sim.channel_event("SoftHangupRequest", "call", second, ("Cause", "16"))
        sim.hangup_channel(second, 16)
        sim.cdr(two, two.exten, self.cid, destination)
        sim.cdr(one, one.exten, self.cid)
        self.device("NOT_INUSE")
        self.device("NOT_INUSE")

    def hangup_by_request(self, chan: Channel) -> None:
        """``Action: Hangup`` on either half."""
        if self.done:
            return
        if self.one is not None and self.one.answered is not None:
            self.hangup_answered(from_resident=chan is self.two)
        else:
            self.unanswered_end(two_cause=16, reason=REASON_HANGUP)
