"""Errors raised by the AGI layer; call flows catch ``ChannelHungUp`` only."""

from __future__ import annotations

from hotline.agi.response import AGIResponse


class AGIError(Exception):
    """Base of every AGI error."""


class ChannelHungUp(AGIError):
    """The caller hung up: ``result=-1`` followed by ``HANGUP``, a 511, or the socket closed."""

    def __init__(self, reason: str, response: AGIResponse | None = None) -> None:
        super().__init__(reason)
        self.response = response


class AGICommandError(AGIError):
    """Asterisk rejected or failed a command (510, 520, or a failure result on a live channel)."""

    def __init__(self, command: str, response: AGIResponse) -> None:
        super().__init__(f"{command!r} -> {response.describe()}")
        self.command = command
        self.response = response


class AGIProtocolError(AGIError):
    """The peer sent something that is not AGI."""


class UsageBlockTooLong(AGIProtocolError):
    """A ``520-`` usage block went on past the parser's line or byte limit."""


class AGIArgumentError(AGIError, ValueError):
    """A command argument holds a control character (a CR or LF would start a second command)."""
