"""One response of Asterisk to an AGI command, parsed (`protocol.parse_response_line`); its own
module because the errors carry it and the parser raises the errors."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AGIResponse:
    code: int
    result: str | None = None  # text after ``result=``; digits from GET DATA are text, not ints
    data: str | None = None  # the ``(...)`` part of a 200, or the message of a 5xx
    endpos: int | None = None
    usage: str | None = None  # the usage lines of a multi-line 520

    @property
    def result_int(self) -> int | None:
        try:
            return int(self.result) if self.result else None
        except ValueError:
            return None

    def describe(self) -> str:
        if self.code != 200:
            return f"{self.code} {self.data}"
        text = f"200 result={self.result}"
        if self.data is not None:
            text += f" ({self.data})"
        if self.endpos is not None:
            text += f" endpos={self.endpos}"
        return text
