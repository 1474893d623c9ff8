"""A supervisor's listen / whisper / barge: an Originate of the supervisor's phone into the
shipped ``[hotline-supervise]`` context (asterisk-conf/extensions.conf). The phone rings, is
answered, and ``ChanSpy(${HOTLINE_SPY},q…E)`` follows the first channel whose name starts with
the prefix until that channel hangs up, then the phone is hung up (option E); with no such
channel the spy ends at once. Events as Asterisk 22 sends them: Newchannel, Newstate,
OriginateResponse, ChanSpyStart / ChanSpyStop (Spyer / Spyee channel blocks), Hangup."""

from __future__ import annotations

from hotline.core import dialplan
from hotline.pbxsim.ami_calls import REASON_ANSWERED, OutboundCall
from hotline.pbxsim.ami_channels import Channel

OPTIONS = {"listen": "qE", "whisper": "qwE", "barge": "qBE"}
RING_S = 1.0  # the supervisor picks up
WATCH_S = 0.5  # how often the spied channel is looked for (a simulator's poll, not Asterisk's)
NORMAL_CLEARING = 16


class SpyCall(OutboundCall):
    """Reuses OutboundCall's OriginateResponse; the channel is a phone's, not a Local pair."""

    phone: Channel | None = None
    spied: Channel | None = None

    @property
    def mode(self) -> str:
        return self.req.exten or ""

    @property
    def prefix(self) -> str:
        return dict(self.req.variables).get(dialplan.SPY, "")

    def start(self) -> None:
        sim, req = self.sim, self.req
        if self.mode not in OPTIONS:
            self.originate_response(0, None)
            return
        phone = self.phone = sim.new_channel(req.dial, dialplan.SUPERVISE_CONTEXT, self.mode)
        phone.cid_num, phone.cid_name = self.cid
        sim.channel_event("Newchannel", "call", phone)
        sim.set_state(phone, 5)  # Ringing
        sim.later(RING_S, self.answered)

    def answered(self) -> None:
        sim, phone = self.sim, self.phone
        assert phone is not None
        sim.set_state(phone, 6)  # Up
        self.originate_response(REASON_ANSWERED, phone)
        sim.exten(phone, "Answer", "", 1)
        sim.exten(phone, "ChanSpy", f"{self.prefix},{OPTIONS[self.mode]}", 2)
        found = [c for c in sim.channels.values() if self.prefix and c.name.startswith(self.prefix)]
        if not found:
            self.hang_up()
            return
        self.spied = found[0]
        sim.publish("ChanSpyStart", "call", [*phone.block("Spyer"), *self.spied.block("Spyee")])
        sim.later(WATCH_S, self.watch)

    def watch(self) -> None:
        spied = self.spied
        if spied is not None and spied.name in self.sim.channels:
            self.sim.later(WATCH_S, self.watch)
            return
        assert self.phone is not None and spied is not None
        self.sim.publish("ChanSpyStop", "call", [*self.phone.block("Spyer"), *spied.block("Spyee")])
        self.hang_up()

    def hang_up(self) -> None:
        assert self.phone is not None
        self.sim.exten(self.phone, "Hangup", "", 3)
        self.sim.hangup_channel(self.phone, NORMAL_CLEARING)
