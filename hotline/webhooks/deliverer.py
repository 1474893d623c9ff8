"""The delivery loop: each tick (a LoopingCall on the service's reactor) claims the due deliveries
in the thread pool (`WebhookDesk`), POSTs them at once, and records the batch's outcomes in one
transaction, batch after batch until fewer than a full one are due."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from twisted.internet.defer import Deferred, gatherResults

from hotline.core.webhook_desk import Send, Tried, WebhookDesk

from .rounds import Rounds
from .sender import Outcome, Sender

log = logging.getLogger(__name__)

Run = Callable[..., Deferred[Any]]  # Service.run_blocking


class Deliverer(Rounds):
    def __init__(
        self,
        desk: WebhookDesk,
        sender: Sender,
        run: Run,
        clock: Callable[[], datetime],
        reactor: Any,
        batch: int,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self.desk, self.sender, self.run, self.clock = desk, sender, run, clock
        self.batch = batch
        self.ready = ready  # the schema is at head (the service's catch-up has run)
        super().__init__(reactor, log, "delivering webhooks")
        self._failing: str | None = None  # the delivery failure logged last

    async def _round(self) -> int:
        """Batches until fewer than a full one are due; the deliveries sent."""
        sent = 0
        while self.ready():
            jobs: list[Send] = await self.run(self.desk.due, self.clock(), self.batch)
            if jobs:
                timestamp = int(self.clock().timestamp())
                outcomes: list[Outcome] = await gatherResults(
                    [Deferred.fromCoroutine(self.sender.send(job, timestamp)) for job in jobs]
                )
                tries = [
                    Tried(job.delivery_id, o.status_code, o.error)
                    for job, o in zip(jobs, outcomes, strict=True)
                ]
                # Recorded once the whole batch is answered: were the service killed before,
                # every delivery of it is sent again, with its key, once its lease ends.
                given_up = await self.run(self.desk.record, self.clock(), tries)
                self._report(jobs, outcomes, given_up)
            sent += len(jobs)
            if len(jobs) < self.batch:
                break
        return sent

    def _report(self, jobs: list[Send], outcomes: list[Outcome], given_up: list[int]) -> None:
        """A failure is logged when it differs from the last one logged (a receiver down fails
        every try alike), and when deliveries succeed again; each give-up is logged."""
        failed = [(job, o) for job, o in zip(jobs, outcomes, strict=True) if o.error]
        if failed:
            job, outcome = failed[0]
            if outcome.error != self._failing:
                self._failing = outcome.error
                log.warning(
                    "webhook deliveries failing, e.g. %d (%s) to %s: %s "
                    "(retried with backoff; the same failure is not logged again)",
                    job.delivery_id,
                    job.event_type,
                    job.url,
                    outcome.error,
                )
        elif self._failing is not None:
            self._failing = None
            log.warning("webhook deliveries: delivered again")
        for delivery_id in given_up:
            log.error("webhook delivery %d given up: not delivered within its max age", delivery_id)
