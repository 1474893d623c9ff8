"""What the console asks of the PBX for a person: pause or unpause an agent in the queues
(QueuePause with a reason), and ring a supervisor's phone into ChanSpy on an agent's call
(an Originate into the shipped ``[hotline-supervise]`` context: listen, whisper or barge).

Both go through the service's one AMI client, so they need no rights beyond the dialer's
(``write = originate,agent`` in asterisk-conf/manager.conf): the Originate names a context, not
an application, and ChanSpy runs in the dialplan Asterisk was given.
"""

from __future__ import annotations

from enum import StrEnum

from twisted.internet.defer import Deferred

from hotline.core import dialplan
from hotline.core.vocabulary import checked_extension

from .ami_client import AMIClient

RING_SUPERVISOR_MS = 30_000


class SpyMode(StrEnum):
    """The extensions of [hotline-supervise]: ChanSpy options q, qw and qB."""

    LISTEN = "listen"
    WHISPER = "whisper"  # the agent hears the supervisor, the caller does not
    BARGE = "barge"  # both hear the supervisor


class AgentActions:
    """``phone_template`` (the setting dialer.agent_channel_template) makes an extension's device,
    e.g. ``PJSIP/agent{agent}`` for the shipped pjsip.conf: the queue
    member interface QueuePause names, the phone a supervisor is rung on, and (with ``-``, the
    separator Asterisk puts before a channel's sequence) the prefix ChanSpy spies on."""

    def __init__(self, ami: AMIClient, phone_template: str) -> None:
        self.ami, self.phone_template = ami, phone_template

    def phone(self, extension: str) -> str:
        return self.phone_template.format(agent=checked_extension(extension))

    def pause(self, agent: str, paused: bool, reason: str | None) -> Deferred[None]:
        """In every queue the agent is a member of; fails with AMIActionError if none."""
        d = self.ami.queue_pause(self.phone(agent), paused, reason=reason if paused else None)
        return d.addCallback(lambda _response: None)

    def supervise(self, supervisor: str, agent: str, mode: SpyMode) -> Deferred[None]:
        """Ring the supervisor's phone; once answered it spies on the agent's current call."""
        d = self.ami.originate(
            self.phone(supervisor),
            dialplan.SUPERVISE_CONTEXT,
            SpyMode(mode).value,
            1,
            variables={dialplan.SPY: f"{self.phone(agent)}-"},
            timeout_ms=RING_SUPERVISOR_MS,
            caller_id=f'"{mode} {agent}" <{agent}>',
        )
        return d.addCallback(lambda _response: None)
