"""How commands print: aligned tables for people, `--json` for programs."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, TextIO, overload

from wcwidth import wcwidth

from hotline.core.vocabulary import DomainError


@overload
def iso(moment: datetime, tz: tzinfo) -> str: ...
@overload
def iso(moment: datetime | None, tz: tzinfo) -> str | None: ...
def iso(moment: datetime | None, tz: tzinfo) -> str | None:
    return moment.astimezone(tz).isoformat(timespec="seconds") if moment else None


# How far ahead of this machine's clock another's may be: a report stamped later than that is a
# mistyped time (a year ahead), which would hold every deadline it sets off in the future.
CLOCK_SKEW = timedelta(minutes=5)


def parse_at(text: str | None, tz: tzinfo, default: datetime) -> datetime:
    """ISO 8601; a time without offset is read as site time."""
    if text is None:
        return default
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DomainError(
            f"bad timestamp {text!r}: use ISO 8601, e.g. 2026-11-22T09:30:00+08:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def parse_past(text: str | None, tz: tzinfo, now: datetime) -> datetime:
    """When something happened (default now): never later than now, give or take CLOCK_SKEW."""
    moment = parse_at(text, tz, now)
    if moment > now + CLOCK_SKEW:
        raise DomainError(
            f"--at {iso(moment, tz)} is in the future (now {iso(now, tz)}); "
            f"record what has happened, at most {CLOCK_SKEW.seconds // 60} minutes ahead"
        )
    return moment


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"cannot print {type(value).__name__} as JSON")


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2, default=_default)
    sys.stdout.write("\n")


def _width(text: str) -> int:
    """Display width in a terminal (CJK takes two columns, combining marks none); a control
    character counts as none rather than wcwidth's -1."""
    if text.isascii() and text.isprintable():
        return len(text)
    return sum(max(wcwidth(ch), 0) for ch in text)


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], out: TextIO | None = None
) -> None:
    out = out or sys.stdout
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([_width(h)] + [_width(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v + " " * (w - _width(v)) for v, w in zip(values, widths, strict=True)
        ).rstrip()

    print(line(headers), file=out)
    print(line(["-" * w for w in widths]), file=out)
    for row in cells:
        print(line(row), file=out)
    if not rows:
        print("(none)", file=out)


def print_listing(
    found: Sequence[Any], as_json: bool, headers: Sequence[str], row: Callable[[Any], Sequence[Any]]
) -> None:
    """A list command's output: the items as JSON, or a table with one row an item."""
    if as_json:
        print_json(found)
    else:
        print_table(headers, [row(item) for item in found])
