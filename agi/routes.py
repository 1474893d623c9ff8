"""Route registry: ``agi://host:port/<route>?params`` picks a flow registered under that name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hotline.agi.channel import Channel
from hotline.agi.protocol import AGIEnvironment

Flow = Callable[[Channel, Any], Awaitable[None]]


class UnknownRoute(LookupError):
    pass


class RouteTable:
    def __init__(self) -> None:
        self._flows: dict[str, Flow] = {}

    def register(self, name: str) -> Callable[[Flow], Flow]:
        """Decorator: ``@routes.register("outbound/followup")``."""
        key = name.strip("/")

        def add(flow: Flow) -> Flow:
            if key in self._flows:
                raise ValueError(f"route {key!r} is already registered")
            self._flows[key] = flow
            return flow

        return add

    def get(self, name: str) -> Flow:
        try:
            return self._flows[name.strip("/")]
        except KeyError:
            raise UnknownRoute(name) from None

    def resolve(self, env: AGIEnvironment) -> Flow:
        return self.get(env.route)

    def names(self) -> list[str]:
        return sorted(self._flows)


routes = RouteTable()
