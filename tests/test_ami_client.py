"""AMI client against the simulator on loopback (trial runs the reactor; timers use Clocks)."""

from __future__ import annotations

import logging
from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import StringTransport
from twisted.trial import unittest

from hotline.core import dialplan as contract
from hotline.dialer.ami_client import (
    AMIActionError,
    AMIClient,
    AMIClientProtocol,
    AMIConfig,
    AMIConnectionLost,
    AMIListResult,
    AMILoginError,
)
from hotline.net.tcp import bound_port
from hotline.pbxsim.ami import AMISimulator
from hotline.pbxsim.ami_session import AMISession

SECRET = "dialer-secret"


class SilentPingSession(AMISession):
    """An Asterisk that has hung: it never answers Ping."""

    def action_ping(self, request: Any) -> None:
        pass


def turn() -> defer.Deferred[None]:
    """Let the reactor run pending I/O once."""
    return deferLater(reactor, 0.01, lambda: None)


async def until(condition: Any, what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await turn()
    raise AssertionError(f"timed out waiting for {what}")


class ClientTestCase(unittest.TestCase):
    def start_sim(self, session: type[AMISession] = AMISession) -> AMISimulator:
        sim = AMISimulator(reactor, time_scale=0)
        factory = sim.factory()
        factory.protocol = lambda: session(sim)
        # Replaced on this one instance, to build the session class under test.
        factory.buildProtocol = lambda addr: session(sim)  # type: ignore[method-assign]
        self.port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(self.port.stopListening)
        return sim

    def make_client(self, secret: str = SECRET, **kw: Any) -> AMIClient:
        clock = kw.pop("clock", None) or reactor
        config = AMIConfig(
            host="127.0.0.1",
            port=bound_port(self.port),
            username="dialer",
            secret=secret,
            **kw,
        )
        client = AMIClient(config, reactor=reactor, clock=clock)
        self.addCleanup(client.stop)
        return client

    async def test_login_actions_lists_and_events(self) -> None:
        self.start_sim()
        client = self.make_client()
        connected: list[AMIClient] = []
        client.on_connected(connected.append)
        await client.start()
        self.assertEqual(connected, [client])
        pong = await client.ping()
        self.assertEqual(pong["Ping"], "Pong")
        await client.setvar(None, "DIALER_GLOBAL", "x1")
        self.assertEqual(await client.getvar(None, "DIALER_GLOBAL"), "x1")
        version = await client.command("core show version")
        self.assertIn("Asterisk 22.10.1", version.output)
        channels = await client.core_show_channels()
        self.assertIsInstance(channels, AMIListResult)
        self.assertEqual(channels.complete["ListItems"], "0")

        responses: list[Any] = []
        names: list[str] = []
        client.on("OriginateResponse", responses.append)
        client.on_any(lambda m: names.append(m.name))
        queued = await client.originate(
            "Local/100@resident-sim",
            contract.FLOW_CONTEXT,
            "s",
            1,
            variables={contract.LEAD_ID: "lead-7"},
            timeout_ms=15000,
            caller_id='"Dialer" <5550100>',
            action_id="orig-1",
        )
        self.assertEqual(queued["Message"], "Originate successfully queued")
        await until(lambda: responses, "OriginateResponse")
        self.assertEqual((responses[0]["Reason"], responses[0].action_id), ("4", "orig-1"))
        self.assertIn("Newchannel", names)

    async def test_error_response_fails_the_action(self) -> None:
        self.start_sim()
        client = self.make_client()
        await client.start()
        with self.assertRaises(AMIActionError) as err:
            await client.send_action("NoSuchAction")
        self.assertIn("Invalid/unknown command", str(err.exception))

    async def test_login_failure_is_clear_and_secret_never_logged(self) -> None:
        self.start_sim()
        wrong = "wrong-secret-123"
        client = self.make_client(secret=wrong)
        with (
            self.assertLogs("hotline.dialer.ami_client", level=logging.DEBUG) as logs,
            self.assertRaises(AMILoginError) as err,
        ):
            await client.start()
        self.assertIn("'dialer' refused: Authentication failed", str(err.exception))
        self.assertFalse(client.connected)
        everything = (
            "\n".join(logs.output) + repr(client) + repr(client.config) + str(err.exception)
        )
        self.assertNotIn(wrong, everything)

    async def test_secret_not_in_logs_on_success(self) -> None:
        self.start_sim()
        client = self.make_client()
        with self.assertLogs("hotline.dialer.ami_client", level=logging.DEBUG) as logs:
            await client.start()
            await client.ping()
        self.assertTrue(any("logged in" in line for line in logs.output))
        self.assertNotIn(SECRET, "\n".join(logs.output) + repr(client.config))

    async def test_ping_timeout_drops_and_reconnects_with_backoff(self) -> None:
        sim = self.start_sim(SilentPingSession)
        clock = Clock()
        client = self.make_client(
            ping_interval=5, ping_timeout=2, backoff_initial=3, backoff_max=30, clock=clock
        )
        events: list[str] = []
        client.on_connected(lambda c: events.append("up"))
        client.on_disconnected(lambda c: events.append("down"))
        await client.start()
        pending = client.send_action("Ping")  # never answered: must fail on the drop
        with self.assertLogs("hotline.dialer.ami_client", level=logging.ERROR) as logs:
            clock.advance(5)  # keep-alive Ping goes out
            clock.advance(2)  # ... and is not answered in time
            await until(lambda: "down" in events, "disconnect")
        self.assertIn("did not answer Ping", "\n".join(logs.output))
        with self.assertRaises(AMIConnectionLost):
            await pending
        self.assertEqual(len(sim.sessions), 0)
        # No reconnect before the backoff delay has passed on the client's clock.
        clock.advance(2.9)
        await turn()
        self.assertEqual(events, ["up", "down"])
        self.assertTrue(clock.getDelayedCalls(), "a reconnect attempt is scheduled")
        clock.advance(30)  # past any backoff delay (with backoffPolicy's jitter)
        await until(lambda: events == ["up", "down", "up"], "reconnect")
        self.assertTrue(client.connected)

    async def test_not_connected_fails_at_once(self) -> None:
        self.start_sim()
        client = self.make_client()
        with self.assertRaises(AMIConnectionLost):
            await client.ping()


class ProtocolOnlyTests(unittest.TestCase):
    """Behaviour that needs no server: the client protocol over a StringTransport."""

    def logged_in(self) -> tuple[AMIClientProtocol, StringTransport]:
        client = AMIClient(AMIConfig(username="dialer", secret=SECRET, ping_interval=0))
        proto = AMIClientProtocol(client)
        transport = StringTransport()
        proto.makeConnection(transport)
        proto.dataReceived(b"Asterisk Call Manager/11.0.0\r\n")
        proto.dataReceived(b"Response: Success\r\nActionID: hotline-1\r\n\r\n")
        transport.clear()
        return proto, transport

    def test_permission_denied(self) -> None:
        proto, _ = self.logged_in()
        d = proto.send_action("Originate", [("Channel", "Local/1@x")], action_id="o-1")
        proto.dataReceived(
            b"Response: Error\r\nActionID: o-1\r\nMessage: Permission denied\r\n\r\n"
        )
        failure = self.failureResultOf(d, AMIActionError)
        self.assertEqual(str(failure.value), "AMI Originate failed: Permission denied")

    def test_event_list_collected_and_other_events_dispatched(self) -> None:
        proto, _ = self.logged_in()
        seen: list[str] = []
        proto.client.on_any(lambda m: seen.append(m.name))
        d = proto.send_action("QueueStatus", action_id="q-1")
        proto.dataReceived(
            b"Response: Success\r\nActionID: q-1\r\nEventList: start\r\n\r\n"
            b"Event: QueueParams\r\nQueue: support\r\nActionID: q-1\r\n\r\n"
            b"Event: Hangup\r\nChannel: Local/1@x-00000001;1\r\n\r\n"
            b"Event: QueueMember\r\nName: A\r\nActionID: q-1\r\n\r\n"
            b"Event: QueueStatusComplete\r\nActionID: q-1\r\nEventList: Complete\r\n"
            b"ListItems: 2\r\n\r\n"
        )
        result = self.successResultOf(d)
        self.assertEqual([e.name for e in result.events], ["QueueParams", "QueueMember"])
        self.assertEqual(result.complete["ListItems"], "2")
        self.assertEqual(seen, ["Hangup"])

    def test_pending_actions_fail_on_connection_loss(self) -> None:
        proto, transport = self.logged_in()
        d = proto.send_action("CoreShowChannels", action_id="c-1")
        transport.loseConnection()
        proto.connectionLost()
        failure = self.failureResultOf(d, AMIConnectionLost)
        self.assertIn("CoreShowChannels", str(failure.value))

    def test_garbled_input_is_logged_not_fatal(self) -> None:
        proto, _ = self.logged_in()
        d = proto.send_action("Ping", action_id="p-1")
        with self.assertLogs("hotline.dialer.ami_client", level=logging.ERROR) as logs:
            proto.dataReceived(b"garbage line\r\n\r\nResponse: Success\r\nActionID: p-1\r\n\r\n")
        self.assertIn("garbled", logs.output[0])
        self.assertEqual(self.successResultOf(d).name, "Success")
