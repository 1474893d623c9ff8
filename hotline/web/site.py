"""The API as the service serves it: every route module loaded, mounted on Klein, with the
console's pages beside it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from twisted.internet.defer import Deferred

from hotline.agi.flows.context import Runner
from hotline.app import App
from hotline.console.pages import ConsolePages
from hotline.core.event_bus import EventBus
from hotline.dialer.agent_actions import AgentActions
from hotline.live_stream import LiveStream

from . import (
    api_console,
    api_events,
    api_office,
    api_outbound,
    api_people,
    api_recordings,
    api_webhooks,
    openapi,
)
from .declare import API
from .server import ReadRequest, WebApi

# Importing a module declares its routes (on API); the names keep the imports explicit.
ROUTE_MODULES = (
    api_console,
    api_events,
    api_office,
    api_outbound,
    api_people,
    api_recordings,
    api_webhooks,
    openapi,
)


def web_api(
    app: App,
    run: Runner,
    clock: Callable[[], datetime],
    live: LiveStream | None = None,
    bus: EventBus | None = None,
    actions: Callable[[], AgentActions | None] = lambda: None,
    read: Runner | None = None,
    apart: Callable[[ReadRequest], Deferred[bytes]] | None = None,
) -> WebApi:
    api = WebApi(app, API.all, run, clock, actions, live, bus, read, apart)
    ConsolePages(app, run, clock, live).mount(api.klein)
    return api
