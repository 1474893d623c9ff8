"""A periodic round on the service's reactor (a LoopingCall) whose failures (the database down)
are logged once, not every tick: what the deliverer and the pruner share."""

from __future__ import annotations

import logging
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall

from hotline.log_once import LogOnce


class Rounds:
    def __init__(self, reactor: Any, log: logging.Logger, what: str) -> None:
        self._loop = LoopingCall(self.tick)
        self._loop.clock = reactor
        self._log = LogOnce(log, what)

    def start(self, interval: float) -> None:
        self._loop.start(interval, now=True)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def tick(self) -> Deferred[None]:
        """One round; a failure is logged once and the loop goes on."""
        d = Deferred.fromCoroutine(self._round())
        return d.addCallbacks(self._log.succeeded, self._log.failed)

    async def _round(self) -> object:
        raise NotImplementedError
