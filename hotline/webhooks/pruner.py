"""The service's pruning of the webhook outbox and delivery log (core/webhook_prune.py): every
`PRUNE_SECONDS` a LoopingCall deletes what is past its retention, one small batch per trip to
the thread pool, so the calls' writes take their turns between the batches."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall

from hotline.core.db import Database
from hotline.core.webhook_prune import BATCH, Pruned, Retention, prune_batch
from hotline.log_once import LogOnce

from .deliverer import Run

log = logging.getLogger(__name__)

PRUNE_SECONDS = 3600.0


class Pruner:
    def __init__(
        self,
        db: Database,
        keep: Retention,
        run: Run,
        clock: Callable[[], datetime],
        reactor: Any,
        ready: Callable[[], bool] = lambda: True,
        batch: int = BATCH,
    ) -> None:
        self.db, self.keep, self.run, self.clock = db, keep, run, clock
        self.ready, self.batch = ready, batch
        self._loop = LoopingCall(self.tick)
        self._loop.clock = reactor
        self._log = LogOnce(log, "pruning the webhook log")

    def start(self, interval: float = PRUNE_SECONDS) -> None:
        self._loop.start(interval, now=True)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def tick(self) -> Deferred[None]:
        """One round; a failure (the database away) is logged once and the loop goes on."""
        d = Deferred.fromCoroutine(self._round())
        return d.addCallbacks(self._log.succeeded, self._log.failed)

    async def _round(self) -> Pruned:
        total = Pruned(0, 0)
        now = self.clock()  # one cut-off for the round: what ages meanwhile waits for the next
        while self.ready():
            pruned: Pruned = await self.run(prune_batch, self.db, now, self.keep, self.batch)
            total += pruned
            if pruned.deliveries < self.batch and pruned.events < self.batch:
                break
        if total.deliveries or total.events:
            log.info(
                "webhooks: pruned %d deliveries and %d outbox events past their retention",
                total.deliveries,
                total.events,
            )
        return total
