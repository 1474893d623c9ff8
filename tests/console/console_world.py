"""The console's browser tests' world: `hotline serve` as a subprocess beside a simulated PBX
(the flows over FastAGI, the queues over AMI) that runs on a private reactor in a thread, and
Debian's Chromium driven by Playwright in the test's thread."""

from __future__ import annotations

import shutil
import threading
import urllib.request
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.epollreactor import EPollReactor
from twisted.internet.threads import blockingCallFromThread

from hotline.app import App
from hotline.core.users import add_user
from hotline.net.tcp import bound_port
from hotline.pbxsim.fastagi import Input, Keys, Silence, SimCaller, Speak
from hotline.pbxsim.pbx import InboundResult, SimulatedPBX, agent_queues

from service_process import ServiceProcess, free_port

T = TypeVar("T")
SignIn = Callable[[str], Any]  # a user's name -> a signed-in Playwright Page
CHROMIUM = "/usr/bin/chromium"
AMI_USER, AMI_SECRET = "hotline", "console-test-secret"
PASSWORD = "console-password-1"
RESIDENTS_CSV = """unit,name,phone,phone2,lang,do_not_call
3-2-301,王芳,13700002222,,zh,no
3-1-202,Li Na,13900001111,,en,no
8-3-502,陈杰,13500004444,,zh,no
"""
# Users: two agents whose extensions are the simulated queue members, a supervisor with a phone.
USERS = (
    ("li", "agent", "101", "zh"),
    ("zhao", "agent", "102", "en"),
    ("wang", "supervisor", "201", "en"),
)
# Repairs ring agent 101 alone, so a repair's pop has one right screen; 102 takes the rest.
LAYOUT: dict[str, tuple[str, ...]] = {
    "repairs": ("101",),
    "complaints": ("102",),
    "enquiries": ("102",),
    "cashier": ("102",),
    "duty": ("102",),
}
SETTLE_S = 3  # a recording this old (by its mtime) is indexed
TIME_SCALE = 0.25  # the simulated PBX runs 4x faster than real time
# A known resident reports a leak (an emergency repair): the flow files it, the repairs queue
# rings agent 101.
LEAK: list[Input] = [Silence(), Silence(), Keys("1"), Keys("1"), Speak(2.0), Keys("1")]


def shipped_event_denials() -> tuple[str, ...]:
    """The `eventfilter = !regex` lines of the shipped manager.conf: what Asterisk never sends
    the service (the simulator drops the same)."""
    conf = Path(__file__).resolve().parents[2] / "asterisk-conf" / "manager.conf"
    return tuple(
        value.strip().removeprefix("!")
        for key, _, value in (line.partition("=") for line in conf.read_text().splitlines())
        if key.strip() == "eventfilter" and value.strip().startswith("!")
    )


def why_no_browser() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no {CHROMIUM}: install Debian's chromium (./run test does)"
    if shutil.which("chromium") is None:
        return "chromium is not on PATH"
    return None


class ReactorThread:
    """A private reactor running in a thread: the simulated PBX lives there."""

    def __init__(self) -> None:
        self.reactor = EPollReactor()
        self.thread = threading.Thread(
            target=self.reactor.run, kwargs={"installSignalHandlers": False}, daemon=True
        )
        self.thread.start()

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        result: T = blockingCallFromThread(self.reactor, fn, *args)
        return result

    def stop(self) -> None:
        self.reactor.callFromThread(self.reactor.stop)
        self.thread.join(10)


@dataclass
class Console:
    """One service and its PBX; calls placed with ``call`` run in the reactor thread."""

    service: ServiceProcess
    loop: ReactorThread
    pbx: SimulatedPBX
    web_port: int
    calls: list[Deferred[InboundResult]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def call(self, number: str, inputs: list[Input], name: str | None = None) -> None:
        def place() -> None:
            self.calls.append(self.pbx.call(SimCaller(number, name, list(inputs))))

        self.loop.call(place)

    def member(self, extension: str) -> Any:
        """The simulated queue member of an extension (read in the reactor thread)."""

        def find() -> Any:
            for queue in self.pbx.ami.queues.values():
                for m in queue.members:
                    if m.interface == f"PJSIP/agent{extension}":
                        return m
            raise AssertionError(f"no member {extension}")

        return self.loop.call(find)

    def api_up(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/openapi.json", timeout=2) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False


def start_console(
    home: Path,
    db_url: str,
    talk_s: float,
    *,
    users: tuple[tuple[str, str, str, str], ...] = USERS,
    layout: dict[str, tuple[str, ...]] = LAYOUT,
    residents_csv: str = RESIDENTS_CSV,
    time_scale: float = TIME_SCALE,
    prepare: Callable[[App], object] = lambda app: None,
) -> Generator[Console, None, None]:
    """The world, up; torn down when the generator is closed. Every agent of ``layout`` is a
    simulated queue member (a benchmark gives more agents and residents)."""
    loop = ReactorThread()
    fastagi_port, web_port = free_port(), free_port()
    agents = sorted({ext for exts in layout.values() for ext in exts})
    queues = agent_queues(agents, ring_s=2.0, talk_s=(talk_s, talk_s), layout=layout, login_time=0)
    pbx = loop.call(
        lambda: SimulatedPBX(
            loop.reactor,
            fastagi_port,
            queues=queues,
            time_scale=time_scale,
            users={AMI_USER: AMI_SECRET},
            denied_events={AMI_USER: shipped_event_denials()},
        )
    )
    ami_port = loop.call(lambda: bound_port(pbx.listen_ami()))
    service = ServiceProcess(
        home,
        db_url,
        {
            "HOTLINE_WEB_LISTEN": f"127.0.0.1:{web_port}",
            "HOTLINE_AMI_PORT": str(ami_port),
            "HOTLINE_AMI_USERNAME": AMI_USER,
            "HOTLINE_AMI_SECRET": AMI_SECRET,
            # Recordings indexed soon after they are written: a pop's player is seen arriving.
            "HOTLINE_RECORDINGS_INDEX_SECONDS": "1",
            "HOTLINE_RECORDINGS_SETTLE_SECONDS": str(SETTLE_S),
        },
        fastagi_port=fastagi_port,
    )
    app = service.init(residents_csv)
    with app.db.session() as s:
        for name, role, extension, language in users:
            add_user(s, name, role, PASSWORD, app.now(), extension, language)
    prepare(app)  # more data, before the service starts
    app.db.dispose()
    console = Console(service, loop, pbx, web_port)
    service.start()
    try:
        wait_until(console.api_up, "the HTTP API answers", service)
        yield console
    finally:
        service.stop()
        loop.stop()


def wait_until(check: Callable[[], bool], what: str, service: ServiceProcess) -> None:
    """A bounded wait on the subprocess (it has no event to wait on)."""
    import time

    deadline = time.monotonic() + 60
    while not check():
        if not service.running():
            raise AssertionError(f"hotline serve exited:\n{service.log_tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within 60 s\n{service.log_tail()}")
        time.sleep(0.1)
