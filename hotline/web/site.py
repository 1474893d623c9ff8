"""The API as the service serves it: every route module loaded, mounted on Klein."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from hotline.agi.flows.context import Runner
from hotline.app import App

from . import api_console, api_office, api_outbound, api_people, api_recordings, openapi
from .declare import API
from .server import WebApi

# Importing a module declares its routes (on API); the names keep the imports explicit.
ROUTE_MODULES = (api_console, api_office, api_outbound, api_people, api_recordings, openapi)


def web_api(app: App, run: Runner, clock: Callable[[], datetime]) -> WebApi:
    return WebApi(app, API.all, run, clock)
