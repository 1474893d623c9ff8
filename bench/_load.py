"""Load-test plumbing: `hotline serve` as a separate process, and a lean Asterisk side of FastAGI.

The PBX simulator is exact but costs too much CPU to drive hundreds of calls a second from the
same two cores, so one call is placed through it first (``record_script``) and its transcript
becomes a script: the commands our flow sends (digit runs masked: unit, ticket number and
uniqueid vary by call) and Asterisk's reply to each, byte for byte. ``place_call`` then replays
that script per call over a raw asyncio socket, checking every command against it.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hotline.pbxsim.fastagi import Input, PBXOptions, SimCaller, SimCallResult, environment_lines

HOTLINE = Path(sys.executable).with_name("hotline")


def daytime_timezone(now: datetime | None = None) -> str:
    """A site timezone in which it is now about noon. The flows read the wall clock, and the
    standard call must take the office-hours path whatever the hour the benchmark runs at."""
    offset = 12 - (now or datetime.now(UTC)).hour  # -11 .. +12 hours from UTC
    return f"Etc/GMT{-offset:+d}"  # POSIX-style names: Etc/GMT-2 is UTC+2


# Every `hotline` process the benchmarks start runs with this environment over their own.
SITE_ENV = {"HOTLINE_SITE_TIMEZONE": daytime_timezone()}
_DIGITS = re.compile(rb"\d+")
START_TIMEOUT = 30.0  # seconds for `hotline serve` to listen
CALL_TIMEOUT = 120.0  # a call that takes longer is counted as an error and dropped


# --- the server under test ------------------------------------------------------------------------


def residents_csv(path: Path, count: int) -> list[str]:
    """One resident a flat (zh, a unique mobile); returns the phone numbers."""
    phones = [f"139{n:08d}" for n in range(count)]
    rows = [
        f"{1 + n // 600}-{1 + n // 200 % 3}-{(1 + n // 2 % 100) * 100 + 1 + n % 2},"
        f"住户{n},{phone},,zh,no"
        for n, phone in enumerate(phones)
    ]
    path.write_text("unit,name,phone,phone2,lang,do_not_call\n" + "\n".join(rows) + "\n", "utf-8")
    return phones


def make_home(
    root: Path, residents: int, env: dict[str, str] | None = None
) -> tuple[Path, list[str]]:
    """`hotline init` and a residents import, through the CLI as an operator does it; ``env``:
    settings over the defaults (HOTLINE_DB_URL for PostgreSQL)."""
    home = root / "home"
    phones = residents_csv(root / "residents.csv", residents)
    env = {**os.environ, **(env or {}), "HOTLINE_HOME": str(home)}
    for args in (["init"], ["residents", "import", str(root / "residents.csv")]):
        subprocess.run([HOTLINE, *args], env=env, check=True, stdout=subprocess.DEVNULL)
    return home, phones


class ServerProcess:
    """`hotline serve` on ephemeral loopback ports, the AMI secret unset (dialer off)."""

    def __init__(
        self,
        home: Path,
        log_path: Path,
        env: dict[str, str] | None = None,
        command: Sequence[str] = (str(HOTLINE),),
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.home, self.log_path = home, log_path
        self.env = env or {}  # settings over the defaults below
        self.command = list(command)  # `hotline`, or under valgrind or a profiler
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> int:
        env = {
            **os.environ,
            "HOTLINE_HOME": str(self.home),
            "HOTLINE_FASTAGI_LISTEN": "127.0.0.1:0",
            "HOTLINE_METRICS_LISTEN": "127.0.0.1:0",
            "HOTLINE_WEB_LISTEN": "",
            "HOTLINE_AMI_SECRET": "",
            **SITE_ENV,
            **self.env,
        }
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen([*self.command, "serve"], env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            found = re.search(r"FastAGI listening on [\d.]+:(\d+)", self.log_path.read_text())
            if found:
                self.port = int(found[1])
                return self.port
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"hotline serve did not start; see {self.log_path}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)

    def children_cpu_seconds(self) -> float:
        """The CPU of the service's running children (the API's reader processes)."""
        children: set[int] = set()
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            children.update(int(c) for c in (task / "children").read_text().split())
        return sum(process_cpu_seconds(c) for c in children)

    def memory_kb(self, field_name: str = "VmRSS") -> int:
        """VmRSS now, or VmHWM: the kernel's own peak RSS of the process."""
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
        raise RuntimeError(f"{field_name} missing from /proc/{self.pid}/status")

    def errors_logged(self) -> list[str]:
        text = self.log_path.read_text(errors="replace")
        return [line for line in text.splitlines() if " ERROR " in line or "Traceback" in line]

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --- the recorded call ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CallScript:
    """What the flow sends (digits masked) and what Asterisk answers, step by step."""

    commands: tuple[bytes, ...]
    replies: tuple[bytes, ...]
    reference_key: str  # the recorded call's `in:<uniqueid>`, to compare records with

    @classmethod
    def from_transcript(
        cls, transcript: Sequence[tuple[str, str, float]], reference_key: str
    ) -> CallScript:
        commands: list[bytes] = []
        replies: list[list[str]] = []
        in_env = True
        for direction, line, _t in transcript:
            if direction == "<<":
                in_env = False
                commands.append(_DIGITS.sub(b"0", line.encode()))
                replies.append([])
            elif not in_env and replies:
                replies[-1].append(line)
        # The last HANGUP answers our half-close, not a command: place_call sends it at EOF.
        if replies and replies[-1][-1:] == ["HANGUP"]:
            replies[-1].pop()
        return cls(
            tuple(commands),
            tuple("".join(f"{line}\n" for line in lines).encode() for lines in replies),
            reference_key,
        )


