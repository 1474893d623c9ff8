"""The service's pruning of the webhook outbox and delivery log (core/webhook_prune.py): every
`PRUNE_SECONDS` a LoopingCall deletes what is past its retention, one small batch per trip to
the thread pool, so the calls' writes take their turns between the batches."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hotline.core.db import Database
from hotline.core.webhook_prune import BATCH, Pruned, Retention, prune_batch

from .deliverer import Run
from .rounds import Rounds

log = logging.getLogger(__name__)

PRUNE_SECONDS = 3600.0


class Pruner(Rounds):
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
        super().__init__(reactor, log, "pruning the webhook log")

    def start(self, interval: float = PRUNE_SECONDS) -> None:
        super().start(interval)

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
