"""AGI wire format, both directions, with no I/O: the environment block, command lines, responses.

Transports feed decoded lines (terminator stripped) into ``AGIStreamParser`` and write the strings
built by the command functions below followed by ``\\n``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, unquote, urlsplit

from hotline.agi.errors import AGIArgumentError, AGIProtocolError, UsageBlockTooLong
from hotline.agi.response import AGIResponse

UNKNOWN = "unknown"
MAX_ENV_LINES = 256
# A 520 usage text is a few dozen lines; a peer that never ends the block must not grow memory.
MAX_USAGE_LINES = 200
MAX_USAGE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class AGIEnvironment:
    raw: dict[str, str]
    network_script: str
    route: str
    params: dict[str, str]
    args: list[str]
    channel: str
    uniqueid: str
    callerid: str | None
    calleridname: str | None
    language: str
    context: str
    extension: str

    @property
    def call_id(self) -> str:
        """The id the call goes by in the flows, their events and the metrics."""
        return self.uniqueid or self.channel or "unknown"

    @property
    def direction(self) -> str:
        """The dialer's calls reach the flows under ``outbound/...`` routes: "out"; else "in"."""
        return "out" if self.route.split("/", 1)[0] == "outbound" else "in"

    @classmethod
    def from_mapping(cls, raw: Mapping[str, str], script: str | None = None) -> AGIEnvironment:
        """Build from ``agi_*`` pairs; ``script`` replaces ``agi_network_script`` (classic AGI)."""
        values = dict(raw)
        network_script = script if script is not None else values.get("agi_network_script", "")
        parts = urlsplit(network_script)
        args = sorted(
            (int(key[8:]), value)
            for key, value in values.items()
            if key.startswith("agi_arg_") and key[8:].isdigit()
        )
        return cls(
            raw=values,
            network_script=network_script,
            route=unquote(parts.path).strip("/"),
            params=dict(parse_qsl(parts.query, keep_blank_values=True)),
            args=[value for _, value in args],
            channel=values.get("agi_channel", ""),
            uniqueid=values.get("agi_uniqueid", ""),
            callerid=_known(values.get("agi_callerid")),
            calleridname=_known(values.get("agi_calleridname")),
            language=values.get("agi_language", ""),
            context=values.get("agi_context", ""),
            extension=values.get("agi_extension", ""),
        )


# Asterisk's uniqueid: `<epoch>.<sequence>`, prefixed `<systemname>-` when asterisk.conf sets one.
_UNIQUEID = re.compile(r"(?:[A-Za-z0-9_.-]+-)?(\d{1,12})\.(\d{1,10})")
# A channel reaches a flow seconds after it was made; an epoch further away is not its arrival.
MAX_CHANNEL_AGE = timedelta(hours=12)
CLOCK_SKEW = timedelta(minutes=5)  # the PBX's clock may run a little ahead of ours


def channel_created(uniqueid: str, now: datetime) -> datetime | None:
    """When Asterisk made the channel (the uniqueid's epoch second), or None when the uniqueid is
    not Asterisk's ``epoch.sequence`` or its epoch is implausible against ``now``."""
    match = _UNIQUEID.fullmatch(uniqueid)
    if match is None:
        return None
    created = datetime.fromtimestamp(int(match[1]), UTC)
    return created if now - MAX_CHANNEL_AGE <= created <= now + CLOCK_SKEW else None


def _known(value: str | None) -> str | None:
    return None if value in (None, "", UNKNOWN) else value


def parse_env_line(line: str) -> tuple[str, str]:
    """``agi_name: value`` -> ``(agi_name, value)``; the value may be empty."""
    key, sep, value = line.partition(":")
    if not sep or not key.startswith("agi_") or not key.replace("_", "").isalnum():
        raise AGIProtocolError(f"not an AGI environment line: {line[:80]!r}")
    return key, value.removeprefix(" ")


# --- responses -----------------------------------------------------------------------------------