def record_script(port: int, number: str, inputs: list[Input]) -> CallScript:
    """Place one call through the PBX simulator (Twisted, run once here) and keep its bytes."""
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred

    from hotline.pbxsim.fastagi import simulate_call

    results: list[SimCallResult | Exception] = []

    async def call() -> None:
        try:
            results.append(
                await simulate_call(reactor, "127.0.0.1", port, SimCaller(number, None, inputs))
            )
        except Exception as exc:  # reported below, after the reactor stops
            results.append(exc)
        finally:
            reactor.stop()

    reactor.callWhenRunning(lambda: Deferred.fromCoroutine(call()))
    # IReactorCore.run declares no arguments; the reactor Twisted installs takes this one.
    reactor.run(installSignalHandlers=False)  # type: ignore[call-arg]
    (result,) = results
    if isinstance(result, Exception):
        raise result
    prefix = "agi_uniqueid: "
    uniqueid = next(line for _d, line, _t in result.transcript if line.startswith(prefix))
    return CallScript.from_transcript(result.transcript, f"in:{uniqueid.removeprefix(prefix)}")


# --- one call, Asterisk's side --------------------------------------------------------------------


@dataclass
class CallOutcome:
    key: str
    connect_to_answer: float | None = None
    # (received at, seconds since our reply, script step of the command received)
    turnarounds: list[tuple[float, float, int]] = field(default_factory=list)
    error: str | None = None


_sequence = iter(range(1_000_000, 1 << 62))  # clear of the simulator's own uniqueids
_PBX = PBXOptions()


def environment(number: str, script: str, request: str) -> tuple[bytes, str]:
    """A fresh channel's environment block, as Asterisk 22 sends it, and its call key."""
    seq = next(_sequence)
    channel = f"Local/8000@hotline-{seq:08x};2"
    uniqueid = f"{int(time.time())}.{seq}"
    lines = environment_lines(
        SimCaller(number),
        _PBX,
        script,
        request,
        (),
        channel,
        uniqueid,
        str(random.getrandbits(47)),
    )
    return "".join(line + "\n" for line in lines).encode() + b"\n", f"in:{uniqueid}"


class ScriptCursor:
    """Walks one call through the script: checks each command, gives the reply."""

    def __init__(self, script: CallScript, outcome: CallOutcome) -> None:
        self.script, self.outcome, self.step = script, outcome, 0

    def reply_to(self, line: bytes) -> bytes | None:
        """Asterisk's reply, or None (and the outcome's error set) if the flow went off script."""
        step, commands = self.step, self.script.commands
        masked = _DIGITS.sub(b"0", line.rstrip(b"\r"))
        if step >= len(commands) or masked != commands[step]:
            expected = commands[step].decode() if step < len(commands) else "the end"
            self.outcome.error = f"step {step}: got {line.decode()!r}, expected {expected!r}"
            return None
        self.step += 1
        return self.script.replies[step]

    def at_end(self) -> None:
        if self.outcome.error is None and self.step != len(self.script.commands):
            self.outcome.error = f"flow ended after {self.step} of {len(self.script.commands)}"


