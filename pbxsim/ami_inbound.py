"""A resident's inbound call reaching a queue after the voice menu: the caller's channel (the
one the FastAGI call ran on, same name and uniqueid) waits in ``Queue()`` as the dialplan's
``[hotline]`` context puts it there, until an agent has talked with them, the queue's time is
over, or the caller's patience is."""

from __future__ import annotations

from twisted.internet.defer import Deferred

from hotline.core import dialplan
from hotline.pbxsim.ami_channels import Channel
from hotline.pbxsim.ami_pbx import PBX
from hotline.pbxsim.ami_queue_calls import QueueCall
from hotline.pbxsim.ami_residents import ResidentPlan


class InboundCall:
    """The caller's channel, answered (the flow answered it), in the simulated PBX."""

    def __init__(
        self,
        sim: PBX,
        channel: str,
        uniqueid: str,
        caller: tuple[str, str],
        context: str = dialplan.INBOUND_CONTEXT,
        exten: str = dialplan.ENTRY_EXTEN,
        variables: dict[str, str] | None = None,
        connected: tuple[str, str] | None = None,
        created: float | None = None,
    ) -> None:
        """``connected``: the channel's connected line, if not the caller; ``created``: when
        the channel came up, if before now (the voice menu ran on it)."""
        self.sim = sim
        self.done = False
        self.ended: Deferred[None] = Deferred()  # fires when the caller's channel hangs up
        chan = Channel(channel, uniqueid, uniqueid, context, exten, state=6)
        # What the flow set (SET VARIABLE) stays on the channel: Status shows it.
        chan.variables.update(variables or {})
        chan.cid_num, chan.cid_name = caller
        chan.connected_num, chan.connected_name = connected or caller
        chan.created = chan.answered = sim.now() if created is None else created
        sim.channels[chan.name] = chan
        self.two: Channel | None = chan
        self.cid = caller
        self.queued: QueueCall | None = None

    def queue(
        self, queue: str, timeout_s: float, priority: int, patience_s: float | None = None
    ) -> QueueCall:
        """``Queue(queue,,,,timeout_s)`` at ``priority``; a caller with ``patience_s`` hangs
        up if no agent has answered by then (an abandoned call)."""
        plan = ResidentPlan("queue", queue=queue, queue_timeout_s=timeout_s)
        self.queued = QueueCall(self, plan, priority)
        self.queued.join()
        if patience_s is not None:
            self.sim.later(patience_s, self.queued.abandon)
        return self.queued

    def hangup_answered(self, *, from_resident: bool, destination: str = "") -> None:
        """The caller's channel ends (the agent hung up, the queue gave up, the caller did)."""
        if self.done or self.two is None:
            return
        self.done = True
        chan, sim = self.two, self.sim
        if not from_resident:
            sim.channel_event("SoftHangupRequest", "call", chan, ("Cause", "16"))
        sim.hangup_channel(chan, 16)
        sim.cdr(chan, chan.exten, self.cid, destination)
        self.ended.callback(None)
