"""Run one async test body on a private reactor (the global one cannot be restarted per test)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.epollreactor import EPollReactor
from twisted.python.failure import Failure

T = TypeVar("T")


def run_on_reactor(body: Callable[[Any], Awaitable[T]], timeout: float = 30.0) -> T:
    reactor = EPollReactor()
    outcome: list[Any] = []

    def start() -> None:
        async def main() -> T:
            return await body(reactor)

        d = Deferred.fromCoroutine(main())
        d.addBoth(outcome.append)
        d.addBoth(lambda _: reactor.callLater(0, reactor.stop))

    def expire() -> None:
        outcome.append(Failure(TimeoutError(f"test body did not finish in {timeout} s")))
        reactor.stop()

    reactor.callWhenRunning(start)
    guard = reactor.callLater(timeout, expire)
    reactor.run(installSignalHandlers=False)
    if guard.active():
        guard.cancel()
    result: T | Failure = outcome[0]
    if isinstance(result, Failure):
        result.raiseException()
    return result


def result_of(d: Deferred[T]) -> T:
    """The result of a Deferred that has already fired (its failure raised): for code run in
    memory, with no reactor turning."""
    out: list[Any] = []
    d.addBoth(out.append)
    assert out, "the Deferred has not fired"
    if isinstance(out[0], Failure):
        out[0].raiseException()
    result: T = out[0]
    return result


async def sleep(reactor: Any, seconds: float) -> None:
    from twisted.internet.task import deferLater

    await deferLater(reactor, seconds, lambda: None)