class _AsteriskSide(asyncio.Protocol):
    def __init__(
        self,
        env: bytes,
        cursor: ScriptCursor,
        pace: Callable[[], float] | None,
        started: float,
        done: asyncio.Future[None],
    ) -> None:
        self.env, self.cursor, self.pace = env, cursor, pace
        self.outcome = cursor.outcome
        self.started, self.done = started, done
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.replied_at: float | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.env)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        *lines, self.buffer = (self.buffer + data).split(b"\n")
        for line in lines:
            if self.outcome.error is not None:
                return
            if self.replied_at is not None:
                self.outcome.turnarounds.append((now, now - self.replied_at, self.cursor.step))
                self.replied_at = None
            elif self.cursor.step == 0:
                self.outcome.connect_to_answer = now - self.started
            reply = self.cursor.reply_to(line)
            if reply is None:
                assert self.transport is not None
                self.transport.abort()
            elif self.pace is None:
                self._reply(reply)
            else:
                self.loop.call_later(self.pace(), self._reply, reply)

    def _reply(self, reply: bytes) -> None:
        assert self.transport is not None
        if not self.transport.is_closing():
            self.transport.write(reply)
            self.replied_at = time.perf_counter()

    def eof_received(self) -> bool:
        # The script half-closed: Asterisk says HANGUP once more and closes (agi-07).
        self.cursor.at_end()
        assert self.transport is not None
        self.transport.write(b"HANGUP\n")
        self.transport.close()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.cursor.at_end()
        if exc is not None and self.outcome.error is None:
            self.outcome.error = f"connection lost: {exc}"
        if not self.done.done():
            self.done.set_result(None)


async def place_call(
    port: int, script: CallScript, number: str, pace: Callable[[], float] | None = None
) -> CallOutcome:
    """One FastAGI call into 127.0.0.1:port, replies after ``pace()`` seconds (None: at once)."""
    loop = asyncio.get_running_loop()
    route = "inbound"
    env, key = environment(number, route, f"agi://127.0.0.1:{port}/{route}")
    outcome = CallOutcome(key)
    done: asyncio.Future[None] = loop.create_future()
    started = time.perf_counter()
    cursor = ScriptCursor(script, outcome)
    try:
        transport, _ = await loop.create_connection(
            lambda: _AsteriskSide(env, cursor, pace, started, done), "127.0.0.1", port
        )
    except OSError as exc:
        outcome.error = f"connect: {exc}"
        return outcome
    try:
        await asyncio.wait_for(done, CALL_TIMEOUT)
    except TimeoutError:
        outcome.error = f"no end within {CALL_TIMEOUT:g} s"
        transport.abort()
    return outcome


async def place_classic_call(
    script: CallScript, number: str, home: Path, settings: dict[str, str] | None = None
) -> CallOutcome:
    """`hotline agi inbound`, a process per call over pipes, as Asterisk's AGI() runs a script;
    ``settings``: environment over the defaults (HOTLINE_DB_URL for PostgreSQL)."""
    env, key = environment(number, "inbound", "hotline-agi")
    # A local script gets no agi_network / agi_network_script lines (res_agi's setup_env).
    env = b"".join(line + b"\n" for line in env.split(b"\n")[2:-1])
    outcome = CallOutcome(key)
    cursor = ScriptCursor(script, outcome)
    proc = await asyncio.create_subprocess_exec(
        HOTLINE,
        "agi",
        "inbound",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **SITE_ENV, **(settings or {}), "HOTLINE_HOME": str(home)},
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(env)
    while line := await proc.stdout.readline():
        reply = cursor.reply_to(line.rstrip(b"\n"))
        if reply is None:
            proc.kill()
            break
        proc.stdin.write(reply)
    cursor.at_end()
    if outcome.error is None:
        proc.stdin.write(b"HANGUP\n")
    proc.stdin.close()
    if await proc.wait() != 0 and outcome.error is None:
        outcome.error = f"exit status {proc.returncode}"
    return outcome


# --- what the calls left in the database ----------------------------------------------------------


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A throw-away PostgreSQL database on the server of ``admin_url``: its URL."""
    name = f"hotline_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def database_version(url: str) -> str:
    """`SQLite 3.40.1`, `PostgreSQL 15.19`: the server the figures were measured on."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                return f"SQLite {conn.scalar(text('SELECT sqlite_version()'))}"
            return f"PostgreSQL {conn.scalar(text('SHOW server_version'))}"
    finally:
        engine.dispose()


def check_records(db_url: str, script: CallScript, keys: Sequence[str]) -> list[str]:
    """Every call made the same ticket and call record as the recorded one: the problems."""
    query = text(
        "SELECT c.key, c.disposition, c.path, t.kind, t.category, t.incomplete, t.intake_key"
        " FROM call_records c LEFT JOIN tickets t ON t.id = c.ticket_id"
    )
    engine = create_engine(db_url)
    try:
        with engine.connect() as db:
            rows = {row[0]: tuple(row[1:]) for row in db.execute(query)}
    finally:
        engine.dispose()
    reference = rows.get(script.reference_key)
    if reference is None or reference[2] is None:
        return [f"the reference call {script.reference_key} made no call record with a ticket"]
    problems = []
    for key in keys:
        row = rows.get(key)
        if row is None:
            problems.append(f"{key}: no call record")
        elif row[:5] != reference[:5] or row[5] != key:
            problems.append(f"{key}: {row} differs from the reference {reference}")
    return problems


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU of a process (its threads included), from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]
