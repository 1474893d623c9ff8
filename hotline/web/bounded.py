"""The API's reads, at most so many at once: beyond the bound a request is turned away at once
with 503 and Retry-After (the client tries again), never queued without end, so a flood of API
requests holds a bounded share of the process's CPU, memory and database connections and the
calls keep theirs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from twisted.internet.defer import Deferred

from .errors import ApiError

P = ParamSpec("P")
T = TypeVar("T")
RETRY_AFTER_SECONDS = 1  # a page takes milliseconds: the queue will have moved by then
RunBlocking = Callable[..., Deferred[Any]]  # deferToThreadPool with its reactor and pool


def busy(limit: int) -> ApiError:
    return ApiError(
        "busy",
        f"the service is answering {limit} requests; try again shortly",
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


class Bounded:
    """A runner (``await bounded(fn, *args)``) passing at most ``limit`` calls at a time, waiting
    or running, to ``run``; the one past the bound raises ApiError("busy") (503)."""

    def __init__(self, run: RunBlocking, limit: int) -> None:
        self.run, self.limit = run, limit
        self.taken = 0

    def __call__(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Deferred[T]:
        if self.taken >= self.limit:
            raise busy(self.limit)
        self.taken += 1
        done: Deferred[T] = self.run(fn, *args, **kwargs)
        return done.addBoth(self._release)

    def _release(self, result: T) -> T:
        self.taken -= 1
        return result
