"""One declaration per route: method, path, role, parameters, request and response schemas.

The server routes and checks requests from these declarations, and `openapi.py` writes the
OpenAPI document from the very same objects, so the document cannot drift from the handlers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from hotline.core.events import Event
from hotline.core.users import UserRole
from hotline.core.vocabulary import DomainError
from hotline.serialise import parse_at

from .errors import ApiError

# JSON Schema of each parameter type, and how a query or path string becomes a value.
PARAM_SCHEMA: dict[str, dict[str, Any]] = {
    "integer": {"type": "integer"},
    "string": {"type": "string"},
    "boolean": {"type": "boolean"},
    "date-time": {"type": "string", "format": "date-time"},
}
_PATH_PARAM = re.compile(r"\{(\w+)\}")


def _moment(text: str, tz: tzinfo) -> datetime:
    """A time as the CLI reads one, its one-line reason as a 400."""
    try:
        return parse_at(text, tz, datetime.min)
    except DomainError as exc:
        raise ApiError.bad_request(str(exc)) from None


@dataclass(frozen=True)
class Param:
    """A path or query parameter (or a field of a JSON body)."""

    name: str
    type: str = "string"  # a key of PARAM_SCHEMA, or "number", "object", "array" in bodies
    required: bool = False
    enum: tuple[str, ...] = ()
    description: str = ""
    maximum: int | None = None

    def schema(self) -> dict[str, Any]:
        schema = dict(PARAM_SCHEMA.get(self.type, {"type": self.type}))
        if self.enum:
            schema["enum"] = [str(v) for v in self.enum]
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.type == "integer":
            schema["minimum"] = 1
        if self.description:
            schema["description"] = self.description
        return schema

    def parse(self, text: str, tz: tzinfo) -> Any:
        """A query or path string as this parameter's value, or a 400 naming the parameter."""
        value: Any = text
        if self.type == "integer":
            if not text.isascii() or not text.isdigit() or int(text) < 1:
                raise ApiError.bad_request(f"{self.name} must be a positive whole number")
            value = int(text)
            if self.maximum is not None and value > self.maximum:
                raise ApiError.bad_request(f"{self.name} must be at most {self.maximum}")
        elif self.type == "boolean":
            if text not in ("true", "false"):
                raise ApiError.bad_request(f"{self.name} must be true or false")
            value = text == "true"
        elif self.type == "date-time":
            value = _moment(text, tz)
        if self.enum and value not in self.enum:
            raise ApiError.bad_request(f"{self.name} must be one of: {', '.join(self.enum)}")
        return value


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "date-time": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


@dataclass(frozen=True)
class Body:
    """A JSON object request body: its fields, checked before the handler runs."""

    fields: tuple[Param, ...]

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "additionalProperties": False,
            "properties": {f.name: f.schema() for f in self.fields},
        }
        required = [f.name for f in self.fields if f.required]
        if required:
            schema["required"] = required
        return schema

    def parse(self, data: Any, tz: tzinfo) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise ApiError.bad_request("the request body must be a JSON object")
        known = {f.name: f for f in self.fields}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ApiError.bad_request(f"unknown field(s): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for f in self.fields:
            value = data.get(f.name)
            if value is None:
                if f.required:
                    raise ApiError.bad_request(f"{f.name} is required")
                values[f.name] = None
                continue
            # bool is an int in Python, never in JSON.
            if not isinstance(value, _JSON_TYPES[f.type]) or (
                isinstance(value, bool) and f.type in ("integer", "number")
            ):
                raise ApiError.bad_request(f"{f.name} must be a JSON {f.type}")
            if f.enum and value not in f.enum:
                raise ApiError.bad_request(f"{f.name} must be one of: {', '.join(f.enum)}")
            if f.type == "date-time" and isinstance(value, str):  # a str: checked above
                value = _moment(value, tz)
            values[f.name] = value
        return values


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # OpenAPI form, relative to /api/v1: "/tickets/{id}"
    summary: str
    handler: Callable[..., Any]
    role: UserRole | None  # None: anyone, signed in or not
    path_params: tuple[Param, ...] = ()
    query: tuple[Param, ...] = ()
    body: Body | None = None
    response: Mapping[str, Any] = field(default_factory=dict)  # JSON Schema of a 2xx body
    status: int = 200
    media_type: str = "application/json"
    tag: str = ""
    # The typed event a successful answer makes (a ticket changed), published on the bus.
    event: Callable[[Any, datetime], Event | None] | None = None
    audited: bool = False  # a GET that writes an audit row (a restricted recording heard)
    # A heavy read (a list, a page) a reader process may answer: its handler returns plain
    # data and needs nothing only the service holds (the live state, the PBX, a cookie to set).
    apart: bool = False

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    @property
    def reads_only(self) -> bool:
        """Runs in the API's read threads; a write goes where the flows' writes go."""
        return self.method == "GET" and not self.audited

    def klein_path(self, prefix: str) -> str:
        """The werkzeug rule: `/tickets/{id}` with an integer id is `/tickets/<int:id>`."""
        kinds = {p.name: p.type for p in self.path_params}

        def rule(m: re.Match[str]) -> str:
            return f"<int:{m[1]}>" if kinds.get(m[1]) == "integer" else f"<{m[1]}>"

        return prefix + _PATH_PARAM.sub(rule, self.path)


class Routes:
    """The API's routes, declared by decorating each handler."""

    def __init__(self) -> None:
        self.all: list[Route] = []

    def route(
        self,
        method: str,
        path: str,
        summary: str,
        *,
        role: UserRole | None,
        path_params: tuple[Param, ...] = (),
        query: tuple[Param, ...] = (),
        body: Body | None = None,
        response: Mapping[str, Any] | None = None,
        status: int = 200,
        media_type: str = "application/json",
        tag: str = "",
        event: Callable[[Any, datetime], Event | None] | None = None,
        audited: bool = False,
        apart: bool = False,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        if apart and (method != "GET" or audited):
            raise ValueError(f"{method} {path}: only a plain read may be answered apart")
        named = set(_PATH_PARAM.findall(path))
        if named != {p.name for p in path_params}:
            raise ValueError(f"{method} {path}: path parameters {sorted(named)} not declared")

        def declare(handler: Callable[..., Any]) -> Callable[..., Any]:
            self.all.append(
                Route(
                    method,
                    path,
                    summary,
                    handler,
                    role,
                    path_params,
                    query,
                    body,
                    response or {},
                    status,
                    media_type,
                    tag,
                    event,
                    audited,
                    apart,
                )
            )
            return handler

        return declare


API = Routes()  # every route of the API; the api_* modules declare theirs on import
