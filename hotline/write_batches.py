"""The calls' database writes, sent to the database threads in batches (a group commit).

Every inbound call writes four times (its record ahead, its report twice, its ending), and each
write used to cost a thread hop each way, a pool checkout and a commit of its own: at hundreds of
calls a second, more CPU than the statements. Here the writes the flows ask for while a batch
runs wait for the next one, which runs them in one transaction (`Database.together`): one hop
and one commit for all. A flow still resumes only once its write is committed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, ParamSpec, TypeVar

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from hotline.core.db import Outcome

P = ParamSpec("P")
T = TypeVar("T")
MAX_BATCH = 50  # writes a batch: every flow in it waits for the whole to commit

Calls = Sequence[Callable[[], object]]
Together = Callable[[Calls], list[Outcome]]
# Service.run_blocking: runs a function in the database thread pool.
RunBlocking = Callable[[Together, Calls], Deferred[list[Outcome]]]


class WriteBatches:
    """A flow's runner (FlowContext.write): ``await batches(fn, *args)`` runs ``fn`` in the
    database thread pool, in the next batch; ``batches`` batches run at a time at most."""

    def __init__(self, run_blocking: RunBlocking, together: Together, batches: int) -> None:
        self.run_blocking, self.together, self.batches = run_blocking, together, batches
        self.running = 0
        self._waiting: list[tuple[Callable[[], object], Deferred[Any]]] = []
        self._settling = False  # firing a batch's results: its flows' next writes wait for all

    def __call__(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Deferred[T]:
        done: Deferred[T] = Deferred()
        self._waiting.append((partial(fn, *args, **kwargs), done))
        self._send()
        return done

    def _send(self) -> None:
        while self._waiting and self.running < self.batches and not self._settling:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            self.running += 1
            calls = [call for call, _done in batch]
            ran = self.run_blocking(self.together, calls)
            ran.addBoth(self._settle, [done for _call, done in batch])

    def _settle(self, outcomes: list[Outcome] | Failure, waiters: list[Deferred[Any]]) -> None:
        self.running -= 1
        self._settling = True
        try:
            for i, done in enumerate(waiters):
                if isinstance(outcomes, Failure):  # `together` itself broke: none of them ran
                    done.errback(outcomes)
                    continue
                ok, value = outcomes[i]
                if ok:
                    done.callback(value)
                else:
                    assert isinstance(value, BaseException)
                    done.errback(Failure(value))
        finally:
            self._settling = False
        self._send()
