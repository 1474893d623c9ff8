"""A loop that fails every tick the same way (the database down) says so once, not every tick."""

from __future__ import annotations

import logging

from twisted.python.failure import Failure


class LogOnce:
    def __init__(self, log: logging.Logger, what: str, level: int = logging.ERROR) -> None:
        self.log, self.what, self.level = log, what, level
        self.last: str | None = None  # the failure logged last; None while all is well

    def failed(self, failure: Failure) -> None:
        message = failure.getErrorMessage().splitlines()[0]
        if message != self.last:
            self.log.log(self.level, "%s: %s (retrying)", self.what, message)
            self.last = message

    def succeeded(self, result: object = None) -> None:
        if self.last is not None:
            self.log.warning("%s: working again", self.what)
            self.last = None
