"""PBX simulator: Asterisk's side of FastAGI, answering like Asterisk 22 (see the golden README).

It connects to a FastAGI server as Asterisk does, sends the environment block, and answers each
command with the bytes real Asterisk sends, driven by a scripted resident (``SimCaller``).
Simulated time runs on a virtual clock; ``time_scale`` stretches it onto the real one.
"""

from __future__ import annotations

import itertools
import math
import random
import re
import struct
import time
import wave
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from twisted.internet.defer import Deferred, DeferredQueue
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import connectionDone
from twisted.internet.task import deferLater
from twisted.protocols.basic import LineOnlyReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from hotline.net.tcp import connected

SAMPLE_RATE = 8000
HANGUP_NOTICE_DELAY = 0.04  # Asterisk's HANGUP line trails the result=-1 by about this much

RESULT_511 = "511 Command Not Permitted on a dead channel or intercept routine"
RESULT_510 = "510 Invalid or unknown command"
USAGE_NOT_AVAILABLE = "520 Invalid command syntax.  Proper usage not available."
USAGE_FOLLOWS = "520-Invalid command syntax.  Proper usage follows:"
USAGE_END = "520 End of proper usage."
# As Asterisk 22.10.1 sends it (raw XML-doc markup included), captured in agi-01.
STREAM_FILE_USAGE = (
    "Send the given file, allowing playback to be interrupted by the given digits, if any. "
    "Returns <literal>0</literal> if playback completes without a digit being pressed, or the "
    "ASCII numerical value of the digit if one was pressed, or <literal>-1</literal> on error or "
    "if the channel was disconnected. If musiconhold is playing before calling stream file it "
    "will be automatically stopped and will not be restarted after completion.",
    "It sets the following channel variables upon completion:",
    "<variable>PLAYBACKSTATUS</variable>: The status of the playback attempt as a text string.",
    "    <value>SUCCESS</value>",
    "    <value>FAILED</value>",
)


# --- the scripted resident ----------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    """DTMF typed during the command; keys it does not use stay buffered for the next one."""

    digits: str


@dataclass(frozen=True)
class Silence:
    pass


@dataclass(frozen=True)
class Speak:
    """For RECORD FILE: ``seconds`` of voice, then ``key`` (None: talk until the timeout or the
    silence limit), or a hang-up when ``hang_up``."""

    seconds: float
    key: str | None = "#"
    hang_up: bool = False


@dataclass(frozen=True)
class HangUp:
    pass


Input = Keys | Silence | Speak | HangUp


@dataclass
class SimCaller:
    number: str | None
    name: str | None = None
    inputs: list[Input] = field(default_factory=list)


@dataclass(frozen=True)
class PBXOptions:
    time_scale: float = 0.0  # 0: instant, 1: real time
    answer_seconds: float = 0.5
    prompt_seconds: float = 1.0  # any sound file, unless ``sounds`` says otherwise
    sounds: Mapping[str, float] | None = None  # name -> seconds; if given, others are missing
    key_seconds: float = 0.25
    say_digit_seconds: float = 0.4
    agisighup: bool = True  # AGISIGHUP=no turns the HANGUP lines off
    exit_on_hangup: bool = False  # AGIEXITONHANGUP=yes
    context: str = "hotline"
    extension: str = "8000"
    priority: int = 3
    language: str = "en"
    # The PBX's wall clock: the uniqueid starts with the epoch second the channel was created.
    wall_clock: Callable[[], float] = time.time
    uniqueid: str | None = None  # instead of `<epoch>.<n>` (a peer's odd or hostile uniqueid)


@dataclass(frozen=True)
class SimRecording:
    path: str  # the file written, with its extension
    seconds: float
    endpos: int
    ended_by: str  # "dtmf", "timeout" or "hangup"


@dataclass
class SimCallResult:
    variables: dict[str, str]
    transcript: list[tuple[str, str, float]]  # (">>" from the PBX | "<<" to it, line, sim time)
    hung_up_at: float | None
    agi_status: str  # SUCCESS, FAILURE or HANGUP, as Asterisk sets AGISTATUS
    recordings: list[SimRecording]
    channel: str = ""  # the call's channel and uniqueid, as the AGI environment gave them
    uniqueid: str = ""


