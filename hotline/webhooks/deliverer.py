"""The delivery loop: each tick (a LoopingCall on the service's reactor) claims the due deliveries
in the thread pool (`WebhookDesk`), POSTs them at once, and records each outcome."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from hotline.core.webhook_desk import Send, WebhookDesk
from hotline.log_once import LogOnce

from .sender import Outcome, Sender

log = logging.getLogger(__name__)

Run = Callable[..., Deferred[Any]]  # Service.run_blocking


class Deliverer:
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
        self._loop = LoopingCall(self.tick)
        self._loop.clock = reactor
        self._log = LogOnce(log, "delivering webhooks")

    def start(self, interval: float) -> None:
        self._loop.start(interval, now=True)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def tick(self) -> Deferred[None]:
        """One round; a failure (the database away) is logged once and the loop goes on."""
        d = Deferred.fromCoroutine(self._round())
        return d.addCallbacks(self._log.succeeded, self._log.failed)

    async def _round(self) -> int:
        """Batches until fewer than a full one are due; the deliveries sent."""
        sent = 0
        while self.ready():
            jobs: list[Send] = await self.run(self.desk.due, self.clock(), self.batch)
            results = await DeferredList(
                [Deferred.fromCoroutine(self._deliver(job)) for job in jobs], consumeErrors=True
            )
            for _ok, result in results:
                if isinstance(result, Failure):  # not recorded: due again once its lease ends
                    self._log.failed(result)
            sent += len(jobs)
            if len(jobs) < self.batch:
                break
        return sent

    async def _deliver(self, job: Send) -> None:
        outcome: Outcome = await self.sender.send(job, int(self.clock().timestamp()))
        if outcome.delivered:
            assert outcome.status_code is not None
            await self.run(self.desk.delivered, job.delivery_id, self.clock(), outcome.status_code)
            return
        assert outcome.error is not None
        status = await self.run(
            self.desk.failed, job.delivery_id, self.clock(), outcome.status_code, outcome.error
        )
        log.warning(
            "webhook delivery %d (%s) try %d: %s%s",
            job.delivery_id,
            job.event_type,
            job.attempt,
            outcome.error,
            "; given up" if status == "failed" else "",
        )
