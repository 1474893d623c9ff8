"""The call-flow API: one coroutine method per AGI command, independent of the transport.

Transports (FastAGI server, classic stdin/stdout) implement ``_command`` and ``_hangup_follows``.
Result meanings follow Asterisk's res_agi: ``result=-1`` is a failure that is a hang-up when
Asterisk also says ``HANGUP``; a 511 means the channel is already dead.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

from hotline.agi import protocol
from hotline.agi.errors import AGICommandError, AGIProtocolError, ChannelHungUp
from hotline.agi.protocol import AGIEnvironment, AGIResponse


@dataclass(frozen=True, slots=True)
class RecordResult:
    digit: str  # the escape digit that ended the recording, or ""
    endpos: int  # samples written
    timed_out: bool  # ended by the timeout or the silence limit
    hung_up: bool  # the caller hung up; the partial file is kept


class Channel(ABC):
    def __init__(self, env: AGIEnvironment) -> None:
        self.env = env

    @abstractmethod
    async def _command(self, line: str, wait_s: float) -> AGIResponse:
        """Send one command line and return Asterisk's complete response. ``wait_s``: how long
        the command may legitimately wait for the caller (digits, a recording) on top of the
        transport's own response timeout; ``math.inf`` for a command that may wait for ever."""

    @abstractmethod
    async def _hangup_follows(self) -> bool:
        """After a ``result=-1``: does Asterisk report a hang-up (``HANGUP`` line, SIGHUP)?"""

    async def send_raw(self, line: str, wait_s: float = 0.0) -> AGIResponse:
        """Any command, response returned unchecked (for commands this API does not wrap)."""
        return await self._send(line, wait_s)

    async def _send(self, line: str, wait_s: float) -> AGIResponse:
        # The last guard before the wire: a CR or LF would make the rest a second command.
        return await self._command(protocol.check_line(line), wait_s)

    async def _run(self, line: str, wait_s: float = 0.0) -> AGIResponse:
        response = await self._send(line, wait_s)
        if response.code == 200:
            return response
        if response.code == 511:
            raise ChannelHungUp("channel is dead (511)", response)
        if response.code in (510, 520):
            raise AGICommandError(line, response)
        raise AGIProtocolError(f"unexpected response {response.describe()!r} to {line!r}")

    async def _failed(self, line: str, response: AGIResponse) -> Exception:
        """The error to raise for a ``result=-1``: a hang-up, or a command failure."""
        if await self._hangup_follows():
            return ChannelHungUp("caller hung up", response)
        return AGICommandError(line, response)

    async def _digit_command(self, line: str, wait_s: float = 0.0) -> str:
        """Commands answering 0, -1, or the ASCII code of the digit that interrupted them."""
        response = await self._run(line, wait_s)
        code = response.result_int
        if code is None or code < 0:
            raise await self._failed(line, response)
        return chr(code) if code else ""

    async def answer(self) -> None:
        line = protocol.answer()
        response = await self._run(line)
        if response.result_int != 0:
            raise await self._failed(line, response)

    async def get_variable(self, name: str) -> str | None:
        response = await self._run(protocol.get_variable(name))
        return response.data if response.result == "1" else None

    async def get_full_variable(self, expr: str) -> str | None:
        response = await self._run(protocol.get_full_variable(expr))
        return response.data if response.result == "1" else None

    async def set_variable(self, name: str, value: str) -> None:
        await self._run(protocol.set_variable(name, value))

    async def stream_file(self, name: str, escape_digits: str = "") -> str:
        """The digit that interrupted playback, or "" once it played to the end."""
        return await self._digit_command(protocol.stream_file(name, escape_digits))

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> str:
        """Digits entered (``#`` ends entry and is not included); "" on timeout."""
        line = protocol.get_data(prompt, timeout_ms, max_digits)
        # The timeout runs again for each digit, after the prompt has played.
        response = await self._run(line, _seconds(timeout_ms) * max(max_digits, 1))
        if response.result == "-1":
            raise await self._failed(line, response)
        return response.result or ""

    async def wait_for_digit(self, timeout_ms: int) -> str:
        line = protocol.wait_for_digit(timeout_ms)
        return await self._digit_command(line, _seconds(timeout_ms))

    async def say_digits(self, digits: str, escape_digits: str = "") -> str:
        return await self._digit_command(protocol.say_digits(digits, escape_digits))

    async def say_number(self, number: int, escape_digits: str = "") -> str:
        return await self._digit_command(protocol.say_number(number, escape_digits))

    async def say_datetime(
        self, epoch: int, escape_digits: str = "", fmt: str = "", timezone: str = ""
    ) -> str:
        return await self._digit_command(protocol.say_datetime(epoch, escape_digits, fmt, timezone))

    async def record_file(
        self,
        path: str,
        fmt: str = "wav",
        escape_digits: str = "#",
        timeout_ms: int = 60000,
        beep: bool = True,
        silence_s: int | None = None,
    ) -> RecordResult:
        """Record ``path.fmt``; a hang-up is reported, not raised, so the partial file is kept."""
        line = protocol.record_file(path, fmt, escape_digits, timeout_ms, beep, silence_s)
        response = await self._run(line, _seconds(timeout_ms))
        code, endpos = response.result_int, response.endpos or 0
        if response.data == "hangup":
            return RecordResult("", endpos, timed_out=False, hung_up=True)
        if code is None or code < 0:
            raise await self._failed(line, response)
        digit = chr(code) if code else ""
        return RecordResult(digit, endpos, timed_out=response.data == "timeout", hung_up=False)

    async def exec(self, app: str, *args: str, wait_s: float = 0.0) -> int:
        """Run a dialplan application; its return value (-1 on failure that is not a hang-up).
        ``wait_s``: how long the application may run (Dial, Queue) beyond a prompt's length."""
        line = protocol.exec_app(app, *args)
        response = await self._run(line, wait_s)
        code = response.result_int
        if code == -2:
            raise AGICommandError(line, response)  # no such application
        if code is None:
            raise AGIProtocolError(f"EXEC answered {response.describe()!r}")
        if code == -1 and await self._hangup_follows():
            raise ChannelHungUp("caller hung up", response)
        return code

    async def verbose(self, message: str, level: int = 1) -> None:
        await self._run(protocol.verbose(message, level))

    async def hangup(self) -> None:
        await self._run(protocol.hangup())


def _seconds(timeout_ms: int) -> float:
    """An AGI timeout in seconds; a negative one means no limit."""
    return math.inf if timeout_ms < 0 else timeout_ms / 1000