class HangupNotice:
    """The unsolicited ``HANGUP`` line Asterisk sends when the channel goes away."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "HANGUP"


HANGUP = HangupNotice()

_RESULT_200 = re.compile(r"200 result=(\S*)(?: \((.*)\))?(?: endpos=(-?\d+))?")
_ERROR = re.compile(r"(5\d\d) (.*)")
_USAGE_START = "520-"
_USAGE_END = "520 "


def parse_response_line(line: str) -> AGIResponse:
    """One complete single-line response (200, 510, 511, single-line 520)."""
    match = _RESULT_200.fullmatch(line)
    if match:
        result, data, endpos = match.groups()
        return AGIResponse(200, result, data, int(endpos) if endpos is not None else None)
    match = _ERROR.fullmatch(line)
    if match:
        return AGIResponse(int(match[1]), data=match[2])
    raise AGIProtocolError(f"not an AGI response: {line[:80]!r}")


Event = AGIEnvironment | AGIResponse | HangupNotice


class AGIStreamParser:
    """What Asterisk sends, a line at a time: the environment block, then responses and HANGUPs."""

    __slots__ = (
        "_env",
        "_env_done",
        "_usage",
        "_usage_bytes",
        "max_usage_bytes",
        "max_usage_lines",
    )

    def __init__(
        self, max_usage_lines: int = MAX_USAGE_LINES, max_usage_bytes: int = MAX_USAGE_BYTES
    ) -> None:
        self._env: dict[str, str] | None = {}
        self._env_done = False
        self._usage: list[str] | None = None
        self._usage_bytes = 0
        self.max_usage_lines, self.max_usage_bytes = max_usage_lines, max_usage_bytes

    @property
    def in_environment(self) -> bool:
        return not self._env_done

    def feed(self, line: str) -> Event | None:
        if not self._env_done:
            return self._feed_env(line)
        if self._usage is not None:
            return self._feed_usage(line)
        if line == "HANGUP":
            return HANGUP
        if line.startswith(_USAGE_START):
            self._usage, self._usage_bytes = [line[4:]], len(line)
            return None
        return parse_response_line(line)

    def _feed_env(self, line: str) -> AGIEnvironment | None:
        assert self._env is not None
        if line:
            if len(self._env) >= MAX_ENV_LINES:
                raise AGIProtocolError(f"environment longer than {MAX_ENV_LINES} lines")
            key, value = parse_env_line(line)
            self._env[key] = value
            return None
        env, self._env, self._env_done = self._env, None, True
        return AGIEnvironment.from_mapping(env)

    def _feed_usage(self, line: str) -> AGIResponse | None:
        assert self._usage is not None
        if not line.startswith(_USAGE_END):
            self._usage_bytes += len(line) + 1
            if len(self._usage) >= self.max_usage_lines or self._usage_bytes > self.max_usage_bytes:
                self._usage = None  # let the memory go: the connection is closed after this
                raise UsageBlockTooLong(
                    f"520 usage block longer than {self.max_usage_lines} lines"
                    f" or {self.max_usage_bytes} bytes"
                )
            self._usage.append(line)
            return None
        head, *usage = self._usage
        self._usage = None
        return AGIResponse(520, data=head, usage="\n".join(usage))


# --- commands ------------------------------------------------------------------------------------

_NEEDS_QUOTES = re.compile(r'[\s"\\]')
# A CR or LF ends the command line and starts another (``EXEC System ...``); other control
# characters have no business in a command either. Tabs included: no command needs one.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_line(text: str, what: str = "command") -> str:
    """``text`` unchanged, or AGIArgumentError if a control character would break the line."""
    match = _CONTROL.search(text)
    if match:
        raise AGIArgumentError(f"control character {match[0]!r} in AGI {what} {text[:80]!r}")
    return text


def quoted(value: str) -> str:
    """Always double-quoted (escape digits, VERBOSE text), escaped as Asterisk parses it."""
    return '"' + check_line(value, "argument").replace("\\", "\\\\").replace('"', '\\"') + '"'


def bare(value: str) -> str:
    """As is, unless empty or holding blanks, quotes or backslashes (``SET VARIABLE X "a b"``)."""
    return (
        quoted(value) if not value or _NEEDS_QUOTES.search(value) else check_line(value, "argument")
    )


def answer() -> str:
    return "ANSWER"


def hangup() -> str:
    return "HANGUP"


def noop() -> str:
    return "NOOP"


def channel_status() -> str:
    return "CHANNEL STATUS"


def get_variable(name: str) -> str:
    return f"GET VARIABLE {bare(name)}"


def get_full_variable(expr: str) -> str:
    return f"GET FULL VARIABLE {bare(expr)}"


def set_variable(name: str, value: str) -> str:
    return f"SET VARIABLE {bare(name)} {bare(value)}"


def stream_file(name: str, escape_digits: str = "") -> str:
    return f"STREAM FILE {bare(name)} {quoted(escape_digits)}"


def get_data(prompt: str, timeout_ms: int, max_digits: int) -> str:
    return f"GET DATA {bare(prompt)} {timeout_ms} {max_digits}"


def wait_for_digit(timeout_ms: int) -> str:
    return f"WAIT FOR DIGIT {timeout_ms}"


def say_digits(digits: str, escape_digits: str = "") -> str:
    return f"SAY DIGITS {bare(digits)} {quoted(escape_digits)}"


def say_number(number: int, escape_digits: str = "") -> str:
    return f"SAY NUMBER {number} {quoted(escape_digits)}"


def say_datetime(epoch: int, escape_digits: str = "", fmt: str = "", timezone: str = "") -> str:
    """`SAY DATETIME <time> <escape> [format] [timezone]`, format as in Asterisk's say.conf."""
    line = f"SAY DATETIME {epoch} {quoted(escape_digits)}"
    if fmt or timezone:
        line += f" {quoted(fmt)}"
    if timezone:
        line += f" {bare(timezone)}"
    return line


def record_file(
    path: str,
    fmt: str,
    escape_digits: str,
    timeout_ms: int,
    beep: bool,
    silence_s: int | None,
) -> str:
    # The sample offset (always 0) must precede BEEP and s=N: Asterisk reads them by position.
    line = f"RECORD FILE {bare(path)} {bare(fmt)} {quoted(escape_digits)} {timeout_ms} 0"
    if beep:
        line += " BEEP"
    if silence_s is not None:
        line += f" s={silence_s}"
    return line


def exec_app(app: str, *args: str) -> str:
    # EXEC takes one option string; the application splits it on commas itself.
    line = f"EXEC {bare(app)}"
    return f"{line} {bare(','.join(args))}" if args else line


def verbose(message: str, level: int = 1) -> str:
    return f"VERBOSE {quoted(message)} {level}"
