"""Unit codes (building-entrance-room, e.g. `3-1-201`) and phone numbers, parsed strictly."""

from __future__ import annotations

import re

from .vocabulary import DomainError

_UNIT = re.compile(r"^(\d{1,4})-(\d{1,2})-(\d{1,5})$")
_KEYPAD_UNIT = re.compile(r"^(\d{1,4})\*(\d{1,2})\*(\d{1,5})#?$")


def parse_unit(text: str) -> str:
    """Canonical unit code (leading zeros dropped) or DomainError."""
    m = _UNIT.match(text.strip())
    if not m:
        raise DomainError(f"bad unit {text!r}: expected building-entrance-room such as 3-1-201")
    return "-".join(str(int(part)) for part in m.groups())


def unit_from_keypad(digits: str) -> str | None:
    """`3*1*201#` as keyed on a phone → `3-1-201`; None when the keys do not form a unit."""
    m = _KEYPAD_UNIT.match(digits)
    return "-".join(str(int(part)) for part in m.groups()) if m else None


_PHONE_NOISE = re.compile(r"[\s\-().]")


def normalise_phone(text: str) -> str:
    """Digits only, country prefix dropped: `+86 138-0013-8000` → `13800138000`."""
    raw = _PHONE_NOISE.sub("", text.strip())
    if raw.startswith("+86"):
        raw = raw[3:]
    elif raw.startswith("0086"):
        raw = raw[4:]
    if not raw.isdigit() or not 5 <= len(raw) <= 15:
        raise DomainError(f"unparseable phone number {text!r}")
    return raw
