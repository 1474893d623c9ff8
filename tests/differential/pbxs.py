"""The two PBXs a scenario runs against: the project's simulators, and a real Asterisk.

Each places the scenario's inbound calls (the resident's inputs consumed one per command that
reads the keypad or a voice, as the PBX simulator consumes them), answers the service's AMI,
and reports which queue the dialplan handed each inbound call to.
"""

from __future__ import annotations

import re
from typing import Any

from asterisk_dialplan import CONF_DIR, HungUp, parse_dialplan, run, split_top
from asterisk_pbx import AMI_SECRET, AMI_USER, RealAsterisk
from harness import PROMPT_SECONDS, ServeProcess, speech_name
from scenario import OUTCOME_PREFIXES, InboundCall, Scenario
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IHalfCloseableProtocol, IListeningPort
from twisted.internet.protocol import ClientFactory, Factory
from twisted.protocols.basic import LineOnlyReceiver
from zope.interface import implementer

from hotline.core import dialplan as contract
from hotline.dialer.ami_client import AMIClient, AMIConfig
from hotline.dialer.ami_protocol import AMIMessage
from hotline.net.tcp import bound_port, connected, stop_listening
from hotline.pbxsim import fastagi as simulator
from hotline.pbxsim.ami import AMISimulator
from hotline.pbxsim.ami_queues import Queue, QueueMember
from hotline.pbxsim.ami_residents import ResidentModel, ResidentPlan
from hotline.pbxsim.fastagi import HangUp, Input, Keys, Speak

# The AMI simulator in real time: a call that rings through an AMI reconnect must still be
# ringing when the dialer is back, as on a real PBX.
SIM_TIME_SCALE = 1.0
# [test-agents] 109 rings and never answers; 101-103, the outbound queue's members, answer.
RING_OUT_AGENT = ("Agent 109", "Local/109@test-agents/n")
ANSWERING_AGENTS = [f"Local/{n}@test-agents/n" for n in (101, 102, 103)]


class PrefixResidents(ResidentModel):
    """The AMI simulator's residents, as [test-residents] answers on the real PBX, and the
    supervisors' phones of [test-agents] (20X answer at once)."""

    def plan(self, number: str, context: str) -> ResidentPlan | None:
        if context == "test-agents":
            return ResidentPlan("answer") if re.fullmatch(r"20\d", number) else None
        outcome = OUTCOME_PREFIXES.get(number[:4]) if context == "test-residents" else None
        return ResidentPlan(outcome, ring_s=1.0) if outcome else None


class SimulatedPBX:
    """The project's simulators: the PBX simulator for FastAGI calls (the shipped dialplan,
    walked after the AGI, decides the queue), the AMI simulator for the dialer."""

    def __init__(self, reactor: Any, serve: ServeProcess, scenario: Scenario) -> None:
        self.reactor, self.serve = reactor, serve
        agents = [QueueMember(*RING_OUT_AGENT, answers=False)] if scenario.agent_rings_out else []
        self.dialplan = parse_dialplan((CONF_DIR / "extensions.conf").read_text(encoding="utf-8"))
        self.ami = AMISimulator(
            reactor,
            users={AMI_USER: AMI_SECRET},
            residents=PrefixResidents(),
            time_scale=SIM_TIME_SCALE,
            on_answered=self._landing,
            queues=[Queue(contract.QUEUE_OUTBOUND, agents)],
            landing_queues={contract.AGENT_CONTEXT: (contract.QUEUE_OUTBOUND, 2.0)},
        )
        self.listening: IListeningPort | None = None
        self.ami_port = 0

    async def start(self) -> None:
        self.listening = self.ami.listen(self.reactor, 0)
        self.ami_port = bound_port(self.listening)

    def _options(self, context: str) -> simulator.PBXOptions:
        return simulator.PBXOptions(
            context=context, extension="s", language="zh", prompt_seconds=PROMPT_SECONDS
        )

    def _landing(self, info: dict[str, Any]) -> Deferred[simulator.SimCallResult]:
        kind = info["variables"][contract.CAMPAIGN_KIND]
        number = info["dial"].split("/", 1)[1].split("@", 1)[0]
        return simulator.simulate_call(
            self.reactor,
            "127.0.0.1",
            self.serve.port,
            simulator.SimCaller(number, None, []),
            f"outbound/{kind}",
            options=self._options(contract.FLOW_CONTEXT),
            variables=info["variables"],
        )

    async def inbound(self, call: InboundCall) -> str | None:
        def observe(direction: str, line: str, _: float) -> None:
            if direction == "<<" and call.kill_service_at and line.startswith(call.kill_service_at):
                self.serve.kill()

        result = await simulator.simulate_call(
            self.reactor,
            "127.0.0.1",
            self.serve.port,
            simulator.SimCaller(call.caller, None, list(call.inputs)),
            "inbound",
            args=[call.dialled],
            options=self._options("hotline"),
            observer=observe,
        )
        return self._after_agi(call.dialled, result)

    def _after_agi(self, dialled: str, result: simulator.SimCallResult) -> str | None:
        """Where the shipped dialplan takes the call after the AGI, as Asterisk would."""
        if result.hung_up_at is not None:
            return None  # the channel is gone: Asterisk runs no more priorities
        joined: list[str] = []

        def agi(_: str, variables: dict[str, str]) -> None:
            variables.update(result.variables, AGISTATUS=result.agi_status)

        def queue(args: str, _: dict[str, str]) -> None:
            joined.append(split_top(args, ",")[0])
            raise HungUp  # an agent answers; the conversation is not the scenario's business

        run(self.dialplan, "hotline", dialled, effects={"AGI": agi, "Queue": queue})
        return joined[0] if joined else None

    async def close(self) -> None:
        if self.listening is not None:
            await stop_listening(self.listening)


