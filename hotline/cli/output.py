"""How commands print: aligned tables for people, `--json` for programs."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from itertools import islice, repeat
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
    # `json.dump` writes each of its chunks (half a million for the whole overdue list), which
    # cost more than encoding them: written a few thousand (some 30 KiB) at a time. Not all in
    # one write: see print_table.
    chunks = json.JSONEncoder(ensure_ascii=False, indent=2, default=_default).iterencode(data)
    for batch in iter(lambda: list(islice(chunks, 4096)), []):
        sys.stdout.write("".join(batch))
    sys.stdout.write("\n")


def cell(value: Any) -> str:
    """A value as a person reads it: nothing for None, yes or no for a boolean (never Python's
    True), the text of anything else. `--json` keeps JSON's own null and booleans."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@cache
def _char_width(char: str) -> int:
    """One character's columns (CJK two, combining marks none; a control character none rather
    than wcwidth's -1), asked of wcwidth once per distinct character."""
    # Loaded on the first such cell: importing it costs an all-ASCII table 15 ms.
    from wcwidth import wcwidth

    return max(wcwidth(char), 0)


def _width(text: str) -> int:
    """Display width in a terminal."""
    if text.isascii() and text.isprintable():
        return len(text)
    return sum(map(_char_width, text))


def print_table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO | None = None
) -> None:
    """Aligned columns by display width, built a column at a time with string methods mapped
    over it (a Python step a cell cost the 20,000 rows of `overdue --all` a tenth of a second)."""
    out = out or sys.stdout
    cells = [[v if v.__class__ is str else cell(v) for v in row] for row in rows]
    padded, sizes = [], []
    for column in zip(headers, *cells, strict=True):
        # Measured once per distinct text: a long list repeats its kinds, units and states.
        width = {text: _width(text) for text in set(column)}
        size = max(width.values())
        if any(w != len(text) for text, w in width.items()):
            # ljust pads by characters: a wide text gets its extra columns' worth fewer
            padded.append([text.ljust(size - width[text] + len(text)) for text in column])
        else:
            padded.append(list(map(str.ljust, column, repeat(size))))
        sizes.append(size)
    lines = list(map(str.rstrip, map("  ".join, zip(*padded, strict=True))))
    lines.insert(1, "  ".join("-" * size for size in sizes))
    if not cells:
        lines.append("(none)")
    # Some 20 KiB a write: a write larger than the pipe, cut short by a reader gone (`| head`),
    # ended the command as if all was written (exit 0) instead of as a broken pipe.
    for start in range(0, len(lines), 256):
        out.write("\n".join(lines[start : start + 256]) + "\n")


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
