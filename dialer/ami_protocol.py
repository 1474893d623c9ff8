"""Asterisk Manager Interface framing: banner, header blocks, action serialisation.

Pure bytes <-> messages, no I/O.  A message is an ordered list of ``(key, value)`` pairs
because AMI repeats keys (``Variable:``, ``Output:``) and order is meaningful.  Lines end
in CR LF and a blank line ends a message; the connection starts with one banner line
(``Asterisk Call Manager/11.0.0``) that has no blank line after it.

Asterisk 22 answers ``Action: Command`` with an ordinary ``Response: Success|Error``
carrying one ``Output:`` header per output line (the pre-AMI-2 ``Response: Follows`` /
``--END COMMAND--`` body is gone), so Command needs no special framing here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import overload

__all__ = [
    "BANNER_PREFIX",
    "AMIMessage",
    "AMIParser",
    "AMIProtocolError",
    "format_action",
    "format_message",
]

EOL = b"\r\n"
TERMINATOR = b"\r\n\r\n"
BANNER_PREFIX = "Asterisk Call Manager/"
# A peer that never sends a blank line must not grow our buffer without bound.
MAX_MESSAGE_BYTES = 1 << 20
# Asterisk speaks UTF-8 but nothing guarantees it; surrogateescape keeps any byte intact.
ENCODING = "utf-8"
ERRORS = "surrogateescape"

Header = tuple[str, str]


class AMIProtocolError(ValueError):
    """The peer sent bytes that are not AMI (bad banner, a line without ``:``, ...)."""

    #: Messages parsed from the same ``feed`` before the garbled one.
    messages: list[AMIMessage]

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.messages = []


@dataclass(frozen=True, slots=True)
class AMIMessage:
    """One AMI message: ordered headers, keys may repeat."""

    headers: tuple[Header, ...]

    @property
    def kind(self) -> str:
        """``"response"``, ``"event"`` or ``"action"`` (decided by the first header)."""
        return self.headers[0][0].lower() if self.headers else ""

    @property
    def name(self) -> str:
        """The value of the first header: event name, action name or response status."""
        return self.headers[0][1] if self.headers else ""

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    @overload
    def get(self, key: str) -> str | None: ...
    @overload
    def get(self, key: str, default: str) -> str: ...
    def get(self, key: str, default: str | None = None) -> str | None:
        """First value for ``key`` (case-insensitive, as Asterisk matches keys)."""
        lowered = key.lower()
        for k, v in self.headers:
            if k.lower() == lowered:
                return v
        return default

    def get_all(self, key: str) -> list[str]:
        lowered = key.lower()
        return [v for k, v in self.headers if k.lower() == lowered]

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def keys(self) -> list[str]:
        return [k for k, _ in self.headers]

    @property
    def output(self) -> str:
        """Command output: the ``Output:`` headers joined by newlines."""
        return "\n".join(self.get_all("Output"))

    def to_bytes(self) -> bytes:
        return format_message(self.headers)


def _check(text: str) -> str:
    # A CR or LF inside a value would let a caller inject headers or whole actions.
    if "\r" in text or "\n" in text:
        raise ValueError(f"AMI header text must not contain CR or LF: {text!r}")
    return text


def format_message(headers: Iterable[Header]) -> bytes:
    """Serialise headers as ``Key: Value`` CR LF lines plus the blank terminator line."""
    parts = [f"{_check(k)}: {_check(v)}\r\n" for k, v in headers]
    parts.append("\r\n")
    return "".join(parts).encode(ENCODING, ERRORS)


def format_action(
    action: str,
    headers: Iterable[Header] = (),
    *,
    action_id: str | None = None,
    variables: dict[str, str] | None = None,
) -> bytes:
    """Serialise an action: ``Action``, then ``ActionID``, then headers, then one
    ``Variable: K=V`` per variable - the order Asterisk's own tools and our golden
    transcripts use (extra headers after the variables go in ``headers``' tail)."""
    out: list[Header] = [("Action", action)]
    if action_id is not None:
        out.append(("ActionID", action_id))
    out.extend(headers)
    if variables:
        for key, value in variables.items():
            if "=" in key:
                raise ValueError(f"channel variable name must not contain '=': {key!r}")
            out.append(("Variable", f"{key}={value}"))
    return format_message(out)


def _parse_block(block: bytes) -> AMIMessage:
    headers: list[Header] = []
    for raw in block.split(EOL):
        line = raw.decode(ENCODING, ERRORS)
        key, sep, value = line.partition(":")
        if not sep or not key or key != key.strip():
            raise AMIProtocolError(f"garbled AMI line (no 'Key: value'): {line[:200]!r}")
        headers.append((key, value[1:] if value.startswith(" ") else value))
    return AMIMessage(tuple(headers))


class AMIParser:
    """Incremental parser: ``feed(bytes)`` returns the complete messages so far.

    With ``expect_banner`` (the client side) the first line must be the
    ``Asterisk Call Manager/x.y.z`` banner; it is stored in ``banner``.
    """

    def __init__(self, *, expect_banner: bool = True) -> None:
        self._buffer = b""
        self._need_banner = expect_banner
        self.banner: str | None = None

    def feed(self, data: bytes) -> list[AMIMessage]:
        """Parse what is complete.  A garbled message raises :class:`AMIProtocolError`
        after being dropped; the messages before it are on the error's ``messages`` and
        parsing resumes after it on the next ``feed`` (``feed(b"")`` drains the rest)."""
        buffer = self._buffer + data if self._buffer else data
        if self._need_banner:
            end = buffer.find(EOL)
            if end < 0:
                self._buffer = self._bounded(buffer)
                return []
            banner = buffer[:end].decode(ENCODING, ERRORS)
            if not banner.startswith(BANNER_PREFIX):
                self._buffer = b""
                raise AMIProtocolError(f"not an Asterisk manager banner: {banner[:200]!r}")
            self.banner = banner
            self._need_banner = False
            buffer = buffer[end + 2 :]
        messages: list[AMIMessage] = []
        start = 0
        find = buffer.find
        while (end := find(TERMINATOR, start)) >= 0:
            block = buffer[start:end]
            start = end + 4
            # Stray blank lines between messages (CR LF CR LF CR LF) carry nothing.
            while block.startswith(EOL):
                block = block[2:]
            if not block:
                continue
            try:
                messages.append(_parse_block(block))
            except AMIProtocolError as exc:
                self._buffer = buffer[start:]
                exc.messages = messages
                raise
        self._buffer = self._bounded(buffer[start:])
        return messages

    def _bounded(self, rest: bytes) -> bytes:
        if len(rest) > MAX_MESSAGE_BYTES:
            self._buffer = b""
            raise AMIProtocolError(f"AMI message exceeds {MAX_MESSAGE_BYTES} bytes unterminated")
        return rest