Observer = Callable[[str, str, float], None]

_sequence = itertools.count()


# --- Asterisk's command-line parser and command table ---------------------------------------------


def parse_args(line: str) -> list[str]:
    """Split like res_agi's parse_args: blanks separate, quotes group, backslash escapes."""
    args: list[str] = []
    current: list[str] = []
    in_arg = quoted = escaped = False
    for char in line:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            in_arg = escaped = True
        elif char == '"':
            in_arg, quoted = True, not quoted
        elif char in " \t" and not quoted:
            if in_arg:
                args.append("".join(current))
                current, in_arg = [], False
        else:
            current.append(char)
            in_arg = True
    if in_arg:
        args.append("".join(current))
    return args


class _Usage(Exception):
    """A handler found the wrong arguments (RESULT_SHOWUSAGE)."""


@dataclass(frozen=True)
class _Command:
    handler: str
    dead_ok: bool  # allowed on a dead channel, else 511
    min_argc: int
    max_argc: int = 99
    usage: Sequence[str] | None = None


_COMMANDS: dict[tuple[str, ...], _Command] = {
    ("ANSWER",): _Command("answer", False, 1),
    ("CHANNEL", "STATUS"): _Command("channel_status", False, 2, 3),
    ("DATABASE", "DEL"): _Command("database_del", True, 4, 4),
    ("DATABASE", "GET"): _Command("database_get", True, 4, 4),
    ("DATABASE", "PUT"): _Command("database_put", True, 5, 5),
    ("EXEC",): _Command("exec", True, 2),
    ("GET", "DATA"): _Command("get_data", False, 3, 5),
    ("GET", "FULL", "VARIABLE"): _Command("get_full_variable", True, 4, 5),
    ("GET", "VARIABLE"): _Command("get_variable", True, 3, 3),
    ("HANGUP",): _Command("hangup", True, 1, 2),
    ("NOOP",): _Command("noop", True, 1),
    ("RECORD", "FILE"): _Command("record_file", False, 6),
    ("SAY", "DATETIME"): _Command("say_datetime", False, 4, 6),
    ("SAY", "DIGITS"): _Command("say_digits", False, 4, 4),
    ("SAY", "NUMBER"): _Command("say_number", False, 4, 5),
    ("SET", "VARIABLE"): _Command("set_variable", True, 4, 4),
    ("STREAM", "FILE"): _Command("stream_file", False, 4, 5, STREAM_FILE_USAGE),
    ("VERBOSE",): _Command("verbose", True, 2, 3),
    ("WAIT", "FOR", "DIGIT"): _Command("wait_for_digit", False, 4, 4),
}


def _lookup(args: list[str]) -> _Command | None:
    words = tuple(word.upper() for word in args[:3])
    for n in (3, 2, 1):
        command = _COMMANDS.get(words[:n])
        if command is not None and len(words) >= n:
            return command
    return None


# --- the simulated channel ------------------------------------------------------------------------

_EOF = object()
_FUNCTION_SUBST = re.compile(r"\$\{([^${}]+)\}")


def _ids(options: PBXOptions) -> tuple[str, str, str]:
    seq = next(_sequence)
    channel = f"Local/{options.extension}@{options.context}-{seq:08x};2"
    uniqueid = options.uniqueid or f"{int(options.wall_clock())}.{2 * seq + 1}"
    return channel, uniqueid, str(random.getrandbits(47))


def environment_lines(
    caller: SimCaller,
    options: PBXOptions,
    script: str,
    request: str,
    args: Sequence[str],
    channel: str,
    uniqueid: str,
    threadid: str,
) -> list[str]:
    """The 22 lines Asterisk sends, in its order, then ``agi_arg_N``; ``unknown`` for unset."""
    env = [
        ("network", "yes"),
        ("network_script", script),
        ("request", request),
        ("channel", channel),
        ("language", options.language),
        ("type", "Local"),
        ("uniqueid", uniqueid),
        ("version", "22.10.1"),
        ("callerid", caller.number or "unknown"),
        ("calleridname", caller.name or "unknown"),
        ("callingpres", "0"),
        ("callingani2", "0"),
        ("callington", "0"),
        ("callingtns", "0"),
        ("dnid", "unknown"),
        ("rdnis", "unknown"),
        ("context", options.context),
        ("extension", options.extension),
        ("priority", str(options.priority)),
        ("enhanced", "0.0"),
        ("accountcode", ""),
        ("threadid", threadid),
    ]
    env += [(f"arg_{n}", value) for n, value in enumerate(args, 1)]
    return [f"agi_{key}: {value}" for key, value in env]


