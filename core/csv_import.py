"""Strict CSV reading shared by the importers: every bad row is reported with its line number."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from .plain_text import has_control_character
from .vocabulary import DomainError

T = TypeVar("T")


@dataclass
class BadRow:
    line: int
    reason: str


@dataclass
class Parsed(Generic[T]):
    rows: list[tuple[int, T]] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)


def read_rows(
    path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) with the header checked; UTF-8 with or without BOM."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise DomainError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DomainError(f"{path}: a folder, not a CSV file") from None
    except OSError as exc:
        raise DomainError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise DomainError(f"{path}: not UTF-8 (byte {exc.start}); save the file as UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader, [])]
    if not header:
        raise DomainError(f"{path}: empty file; expected a header {','.join(required)}")
    unknown = [h for h in header if h not in required + optional]
    missing = [h for h in required if h not in header]
    if unknown or missing:
        parts = [f"unknown column(s) {', '.join(unknown)}"] if unknown else []
        parts += [f"missing column(s) {', '.join(missing)}"] if missing else []
        raise DomainError(f"{path}: line 1: {'; '.join(parts)}")
    end = reader.line_num
    for values in reader:
        # The line the row starts on: a quoted field may run over several lines.
        line, end = end + 1, reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            yield line, {"__error__": f"{len(values)} fields, the header has {len(header)}"}
            continue
        row = {h: (values[i].strip() if i < len(values) else "") for i, h in enumerate(header)}
        bad = next(((h, v) for h, v in row.items() if has_control_character(v)), None)
        if bad is not None:
            yield line, {"__error__": f"control character in {bad[0]} {bad[1][:40]!r}"}
            continue
        yield line, row


def parse_file(
    path: Path,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    parse_row: Callable[[dict[str, str]], T],
) -> Parsed[T]:
    result: Parsed[T] = Parsed()
    for line, row in read_rows(path, required, optional):
        if "__error__" in row:
            result.bad.append(BadRow(line, row["__error__"]))
            continue
        try:
            result.rows.append((line, parse_row(row)))
        except DomainError as exc:
            result.bad.append(BadRow(line, str(exc)))
    return result


def parse_bool(text: str, what: str) -> bool:
    lowered = text.lower()
    if lowered in ("", "0", "no", "n", "false", "否"):
        return False
    if lowered in ("1", "yes", "y", "true", "是"):
        return True
    raise DomainError(f"bad {what} {text!r}: use yes or no")