# ---------------------------------------------------------------- the real Asterisk


def reads_input(args: list[str]) -> str | None:
    """Does the PBX simulator consume an input for this command? "all", "hangup" (only a
    hang-up, during media without escape digits) or None."""
    words = [a.upper() for a in args[:2]]
    if words[:2] in (["GET", "DATA"], ["WAIT", "FOR"], ["RECORD", "FILE"]):
        return "all"
    if words[:1] == ["STREAM"] or words[:1] == ["SAY"]:
        return "all" if len(args) > 3 and args[3] else "hangup"
    if words[:1] == ["EXEC"] and len(args) > 1 and args[1].lower() == "playback":
        return "hangup"
    return None


@implementer(IHalfCloseableProtocol)
class _ToService(LineOnlyReceiver):
    """The relay's leg to `hotline serve`: its commands go on to Asterisk."""

    delimiter = b"\n"

    def __init__(self, session: _FromAsterisk) -> None:
        self.session = session

    def connectionMade(self) -> None:
        self.session.service = self
        for line in self.session.early:
            self.sendLine(line)
        self.session.early.clear()

    def lineReceived(self, line: bytes) -> None:
        connected(self.session).write(line + b"\n")
        self.session.pbx.on_command(self.session, line.decode("utf-8", "replace"))

    def readConnectionLost(self) -> None:
        connected(self.session).loseWriteConnection()  # the script ended (or the service died)

    def writeConnectionLost(self) -> None:
        pass

    def connectionLost(self, reason: object = None) -> None:
        connected(self.session).loseConnection()