@implementer(IHalfCloseableProtocol)
class PBXProtocol(LineOnlyReceiver):
    """One simulated call: Asterisk's side of one FastAGI connection."""

    delimiter = b"\n"
    MAX_LENGTH = 65536

    def __init__(
        self,
        reactor: Any,
        caller: SimCaller,
        options: PBXOptions,
        env_lines: list[str],
        channel: str,
        uniqueid: str,
        variables: Mapping[str, str],
        observer: Observer | None,
    ) -> None:
        self.reactor = reactor
        self.caller = caller
        self.inputs = list(caller.inputs)
        self.options = options
        self.env_lines = env_lines
        self.channel = channel
        self.uniqueid = uniqueid
        self.variables = dict(variables)
        self.database: dict[tuple[str, str], str] = {}
        self.observer = observer
        self.t = 0.0
        self.answered = False
        self.hung_up_at: float | None = None
        self.transcript: list[tuple[str, str, float]] = []
        self.recordings: list[SimRecording] = []
        self.lines: DeferredQueue[Any] = DeferredQueue()
        self.done: Deferred[SimCallResult] = Deferred()
        self._hung_up_now = False
        self._closed = False
        # res_agi: a command that fails on a live channel (RESULT_FAILURE: STREAM FILE of a
        # missing file, RECORD FILE that cannot write) makes AGISTATUS=FAILURE at the end.
        self._command_failed = False

    # --- socket ---

    def connectionMade(self) -> None:
        self._send(*self.env_lines, "")
        Deferred.fromCoroutine(self._serve()).addErrback(self._crashed)

    def lineReceived(self, line: bytes) -> None:
        self.lines.put(line.decode("utf-8", "replace"))

    def readConnectionLost(self) -> None:
        self.lines.put(_EOF)

    def writeConnectionLost(self) -> None:
        pass

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._closed = True
        self.lines.put(_EOF)

    def _send(self, *lines: str) -> None:
        if self._closed:
            return
        for line in lines:
            self._log(">>", line)
        connected(self).write("".join(line + "\n" for line in lines).encode())

    def _log(self, direction: str, line: str) -> None:
        self.transcript.append((direction, line, self.t))
        if self.observer is not None:
            self.observer(direction, line, self.t)

    def _crashed(self, failure: Failure) -> None:
        connected(self).abortConnection()
        if not self.done.called:
            self.done.errback(failure)

    async def _sleep(self, seconds: float) -> None:
        self.t += seconds
        if self.options.time_scale > 0 and seconds > 0:
            await deferLater(self.reactor, seconds * self.options.time_scale, lambda: None)

    # --- the AGI loop, as res_agi runs it ---

    async def _serve(self) -> None:
        while not self._closed:
            line = await self.lines.get()
            if line is _EOF:
                break
            self._log("<<", line)
            reply = await self._execute(line)
            if not self._hung_up_now:
                self._send(*reply)
                continue
            self._hung_up_now = False
            if self.options.exit_on_hangup:
                notices = ["HANGUP"] * (2 if self.options.agisighup else 1)
                self._send(*reply, *notices)
                self._closed = True  # Asterisk leaves the AGI at once: no end-of-script HANGUP
                break
            self._send(*reply)
            if self.options.agisighup:
                await self._sleep(HANGUP_NOTICE_DELAY)
                self._send("HANGUP")
        # The script ended (EOF on its side): Asterisk says HANGUP once more and closes.
        if self.options.agisighup:
            self._send("HANGUP")
        self._closed = True
        connected(self).loseConnection()
        self.done.callback(self._result())

    def _result(self) -> SimCallResult:
        """AGISTATUS as run_agi() leaves it. The script's end and a FastAGI server that dies
        (EOF, or a reset, on the socket) look alike to Asterisk: both are "script completed",
        SUCCESS unless the call hung up (HANGUP) or a command failed (FAILURE)."""
        status = "HANGUP" if self.hung_up_at is not None else "SUCCESS"
        if self._command_failed:
            status = "FAILURE"
        return SimCallResult(
            self.variables, self.transcript, self.hung_up_at, status, self.recordings
        )

    async def _execute(self, line: str) -> list[str]:
        args = parse_args(line)
        command = _lookup(args)
        if command is None:
            return [RESULT_510]
        if self.hung_up_at is not None and not command.dead_ok:
            return [RESULT_511]
        handler: Callable[[list[str]], Awaitable[list[str]]] = getattr(self, "_" + command.handler)
        try:
            if not command.min_argc <= len(args) <= command.max_argc:
                raise _Usage
            return await handler(args)
        except _Usage:
            if command.usage is None:
                return [USAGE_NOT_AVAILABLE]
            return [USAGE_FOLLOWS, *command.usage, USAGE_END]

    def _hang_up(self) -> None:
        self.hung_up_at = self.t
        self._hung_up_now = True

    # --- inputs ---

    def _next_input(self) -> Input:
        return self.inputs.pop(0) if self.inputs else Silence()

    def _hangs_up_during_media(self) -> bool:
        """Playback without escape digits only reacts to a hang-up."""
        if self.inputs and isinstance(self.inputs[0], HangUp):
            self.inputs.pop(0)
            return True
        return False

    def _push_back(self, keys: str) -> None:
        if keys:
            self.inputs.insert(0, Keys(keys))

    def _sound_seconds(self, name: str) -> float | None:
        if self.options.sounds is None:
            return self.options.prompt_seconds
        return self.options.sounds.get(name)

    async def _play(self, seconds: float, escape: str) -> tuple[int, float]:
        """(result, seconds played): ASCII code of an escape digit, 0 at the end, -1 on hang-up."""
        if not escape:
            if self._hangs_up_during_media():
                await self._sleep(seconds / 2)
                self._hang_up()
                return -1, seconds / 2
            await self._sleep(seconds)
            return 0, seconds
        action = self._next_input()
        if isinstance(action, HangUp):
            await self._sleep(seconds / 2)
            self._hang_up()
            return -1, seconds / 2
        if isinstance(action, Keys) and action.digits and action.digits[0] in escape:
            await self._sleep(seconds / 2)
            self._push_back(action.digits[1:])
            return ord(action.digits[0]), seconds / 2
        await self._sleep(seconds)
        return 0, seconds

    # --- variables ---

    def _read_variable(self, name: str) -> str | None:
        builtins = {
            "CHANNEL": self.channel,
            "UNIQUEID": self.uniqueid,
            "CONTEXT": self.options.context,
            "EXTEN": self.options.extension,
            "PRIORITY": str(self.options.priority),
            "CALLERID(num)": self.caller.number,
            "CALLERID(name)": self.caller.name,
            "CHANNEL(language)": self.options.language,
        }
        if name in self.variables:
            return self.variables[name]
        return builtins.get(name)

    # --- command handlers (return the response lines) ---

    async def _answer(self, args: list[str]) -> list[str]:
        if not self.answered:
            await self._sleep(self.options.answer_seconds)
            self.answered = True
        return ["200 result=0"]

    async def _channel_status(self, args: list[str]) -> list[str]:
        return [f"200 result={6 if self.answered else 4}"]

    async def _database_put(self, args: list[str]) -> list[str]:
        self.database[args[2], args[3]] = args[4]
        return ["200 result=1"]

    async def _database_get(self, args: list[str]) -> list[str]:
        value = self.database.get((args[2], args[3]))
        return ["200 result=0"] if value is None else [f"200 result=1 ({value})"]

    async def _database_del(self, args: list[str]) -> list[str]:
        found = self.database.pop((args[2], args[3]), None) is not None
        return [f"200 result={int(found)}"]

    async def _exec(self, args: list[str]) -> list[str]:
        app, data = args[1].lower(), " ".join(args[2:])
        if app == "playback":
            result, _ = await self._play(self._sound_seconds(data) or 0.0, "")
            return [f"200 result={result}"]
        if app == "wait":
            await self._sleep(float(data or 0))
            return ["200 result=0"]
        if app == "set":
            name, _, value = data.partition("=")
            self.variables[name] = value
            return ["200 result=0"]
        if app in ("noop", "verbose", "log"):
            return ["200 result=0"]
        return ["200 result=-2"]  # no such application

    async def _get_data(self, args: list[str]) -> list[str]:
        prompt = args[2]
        timeout = int(args[3]) / 1000 if len(args) > 3 and int(args[3]) > 0 else 6.0
        max_digits = int(args[4]) if len(args) > 4 and int(args[4]) > 0 else 1024
        action = self._next_input()
        await self._sleep(self._sound_seconds(prompt) or 0.0)
        if isinstance(action, HangUp):
            self._hang_up()
            return ["200 result=-1"]
        digits = action.digits if isinstance(action, Keys) else ""
        entered, ended = "", False
        for i, key in enumerate(digits):
            await self._sleep(self.options.key_seconds)
            if key == "#":
                self._push_back(digits[i + 1 :])
                ended = True
                break
            entered += key
            if len(entered) == max_digits:
                self._push_back(digits[i + 1 :])
                ended = True
                break
        if ended:
            return [f"200 result={entered}"]
        await self._sleep(timeout)
        return [f"200 result={entered} (timeout)"]

    async def _get_full_variable(self, args: list[str]) -> list[str]:
        value = _FUNCTION_SUBST.sub(lambda m: self._read_variable(m[1]) or "", args[3])
        return [f"200 result=1 ({value})"]

    async def _get_variable(self, args: list[str]) -> list[str]:
        value = self._read_variable(args[2])
        return ["200 result=0"] if value is None else [f"200 result=1 ({value})"]

    async def _hangup(self, args: list[str]) -> list[str]:
        if self.hung_up_at is None:
            self._hang_up()
        return ["200 result=1"]

    async def _noop(self, args: list[str]) -> list[str]:
        return ["200 result=0"]

    async def _record_file(self, args: list[str]) -> list[str]:
        path, fmt, escape = args[2], args[3], args[4]
        timeout_ms = int(args[5])
        options = args[6:]
        if options and options[0].lstrip("-").isdigit():
            options = options[1:]  # sample offset
        beep = any("=" not in option for option in options)
        silence = next((int(o[2:]) for o in options if o.startswith("s=")), None)
        target = Path(f"{path}.{fmt}")
        if fmt.lower() not in ("wav", "sln", "slin", "raw") or not target.parent.is_dir():
            self._command_failed = True
            return ["200 result=-1 (writefile)"]
        if beep:
            await self._sleep(0.5)
        limit = timeout_ms / 1000 if timeout_ms > 0 else math.inf
        action = self._next_input()
        voice, ended_by, code = 0.0, "timeout", 0
        if isinstance(action, Speak):
            voice = min(action.seconds, limit)
            if action.seconds >= limit:
                pass
            elif action.hang_up:
                ended_by, code = "hangup", -1
            elif action.key is not None and action.key in escape:
                ended_by, code = "dtmf", ord(action.key)
            await self._sleep(voice + (silence or 0))
        elif isinstance(action, HangUp):
            ended_by, code = "hangup", -1
        elif isinstance(action, Keys) and action.digits and action.digits[0] in escape:
            ended_by, code = "dtmf", ord(action.digits[0])
            self._push_back(action.digits[1:])
        else:  # silence: ended by the silence limit (trimmed away) or by the timeout
            await self._sleep(silence if silence is not None else limit)
            if silence is None and limit != math.inf:
                voice = limit
        endpos = round(voice * SAMPLE_RATE)
        tone = isinstance(action, Speak)
        write_audio(target, fmt.lower(), endpos, tone)
        self.recordings.append(SimRecording(str(target), voice, endpos, ended_by))
        if ended_by == "hangup":
            self._hang_up()
        return [f"200 result={code} ({ended_by}) endpos={endpos}"]

    async def _say_digits(self, args: list[str]) -> list[str]:
        seconds = self.options.say_digit_seconds * len(args[2])
        result, _ = await self._play(seconds, args[3])
        return [f"200 result={result}"]

    async def _say_datetime(self, args: list[str]) -> list[str]:
        if not args[2].isdigit():
            raise _Usage
        result, _ = await self._play(self.options.say_digit_seconds * 6, args[3])
        return [f"200 result={result}"]

    async def _say_number(self, args: list[str]) -> list[str]:
        if not args[2].lstrip("-").isdigit():
            raise _Usage
        seconds = self.options.say_digit_seconds * len(args[2].lstrip("-"))
        result, _ = await self._play(seconds, args[3])
        return [f"200 result={result}"]

    async def _set_variable(self, args: list[str]) -> list[str]:
        self.variables[args[2]] = args[3]
        return ["200 result=1"]

    async def _stream_file(self, args: list[str]) -> list[str]:
        seconds = self._sound_seconds(args[2])
        if seconds is None:
            self._command_failed = True
            return ["200 result=-1 endpos=0"]
        result, played = await self._play(seconds, args[3])
        return [f"200 result={result} endpos={round(played * SAMPLE_RATE)}"]

    async def _verbose(self, args: list[str]) -> list[str]:
        return ["200 result=1"]

    async def _wait_for_digit(self, args: list[str]) -> list[str]:
        timeout_ms = int(args[3])
        action = self._next_input()
        if isinstance(action, HangUp):
            self._hang_up()
            return ["200 result=-1"]
        if isinstance(action, Keys) and action.digits:
            await self._sleep(self.options.key_seconds)
            self._push_back(action.digits[1:])
            return [f"200 result={ord(action.digits[0])}"]
        await self._sleep(max(timeout_ms, 0) / 1000)
        return ["200 result=0"]


