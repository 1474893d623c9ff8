"""One AMI connection to the simulated PBX: login, event masks and filters, and the actions."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure

from hotline.dialer.ami_protocol import (
    AMIMessage,
    AMIParser,
    AMIProtocolError,
    Header,
    format_message,
)
from hotline.net.tcp import connected
from hotline.pbxsim.ami_channels import Channel, parse_caller_id
from hotline.pbxsim.ami_pbx import PBX, EventSink, OriginateRequest
from hotline.pbxsim.ami_queues import QueueMember
from hotline.pbxsim.ami_residents import AgentPlan

if TYPE_CHECKING:
    from hotline.pbxsim.ami_queues import Queue

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
AMI_VERSION = "11.0.0"
ASTERISK_VERSION = "22.10.1"
BAD_FILTER = "Filter did not compile.  Check the syntax of the filter given."


class AMISession(EventSink):
    """One AMI connection to the simulator."""

    def __init__(self, sim: PBX) -> None:
        self.sim = sim
        self.parser = AMIParser(expect_banner=False)
        self.username: str | None = None
        self.session_id = sim.new_session_id()
        self.session_tv = ""
        self.events_mask: set[str] | None = None  # None = all classes
        self.filters: list[re.Pattern[str]] = []
        self.denied: list[re.Pattern[str]] = []  # the user's `eventfilter = !regex` lines
        self.closing = False
        self.gone = False

    def connectionMade(self) -> None:
        self.sim.sessions.append(self)
        self.session_tv = _event_tv(self.sim.now())
        connected(self).write(BANNER)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.gone = True
        if self in self.sim.sessions:
            self.sim.sessions.remove(self)

    def dataReceived(self, data: bytes) -> None:
        messages: list[AMIMessage] = []
        while True:
            try:
                messages += self.parser.feed(data)
                break
            except AMIProtocolError as exc:
                messages += exc.messages  # Asterisk skips what it cannot parse
                data = b""
        for message in messages:
            if self.closing:
                return
            self.handle(message)

    # -- output ----------------------------------------------------------------
    def send(self, headers: Iterable[Header]) -> None:
        connected(self).write(format_message(headers))

    def respond(
        self, request: AMIMessage, status: str, *headers: Header, message: str | None = None
    ) -> None:
        out: list[Header] = [("Response", status)]
        if request.action_id is not None:
            out.append(("ActionID", request.action_id))
        if message is not None:
            out.append(("Message", message))
        out.extend(headers)
        self.send(out)

    def error(self, request: AMIMessage, message: str) -> None:
        self.respond(request, "Error", message=message)

    def deliver_event(self, privilege: str, data: bytes) -> None:
        if self.username is None or self.closing:
            return
        if self.events_mask is not None and privilege not in self.events_mask:
            return
        if self.filters or self.denied:
            text = data.decode("utf-8", "surrogateescape")
            if self.filters and not any(f.search(text) for f in self.filters):
                return
            if any(f.search(text) for f in self.denied):
                return
        connected(self).write(data)

    def security_headers(self) -> list[Header]:
        host = connected(self).getHost()
        peer = connected(self).getPeer()
        return [
            ("EventTV", _event_tv(self.sim.now())),
            ("Severity", "Informational"),
            ("Service", "AMI"),
            ("EventVersion", "1"),
            ("SessionID", self.session_id),
            ("LocalAddress", f"IPV4/TCP/{host.host}/{host.port}"),
            ("RemoteAddress", f"IPV4/TCP/{peer.host}/{peer.port}"),
        ]

    def list_response(
        self,
        request: AMIMessage,
        message: str,
        items: list[tuple[str, list[Header]]],
        done: str,
        *,
        id_first: bool = False,
        done_extra: tuple[Header, ...] = (),
    ) -> None:
        """An event list; ``id_first``: the items carry the ActionID first (manager.c's own
        lists), else last (app_queue's)."""
        self.respond(request, "Success", ("EventList", "start"), ("Message", message))
        aid = [("ActionID", request.action_id)] if request.action_id is not None else []
        for event, headers in items:
            body = [*aid, *headers] if id_first else [*headers, *aid]
            self.send([("Event", event), *body])
        self.send(
            [
                ("Event", done),
                *aid,
                ("EventList", "Complete"),
                ("ListItems", str(len(items))),
                *done_extra,
            ]
        )

    # -- dispatch --------------------------------------------------------------
    def handle(self, request: AMIMessage) -> None:
        action = (request.get("Action") or "").lower()
        if action == "login":
            self.action_login(request)
            return
        if self.username is None:
            self.error(request, "Permission denied")
            return
        handler = getattr(self, f"action_{action}", None)
        if handler is None:
            self.error(
                request,
                f"Invalid/unknown command: {request.get('Action')}. "
                "Use Action: ListCommands to show available commands.",
            )
            bad = self.security_headers()
            bad[1] = ("Severity", "Error")
            self.sim.publish(
                "RequestBadFormat",
                "security",
                [
                    *bad,
                    ("RequestType", f"Action: {request.get('Action')}"),
                    ("SessionTV", self.session_tv),
                    ("AccountID", self.username),
                ],
            )
            return
        handler(request)

    # -- actions -----------------------------------------------------------------
    def action_login(self, request: AMIMessage) -> None:
        user, secret = request.get("Username", ""), request.get("Secret", "")
        if user not in self.sim.users or self.sim.users[user] != secret:
            self.closing = True
            # Asterisk delays a failed login by a second before answering and closing.
            self.sim.later(1.0, self._refuse_login, request)
            return
        self.username = user
        self.denied = [re.compile(f) for f in self.sim.denied_events.get(user, ())]
        self.respond(request, "Success", message="Authentication accepted")
        uptime = str(int(self.sim.now() - self.sim.started))
        self.sim_event_to_self(
            "FullyBooted",
            "system",
            [("Uptime", uptime), ("LastReload", uptime), ("Status", "Fully Booted")],
        )
        security = self.security_headers()
        self.sim_event_to_self(
            "SuccessfulAuth",
            "security",
            [
                *security[:4],
                ("AccountID", user),
                *security[4:],
                ("UsingPassword", "0"),
                ("SessionTV", self.session_tv),
            ],
        )

    def sim_event_to_self(self, event: str, privilege: str, headers: list[Header]) -> None:
        data = format_message([("Event", event), ("Privilege", f"{privilege},all"), *headers])
        self.deliver_event(privilege, data)

    def _refuse_login(self, request: AMIMessage) -> None:
        if self.gone:
            return
        self.error(request, "Authentication failed")
        connected(self).loseConnection()

    def action_logoff(self, request: AMIMessage) -> None:
        self.respond(request, "Goodbye", message="Thanks for all the fish.")
        self.closing = True
        connected(self).loseConnection()

    def action_ping(self, request: AMIMessage) -> None:
        self.respond(request, "Success", ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}"))

    def action_corestatus(self, request: AMIMessage) -> None:
        started = time.gmtime(self.sim.started)
        day, clock = time.strftime("%Y-%m-%d", started), time.strftime("%H:%M:%S", started)
        calls = sum(1 for c in self.sim.channels.values() if c.name.endswith(";1"))
        self.respond(
            request,
            "Success",
            ("CoreStartupDate", day),
            ("CoreStartupTime", clock),
            ("CoreReloadDate", day),
            ("CoreReloadTime", clock),
            ("CoreCurrentCalls", str(calls)),
            ("CoreProcessedCalls", str(self.sim.processed_calls)),
        )

    def action_coresettings(self, request: AMIMessage) -> None:
        self.respond(
            request,
            "Success",
            ("AMIversion", AMI_VERSION),
            ("AsteriskVersion", ASTERISK_VERSION),
            ("SystemName", ""),
            ("CoreMaxCalls", "0"),
            ("CoreMaxLoadAvg", "0.000000"),
            ("CoreRunUser", ""),
            ("CoreRunGroup", ""),
            ("CoreMaxFilehandles", "0"),
            ("CoreRealTimeEnabled", "No"),
            ("CoreCDRenabled", "Yes"),
            ("CoreHTTPenabled", "No"),
            ("SoundsSearchCustomDir", "No"),
        )

    def action_command(self, request: AMIMessage) -> None:
        command = request.get("Command", "")
        if command.strip() == "core show version":
            built = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.sim.started))
            self.respond(
                request,
                "Success",
                (
                    "Output",
                    f"Asterisk {ASTERISK_VERSION} built by root @ vm on a x86_64 running "
                    f"Linux on {built} UTC",
                ),
                message="Command output follows",
            )
            return
        # Asterisk names the best-matching command prefix; two words is what it shows for
        # unknown commands in practice ("no such cli command" -> "no such").
        first = " ".join(command.split()[:2])
        self.respond(
            request,
            "Error",
            (
                "Output",
                f"No such command '{command}' (type 'core show help {first}' "
                "for other possible commands)",
            ),
            message="Command output follows",
        )

    def _named_channel(self, request: AMIMessage) -> Channel | None:
        """The request's Channel, or None after answering "No such channel"."""
        chan = self.sim.channels.get(request.get("Channel") or "")
        if chan is None:
            self.error(request, "No such channel")
        return chan

    def action_getvar(self, request: AMIMessage) -> None:
        name = request.get("Variable", "")
        if request.get("Channel"):
            chan = self._named_channel(request)
            if chan is None:
                return
            value = chan.variables.get(name, "")
        else:
            value = self.sim.global_vars.get(name, "")
        self.respond(request, "Success", ("Variable", name), ("Value", value))

    def action_setvar(self, request: AMIMessage) -> None:
        name, value = request.get("Variable", ""), request.get("Value", "")
        if request.get("Channel"):
            chan = self._named_channel(request)
            if chan is None:
                return
            chan.variables[name] = value
            self.respond(request, "Success", message="Variable Set")
            self.sim.channel_event("VarSet", "dialplan", chan, ("Variable", name), ("Value", value))
            return
        self.sim.global_vars[name] = value
        self.respond(request, "Success", message="Variable Set")
        self.sim.publish(
            "VarSet",
            "dialplan",
            [("Channel", "none"), ("Uniqueid", "none"), ("Variable", name), ("Value", value)],
        )

    def action_coreshowchannels(self, request: AMIMessage) -> None:
        now = self.sim.now()
        items = []
        for chan in self.sim.channels.values():
            secs = int(now - chan.created)
            items.append(
                (
                    "CoreShowChannel",
                    [
                        *chan.block(),
                        ("Application", chan.application),
                        ("ApplicationData", chan.app_data),
                        ("Duration", f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"),
                        ("BridgeId", chan.bridge),  # last, as manager.c writes it (22.10.1)
                    ],
                )
            )
        self.list_response(
            request, "Channels will follow", items, "CoreShowChannelsComplete", id_first=True
        )

    def action_status(self, request: AMIMessage) -> None:
        """manager.c's Status: every channel (or the one named), with the channel variables
        the request's ``Variables`` lists, one ``Variable: NAME=value`` header each."""
        if request.get("Channel"):
            chan = self._named_channel(request)
            if chan is None:
                return
            chans = [chan]
        else:
            chans = list(self.sim.channels.values())
        names = [n.strip() for n in (request.get("Variables") or "").split(",") if n.strip()]
        # a Local channel carries signed linear audio; a phone's the codec it agreed (ulaw here)
        audio = {"Local": "slin"}
        now = self.sim.now()
        items = [
            (
                "Status",
                [
                    ("Privilege", "Call"),
                    *chan.block(),
                    ("Type", kind),
                    ("DNID", ""),
                    ("EffectiveConnectedLineNum", chan.connected_num),
                    ("EffectiveConnectedLineName", chan.connected_name),
                    ("TimeToHangup", "0"),
                    ("BridgeID", chan.bridge),
                    ("Application", chan.application),
                    ("Data", chan.app_data),
                    ("Nativeformats", f"({audio.get(kind, 'ulaw')})"),
                    ("Readformat", audio.get(kind, "ulaw")),
                    ("Readtrans", ""),
                    ("Writeformat", audio.get(kind, "ulaw")),
                    ("Writetrans", ""),
                    ("Callgroup", "0"),
                    ("Pickupgroup", "0"),
                    ("Seconds", str(int(now - (chan.answered or chan.created)))),
                    # manager.c prints an unset variable's NULL as glibc does: "(null)"
                    *(("Variable", f"{n}={chan.variables.get(n, '(null)')}") for n in names),
                ],
            )
            for chan, kind in ((c, c.name.split("/", 1)[0]) for c in chans)
        ]
        self.list_response(
            request,
            "Channel status will follow",
            items,
            "StatusComplete",
            done_extra=(("Items", str(len(items))),),
        )

    def action_hangup(self, request: AMIMessage) -> None:
        chan = self._named_channel(request)
        if chan is None:
            return
        self.respond(request, "Success", message="Channel Hungup")
        call = self.sim.calls.get(chan.linkedid)
        if call is not None:
            call.hangup_by_request(chan)

    def action_events(self, request: AMIMessage) -> None:
        mask = request.get("EventMask", "on").strip().lower()
        if mask in ("off", "no", "false", "0"):
            self.events_mask = set()
            self.respond(request, "Success", ("Events", "Off"))
            return
        if mask in ("on", "yes", "true", "all", "1"):
            self.events_mask = None
        else:
            self.events_mask = {part.strip() for part in mask.split(",") if part.strip()}
        self.respond(request, "Success", ("Events", "On"))

    def action_filter(self, request: AMIMessage) -> None:
        if request.get("Operation", "Add").lower() != "add":
            self.error(request, "Unknown operation")
            return
        try:
            self.filters.append(re.compile(request.get("Filter", "")))
        except re.error:
            self.error(request, BAD_FILTER)
            return
        self.respond(request, "Success", message="Success")

    def action_originate(self, request: AMIMessage) -> None:
        cid_num, cid_name = parse_caller_id(request.get("CallerID"))
        variables = []
        for item in request.get_all("Variable"):
            key, _, value = item.partition("=")
            variables.append((key, value))
        try:
            timeout_ms = int(request.get("Timeout", "30000"))
        except ValueError:
            self.error(request, "Invalid timeout")
            return
        req = OriginateRequest(
            action_id=request.action_id,
            dial=request.get("Channel", ""),
            context=request.get("Context"),
            exten=request.get("Exten"),
            priority=request.get("Priority"),
            application=request.get("Application"),
            data=request.get("Data"),
            timeout_s=timeout_ms / 1000,
            cid_num=cid_num,
            cid_name=cid_name,
            variables=variables,
            is_async=(request.get("Async", "false").lower() in ("true", "yes", "1")),
        )
        if not req.dial:
            self.error(request, "Channel not specified")
            return
        if not self.sim.landing_exists(req):
            self.error(request, "Extension does not exist.")
            return

        def respond(ok: bool) -> None:
            if self.gone or self.closing:
                return
            if ok:
                self.respond(request, "Success", message="Originate successfully queued")
            else:
                self.error(request, "Originate failed")

        self.sim.originate(req, respond)

    # -- queues --------------------------------------------------------------------
    def _queues(self, request: AMIMessage) -> list[Queue]:
        name = request.get("Queue")
        queues = self.sim.queues
        return list(queues.values()) if not name else [queues[name]] if name in queues else []

    def action_queuestatus(self, request: AMIMessage) -> None:
        items: list[tuple[str, list[Header]]] = []
        for queue in self._queues(request):
            items.append(("QueueParams", queue.params()))
            items.extend(("QueueMember", m.status_headers(queue.name)) for m in queue.members)
            items.extend(
                ("QueueEntry", caller.entry_headers(queue.name, position, self.sim.now()))
                for position, caller in enumerate(queue.waiting, 1)
            )
        self.list_response(request, "Queue status will follow", items, "QueueStatusComplete")

    def action_queuesummary(self, request: AMIMessage) -> None:
        items = [("QueueSummary", q.summary(self.sim.now())) for q in self._queues(request)]
        self.list_response(request, "Queue summary will follow", items, "QueueSummaryComplete")

    def action_queueadd(self, request: AMIMessage) -> None:
        """A dynamic member (app_queue's replies, as Asterisk 22.10.1 words them)."""
        name, interface = request.get("Queue"), request.get("Interface")
        if not name or not interface:
            self.error(request, f"'{'Interface' if name else 'Queue'}' not specified.")
            return
        queue = self.sim.queues.get(name)
        if queue is None:
            self.error(request, "Unable to add interface to queue: No such queue")
            return
        if any(m.interface == interface for m in queue.members):
            self.error(request, "Unable to add interface: Already there")
            return
        name = request.get("MemberName") or interface
        paused = request.get("Paused", "").lower() in ("true", "yes", "1")
        phone = self.sim.agents.get(interface, AgentPlan())  # does the phone answer?
        added = QueueMember(
            name, interface, ring_s=phone.ring_s, answers=phone.answer, paused=paused
        )
        added.membership = "dynamic"
        added.login_time = int(self.sim.now())
        queue.members.append(added)
        self.respond(request, "Success", message="Added interface to queue")
        self.sim.publish("QueueMemberAdded", "agent", added.event_headers(queue.name))
        self.sim.serve_queue(queue)

    def action_queueremove(self, request: AMIMessage) -> None:
        name, interface = request.get("Queue"), request.get("Interface")
        if not name or not interface:
            self.error(request, "Need 'Queue' and 'Interface' parameters.")
            return
        queue = self.sim.queues.get(name)
        if queue is None:
            self.error(request, "Unable to remove interface from queue: No such queue")
            return
        found = [m for m in queue.members if m.interface == interface]
        if not found:
            self.error(request, "Unable to remove interface: Not there")
            return
        if found[0].membership != "dynamic":
            self.error(request, "Member not dynamic")
            return
        queue.members.remove(found[0])
        self.respond(request, "Success", message="Removed interface from queue")
        self.sim.publish("QueueMemberRemoved", "agent", found[0].event_headers(queue.name))

    def action_queuepause(self, request: AMIMessage) -> None:
        interface = request.get("Interface", "")
        paused = request.get("Paused", "").lower() in ("true", "yes", "1")
        found = [
            (queue, member)
            for queue in self._queues(request)
            for member in queue.members
            if member.interface == interface
        ]
        if not found:
            self.error(request, "Interface not found")
            return
        word = "paused" if paused else "unpaused"
        self.respond(request, "Success", message=f"Interface {word} successfully")
        for queue, member in found:
            self.sim.pause_member(queue, member, paused, request.get("Reason", ""))


def _event_tv(seconds: float) -> str:
    millis = int(seconds * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}+0000"