class _FromAsterisk(LineOnlyReceiver):
    """Asterisk's FastAGI connection, relayed to `hotline serve` and watched."""

    delimiter = b"\n"

    def __init__(self, pbx: RealPBX) -> None:
        self.pbx = pbx
        self.service: _ToService | None = None
        self.early: list[bytes] = []
        self.env: dict[str, str] = {}
        self.inputs: list[Input] = []
        self.started = False

    def connectionMade(self) -> None:
        factory = ClientFactory.forProtocol(lambda: _ToService(self))
        self.pbx.reactor.connectTCP("127.0.0.1", self.pbx.serve.port, factory)

    def lineReceived(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace")
        if text.startswith("agi_") and ": " in text:
            key, value = text.split(": ", 1)
            self.env[key] = value
        elif text == "" and not self.started:
            self.started = True
            self.pbx.on_environment(self)
        if self.service is None:
            self.early.append(line)
        else:
            self.service.sendLine(line)

    def connectionLost(self, reason: object = None) -> None:
        if self.service is not None and self.service.transport is not None:
            connected(self.service).loseConnection()

    @property
    def other_half(self) -> str:
        """The Local channel's other half: DTMF played out of it reaches the AGI channel."""
        channel = self.env["agi_channel"]
        return channel[:-1] + ("1" if channel.endswith("2") else "2")


class RealPBX:
    """A real Asterisk: inbound calls are Originates of Local/<dialled>@hotline whose other half
    idles in [test-caller]; its FastAGI connections reach `hotline serve` through a relay that
    watches the commands and makes the resident act (keys, speech, hang-up) through AMI."""

    def __init__(
        self, reactor: Any, serve: ServeProcess, scenario: Scenario, asterisk: RealAsterisk
    ) -> None:
        self.reactor, self.serve, self.scenario = reactor, serve, scenario
        self.ami_port = asterisk.ports.ami
        host, port = asterisk.ports.fastagi.rsplit(":", 1)
        factory = Factory.forProtocol(lambda: _FromAsterisk(self))
        self.listening: IListeningPort = reactor.listenTCP(int(port), factory, interface=host)
        self.call: InboundCall | None = None
        self.agi_channel = ""
        self.joined: str | None = None
        self.ended: Deferred[None] | None = None
        self.driver = AMIClient(
            AMIConfig(port=self.ami_port, username=AMI_USER, secret=AMI_SECRET),
            reactor=reactor,
        )
        self.driver.on("QueueCallerJoin", self._joined)
        self.driver.on("Hangup", self._hangup)

    async def start(self) -> None:
        await self.driver.start()
        if self.scenario.agent_rings_out:
            await self._ring_out_agent_only(True)

    async def _ring_out_agent_only(self, on: bool) -> None:
        """The outbound queue as the scenario wants it: its members paused, 109 added."""
        for member in ANSWERING_AGENTS:
            pause = [
                ("Queue", contract.QUEUE_OUTBOUND),
                ("Interface", member),
                ("Paused", str(on).lower()),
            ]
            await self.driver.send_action("QueuePause", pause)
        ring_out = [("Queue", contract.QUEUE_OUTBOUND), ("Interface", RING_OUT_AGENT[1])]
        if on:
            await self.driver.send_action(
                "QueueAdd", [*ring_out, ("MemberName", RING_OUT_AGENT[0])]
            )
        else:
            await self.driver.send_action("QueueRemove", ring_out)

    def _act(self, delay: float, action: str, *headers: tuple[str, str]) -> None:
        """The resident's doing, a moment into the command; the channel may be gone by then."""

        def send() -> None:
            self.driver.send_action(action, list(headers), raise_on_error=False).addErrback(
                lambda _: None
            )

        self.reactor.callLater(delay, send)

    def on_environment(self, session: _FromAsterisk) -> None:
        if session.env.get("agi_network_script", "").startswith("inbound") and self.call:
            session.inputs = list(self.call.inputs)
            self.agi_channel = session.env["agi_channel"]

    def on_command(self, session: _FromAsterisk, line: str) -> None:
        call = self.call
        ours = call is not None and session.env.get("agi_channel") == self.agi_channel
        kill_at = call.kill_service_at if ours and call is not None else None
        if kill_at and line.startswith(kill_at):
            self.serve.kill()
        consumes = reads_input(simulator.parse_args(line))
        if consumes is None or not session.inputs:
            return
        if consumes == "hangup" and not isinstance(session.inputs[0], HangUp):
            return
        self._play(session.other_half, session.inputs.pop(0))

    def _play(self, other: str, action: Input) -> None:
        """What the resident does during the command, from the other half of the call."""
        if isinstance(action, HangUp):
            self._act(PROMPT_SECONDS / 2, "Hangup", ("Channel", other))
        elif isinstance(action, Keys):
            for i, digit in enumerate(action.digits):
                dtmf = (("Channel", other), ("Digit", digit), ("Duration", "120"))
                self._act(0.4 + 0.35 * i, "PlayDTMF", *dtmf)
        elif isinstance(action, Speak):
            start = PROMPT_SECONDS + 0.3  # after the beep
            where = (("Context", "test-caller"), ("Exten", speech_name(action)))
            self._act(start, "Redirect", ("Channel", other), *where, ("Priority", "1"))
            end = start + action.seconds + 0.2
            if action.hang_up:
                self._act(end, "Hangup", ("Channel", other))
            elif action.key:
                self._act(end, "PlayDTMF", ("Channel", other), ("Digit", action.key))

    def _joined(self, event: AMIMessage) -> None:
        if self.agi_channel and event.get("Channel") == self.agi_channel and not self.joined:
            self.joined = event.get("Queue")
            patience = self.call.patience_s if self.call else None
            if patience is not None:
                self._act(patience, "Hangup", ("Channel", self.agi_channel[:-1] + "1"))

    def _hangup(self, event: AMIMessage) -> None:
        if self.agi_channel and event.get("Channel") == self.agi_channel and self.ended:
            ended, self.ended = self.ended, None
            ended.callback(None)

    async def inbound(self, call: InboundCall) -> str | None:
        self.call, self.agi_channel, self.joined = call, "", None
        self.ended = Deferred()
        caller = f"<{call.caller}>" if call.caller else ""
        await self.driver.send_action(
            "Originate",
            [
                ("Channel", f"Local/{call.dialled}@hotline"),
                ("Context", "test-caller"),
                ("Exten", "s"),
                ("Priority", "1"),
                ("CallerID", caller),
                ("Timeout", "30000"),
                ("Async", "true"),
            ],
        )
        await self.ended.addTimeout(120, self.reactor)
        self.call = None
        return self.joined

    async def close(self) -> None:
        if self.scenario.agent_rings_out:
            await self._ring_out_agent_only(False)
        await self.driver.stop()
        await stop_listening(self.listening)
