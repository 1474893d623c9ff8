"""One bus for the typed events (core/events.py): publishers and subscribers never meet.

Synchronous fan-out on the publisher's thread (the reactor's): a subscriber must be quick and
hand slow work elsewhere itself. A failing subscriber is logged once per event type and never
breaks the publisher or the subscribers after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .events import Event

log = logging.getLogger(__name__)
E = TypeVar("E", bound=Event)


@dataclass(frozen=True, slots=True)
class _Subscription:
    handler: Callable[[Any], None]
    types: tuple[type[Event], ...]


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: list[_Subscription] = []
        # Per event type, the subscriptions that take it: a call publishes a dozen events.
        self._routes: dict[type[Event], tuple[_Subscription, ...]] = {}
        self._failed: set[tuple[int, type[Event]]] = set()  # (subscription, event type) logged
        self.failures = 0  # subscriber errors so far, logged or not

    def subscribe(
        self, handler: Callable[[E], None], types: tuple[type[E], ...]
    ) -> Callable[[], None]:
        """Call `handler` with every event of `types` (and their subclasses; ``(Event,)``: all),
        in publishing order; returns the unsubscribe function."""
        subscription = _Subscription(handler, types)
        self._subscriptions.append(subscription)
        self._routes.clear()

        def unsubscribe() -> None:
            self._subscriptions.remove(subscription)
            self._routes.clear()

        return unsubscribe

    def publish(self, event: Event) -> None:
        kind = type(event)
        route = self._routes.get(kind)
        if route is None:
            route = tuple(s for s in self._subscriptions if issubclass(kind, s.types))
            self._routes[kind] = route
        for subscription in route:
            try:
                subscription.handler(event)
            except Exception:
                self.failures += 1
                key = (id(subscription), type(event))
                if key not in self._failed:
                    self._failed.add(key)
                    log.exception(
                        "event subscriber %r failed on %s (logged once per event type)",
                        subscription.handler,
                        type(event).__name__,
                    )
