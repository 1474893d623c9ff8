"""Asterisk's side for the fault tests: residents who call in, and an AMI that dials out.

Both are the project's simulators (pbxsim/fastagi.py, pbxsim/ami.py), run on the test's
private reactor against the `hotline serve` subprocess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred

from hotline.core import dialplan as contract
from hotline.net.tcp import connected
from hotline.pbxsim.ami import AMISimulator
from hotline.pbxsim.ami_pbx import OriginateRequest
from hotline.pbxsim.ami_residents import ResidentModel, ResidentPlan
from hotline.pbxsim.fastagi import Input, Keys, PBXOptions, Silence, SimCaller, SimCallResult, Speak
from hotline.pbxsim.fastagi import simulate_call as _simulate_call

SCALE = 0.01  # simulated seconds per real second: a repair call takes about 0.3 s
AMI_USER, AMI_SECRET = "hotline", "faults-secret"
DIALER_ENV = {
    "HOTLINE_AMI_USERNAME": AMI_USER,
    "HOTLINE_AMI_SECRET": AMI_SECRET,
    "HOTLINE_DIALER_CHANNEL_TEMPLATE": "Local/{number}@residents",
    "HOTLINE_DIALER_POLL_SECONDS": "0.05",
}


def phone(n: int) -> str:
    return f"1370000{n:04d}"


def estate_csv(residents: int) -> str:
    """One resident per unit in building 1, phones 13700000000, 13700000001, ..."""
    rows = ["unit,name,phone,phone2,lang,do_not_call"]
    rows += [f"1-1-{101 + n},住户{n},{phone(n)},,zh,no" for n in range(residents)]
    return "\n".join(rows) + "\n"


# A known resident reports a plumbing repair, records it, and confirms it (report-confirmed).
REPAIR: list[Input] = [Silence(), Silence(), Keys("1"), Keys("4"), Speak(2.0), Keys("1")]
# The same report from a number the service does not know (or cannot look up: database down):
# the caller keys in the unit 1-1-101.
KEYED: list[Input] = [Silence(), Keys("1*1*101#"), Keys("1"), Keys("4"), Speak(2.0), Keys("1")]
UNKNOWN = "13999990000"
CONFIRMED = "hotline/report-confirmed"


def options(scale: float = SCALE, **kw: Any) -> PBXOptions:
    return PBXOptions(time_scale=scale, **kw)


def call(
    reactor: Any,
    port: int,
    number: str | None,
    inputs: list[Input] | None = None,
    *,
    scale: float = SCALE,
    name: str | None = None,
    observer: Callable[[str, str, float], None] | None = None,
    **kw: Any,
) -> Deferred[SimCallResult]:
    """One resident's call (by default the confirmed repair report); `kw` are PBXOptions."""
    caller = SimCaller(number, name, list(REPAIR if inputs is None else inputs))
    return _simulate_call(
        reactor, "127.0.0.1", port, caller, options=options(scale, **kw), observer=observer
    )


def sent(result: SimCallResult) -> list[str]:
    """The commands the service sent."""
    return [line for d, line, _ in result.transcript if d == "<<"]


def reached(result: SimCallResult) -> bool:
    """The service took the call in: it answered and went on (the record is written between
    the ANSWER and the next command; a kill inside that one transaction leaves no record)."""
    commands = sent(result)
    return len(commands) > 1 and commands[0] == "ANSWER"


def heard_confirmed(result: SimCallResult) -> bool:
    return any(line.startswith(f"STREAM FILE {CONFIRMED} ") for line in sent(result))


def uniqueid(result: SimCallResult) -> str:
    for d, line, _ in result.transcript:
        if d == ">>" and line.startswith("agi_uniqueid: "):
            return line.removeprefix("agi_uniqueid: ")
    raise AssertionError("no agi_uniqueid sent")


def inbound_key(result: SimCallResult) -> str:
    return f"in:{uniqueid(result)}"


# --- outbound -------------------------------------------------------------------------------------
class Residents(ResidentModel):
    """Every number does the same thing."""

    def __init__(self, plan: ResidentPlan) -> None:
        self.the_plan = plan

    def plan(self, number: str, context: str) -> ResidentPlan | None:
        return self.the_plan if number.isdigit() else None


@dataclass
class Originate:
    number: str
    call_id: str
    at: float  # the simulator's reactor clock
    recorded_before: bool | None  # an attempt record existed when the Originate arrived


@dataclass
class Dialling:
    """What the PBX saw of the dialer: every Originate, in order."""

    originates: list[Originate] = field(default_factory=list)

    def numbers(self) -> list[str]:
        return [o.number for o in self.originates]


class RecordingAMI(AMISimulator):
    """The AMI simulator, noting each Originate and asking `attempt_recorded(call_id)` (the
    database, read by the test) whether its attempt record was written before it was sent."""

    def __init__(
        self,
        reactor: Any,
        dialling: Dialling,
        attempt_recorded: Callable[[str], bool] | None,
        plan: ResidentPlan,
        **kw: Any,
    ) -> None:
        super().__init__(
            reactor,
            users={AMI_USER: AMI_SECRET},
            residents=Residents(plan),
            time_scale=kw.pop("time_scale", SCALE),
            **kw,
        )
        self.dialling = dialling
        self.attempt_recorded = attempt_recorded

    def originate(self, req: OriginateRequest, respond: Callable[[bool], None]) -> None:
        variables = dict(req.variables)
        call_id = variables.get(contract.CALL_ID, "")
        number = req.dial.split("/", 1)[1].split("@", 1)[0]
        recorded = self.attempt_recorded(call_id) if self.attempt_recorded else None
        self.dialling.originates.append(Originate(number, call_id, self.now(), recorded))
        super().originate(req, respond)

    def kill(self) -> None:
        """Asterisk goes away: every AMI connection is cut and every call with it."""
        for session in list(self.sessions):
            connected(session).abortConnection()
