"""How commands print: aligned tables for people, `--json` for programs."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TextIO

# The time serialisers are shared with the HTTP API; commands import them from here.
from hotline.serialise import iso as iso
from hotline.serialise import parse_at as parse_at
from hotline.serialise import parse_past as parse_past


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
    # Loaded on the first such cell: importing it costs an all-ASCII table 15 ms.
    from wcwidth import wcwidth

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
    found: Sequence[Any],
    as_json: bool,
    headers: Sequence[str],
    row: Callable[[Any], Sequence[Any]],
    *,
    more: int = 0,
) -> None:
    """A list command's output: the items as JSON, or a table with one row an item and, when it
    shows a page of a longer list, a last line saying how many more there are."""
    if as_json:
        print_json(found)
        return
    print_table(headers, [row(item) for item in found])
    if more:
        print(f"{more} more - --all lists every one")