def write_audio(target: Path, fmt: str, samples: int, tone: bool) -> None:
    """A real 8 kHz mono 16-bit file: a 440 Hz tone for speech, zeros for silence."""
    if tone:
        step = 2 * math.pi * 440 / SAMPLE_RATE
        pcm = struct.pack(f"<{samples}h", *(int(8000 * math.sin(step * i)) for i in range(samples)))
    else:
        pcm = bytes(2 * samples)
    if fmt == "wav":
        with wave.open(str(target), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(SAMPLE_RATE)
            out.writeframes(pcm)
    else:
        target.write_bytes(pcm)


async def _connect_and_run(
    reactor: Any,
    host: str,
    port: int,
    caller: SimCaller,
    route: str,
    params: Mapping[str, str] | None,
    args: Sequence[str],
    options: PBXOptions,
    variables: Mapping[str, str] | None,
    observer: Observer | None,
) -> SimCallResult:
    script = route + (f"?{urlencode(dict(params))}" if params else "")
    channel, uniqueid, threadid = _ids(options)
    request = f"agi://{host}:{port}/{script}"
    lines = environment_lines(caller, options, script, request, args, channel, uniqueid, threadid)
    protocol = PBXProtocol(
        reactor, caller, options, lines, channel, uniqueid, variables or {}, observer
    )
    try:
        await connectProtocol(TCP4ClientEndpoint(reactor, host, port), protocol)
    except Exception:
        return SimCallResult(dict(variables or {}), [], None, "FAILURE", [], channel, uniqueid)
    result = await protocol.done
    result.channel, result.uniqueid = channel, uniqueid
    return result


def simulate_call(
    reactor: Any,
    host: str,
    port: int,
    caller: SimCaller,
    route: str = "inbound",
    params: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    *,
    options: PBXOptions | None = None,
    variables: Mapping[str, str] | None = None,
    observer: Observer | None = None,
) -> Deferred[SimCallResult]:
    """Place one simulated call into the FastAGI server at host:port; fires when it is over."""
    return Deferred.fromCoroutine(
        _connect_and_run(
            reactor,
            host,
            port,
            caller,
            route,
            params,
            args,
            options or PBXOptions(),
            variables,
            observer,
        )
    )
