"""Typed events (core/events.py) as JSON and back, for the other service instances (the live
relay over PostgreSQL NOTIFY): ``{"type": "CallOffered", "call_id": ..., "at": "ISO 8601"}``.

Only the classes of core/events.py are read back; an unknown type or a field that does not fit
is a ValueError, never an object built from whatever came in.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from datetime import datetime
from functools import cache
from typing import Any

from . import events
from .events import Event


@cache
def _classes() -> dict[str, type[Event]]:
    return {
        name: cls
        for name, cls in vars(events).items()
        if isinstance(cls, type) and issubclass(cls, Event) and dataclasses.is_dataclass(cls)
    }


@cache
def _hints(name: str) -> dict[str, str]:
    """Each field's type as text, by class name (classes are not hashable for the cache)."""
    return {field: str(hint) for field, hint in typing.get_type_hints(_classes()[name]).items()}


def encode(event: Event) -> str:
    data: dict[str, Any] = {"type": type(event).__name__}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        data[f.name] = value.isoformat() if isinstance(value, datetime) else value
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def decode(text: str) -> Event:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("an event is a JSON object")
    name = str(data.pop("type", ""))
    cls = _classes().get(name)
    if cls is None:
        raise ValueError("not an event type")
    hints = _hints(name)
    values: dict[str, Any] = {}
    for key, value in data.items():
        hint = hints.get(key)
        if hint is None:
            raise ValueError(f"{name} has no field {key}")
        if "datetime" in hint and isinstance(value, str):
            value = datetime.fromisoformat(value)
        elif "tuple" in hint and isinstance(value, list):
            value = tuple(value)
        values[key] = value
    try:
        return cls(**values)
    except TypeError as exc:
        raise ValueError(str(exc)) from None
