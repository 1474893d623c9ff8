"""The OpenAPI 3.1 document, written from the route declarations and the schemas the handlers
answer with, served at /api/v1/openapi.json."""

from __future__ import annotations

from functools import cache
from typing import Any

from hotline import __version__

from .auth import COOKIE
from .declare import API, Route
from .schemas import COMPONENTS, ref
from .server import PREFIX, Call

SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "hotline tokens add …"},
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": COOKIE,
        "description": "POST /session; writes also need the X-CSRF-Token header",
    },
}


def _operation(route: Route) -> dict[str, Any]:
    parameters = [
        {"name": p.name, "in": "path", "required": True, "schema": p.schema()}
        for p in route.path_params
    ] + [
        {"name": p.name, "in": "query", "required": p.required, "schema": p.schema()}
        for p in route.query
    ]
    if route.status == 204:
        success: dict[str, Any] = {"description": "done"}
    else:
        schema = dict(route.response) or {"type": "string", "format": "binary"}
        success = {"description": "done", "content": {route.media_type: {"schema": schema}}}
    op: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag] if route.tag else [],
        "parameters": parameters,
        "responses": {
            str(route.status): success,
            "default": {
                "description": "an error: a stable code and a one-line reason",
                "content": {"application/json": {"schema": ref("Error")}},
            },
        },
        "security": [] if route.role is None else [{"bearer": []}, {"session": []}],
    }
    if route.role is not None:
        op["x-role"] = route.role.value
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": route.body.schema()}},
        }
    return op


def document(routes: list[Route]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hotline",
            "version": __version__,
            "description": "The customer-service centre's records over HTTP (docs/api.md).",
        },
        "servers": [{"url": PREFIX}],
        "paths": paths,
        "components": {"schemas": COMPONENTS, "securitySchemes": SECURITY_SCHEMES},
    }


@cache
def _served() -> dict[str, Any]:
    return document(API.all)


@API.route(
    "GET",
    "/openapi.json",
    "This document",
    role=None,
    response={"type": "object", "required": ["openapi", "paths"]},
    tag="meta",
)
def openapi(call: Call) -> dict[str, Any]:
    return _served()
