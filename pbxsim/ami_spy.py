"""A supervisor's listen / whisper / barge: an Originate of the supervisor's phone into the
shipped ``[hotline-supervise]`` context (asterisk-conf/extensions.conf). The phone rings, is
answered, and ``ChanSpy(${HOTLINE_SPY},q…E)`` looks for a channel whose name starts with the
prefix - for as long as it takes, as app_chanspy does, until the supervisor hangs up - then
follows the first one found until it hangs up and hangs up the phone (option E).

The phone is a device's one channel (``PJSIP/agent201``), or a ``Local/`` pair whose ;1 spies,
played as any Originate's pair is (`OutboundCall`; the residents' model says whether the
extension exists). Events as Asterisk 22.10.1 sends them (checked by the differential suite):
Newchannel, Newstate, OriginateResponse, ChanSpyStart / ChanSpyStop (Spyer / Spyee channel
blocks), Hangup with cause 16 when the spy ends by itself and 0 when `Action: Hangup` ends it.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import Deferred

from hotline.core import dialplan
from hotline.pbxsim.ami_calls import REASON_ANSWERED, REASON_FAILED, OutboundCall
from hotline.pbxsim.ami_channels import Channel
from hotline.pbxsim.ami_pbx import PBX, OriginateRequest

OPTIONS = {"listen": "qE", "whisper": "qwE", "barge": "qBE"}
RING_S = 1.0  # a device's phone: the supervisor picks up
WATCH_S = 0.5  # how often channels are looked at (a simulator's poll; app_chanspy's is 0.1 s)
NORMAL_CLEARING, NO_CAUSE = 16, 0


class SpyCall(OutboundCall):
    def __init__(self, sim: PBX, req: OriginateRequest, respond: Callable[[bool], None]) -> None:
        super().__init__(sim, req, respond)
        self.phone: Channel | None = None  # the channel in [hotline-supervise]
        self.spied: Channel | None = None
        self.ended: Deferred[None] = Deferred()  # a pair's ChanSpy is over

    @property
    def mode(self) -> str:
        return self.req.exten or ""

    @property
    def prefix(self) -> str:
        return dict(self.req.variables).get(dialplan.SPY, "")

    @property
    def local(self) -> bool:
        return self.req.dial.lower().startswith("local/")

    def start(self) -> None:
        if self.mode not in OPTIONS:
            self.originate_response(REASON_FAILED, None)
        elif self.local:
            super().start()  # the pair; `land` spies once it is answered
        else:
            self.ring_device()

    def ring_device(self) -> None:
        sim, req = self.sim, self.req
        phone = self.one = sim.new_channel(req.dial, dialplan.SUPERVISE_CONTEXT, self.mode)
        self.register()
        phone.cid_num, phone.cid_name = self.cid
        sim.channel_event("Newchannel", "call", phone)
        sim.set_state(phone, 5)  # Ringing
        sim.later(RING_S, self.device_answered)

    def device_answered(self) -> None:
        if self.done:
            return
        assert self.one is not None
        self.sim.set_state(self.one, 6)  # Up
        self.originate_response(REASON_ANSWERED, self.one)
        self.spy(self.one)

    def land(self) -> Deferred[None]:
        """The answered pair's ;1 runs [hotline-supervise]; fires when ChanSpy has ended."""
        assert self.one is not None
        self.one.context, self.one.exten, self.one.priority = self.req.context or "", self.mode, 1
        self.spy(self.one)
        return self.ended

    def spy(self, phone: Channel) -> None:
        self.phone = phone
        self.sim.exten(phone, "Answer", "", 1)
        self.sim.exten(phone, "ChanSpy", f"{self.prefix},{OPTIONS[self.mode]}", 2)
        self.look()

    def look(self) -> None:
        if self.done:
            return
        sim = self.sim
        found = [c for c in sim.channels.values() if self.prefix and c.name.startswith(self.prefix)]
        if not found:
            sim.later(WATCH_S, self.look)
            return
        assert self.phone is not None
        self.spied = found[0]
        sim.publish("ChanSpyStart", "call", [*self.phone.block("Spyer"), *found[0].block("Spyee")])
        sim.later(WATCH_S, self.watch)

    def watch(self) -> None:
        spied, phone = self.spied, self.phone
        assert spied is not None and phone is not None
        if self.done:
            return
        if spied.name in self.sim.channels:
            self.sim.later(WATCH_S, self.watch)
            return
        self.sim.publish("ChanSpyStop", "call", [*phone.block("Spyer"), *spied.block("Spyee")])
        self.sim.exten(phone, "Hangup", "", 3)
        if self.local:
            self.ended.callback(None)  # `landing_done`: ;1 hangs up, then ;2
        else:
            self.finish()
            self.sim.hangup_channel(phone, NORMAL_CLEARING)

    def hangup_by_request(self, chan: Channel) -> None:
        """``Action: Hangup`` (no Cause) on the phone: cause 0 on its channels."""
        sim, one, two = self.sim, self.one, self.two
        if self.done or one is None:
            return
        if two is None:  # a device's one channel
            self.finish()
            sim.hangup_channel(one, NO_CAUSE)
            return
        if one.answered is None:
            super().hangup_by_request(chan)
            return
        self.finish()
        first, second = (one, two) if chan is one else (two, one)
        sim.channel_event("SoftHangupRequest", "call", first, ("Cause", str(NORMAL_CLEARING)))
        sim.channel_event("HangupRequest", "call", second, ("Cause", str(NO_CAUSE)))
        sim.hangup_channel(first, NO_CAUSE)
        sim.channel_event("SoftHangupRequest", "call", second, ("Cause", str(NORMAL_CLEARING)))
        sim.hangup_channel(second, NO_CAUSE)
        self.device("NOT_INUSE")
        self.device("NOT_INUSE")
