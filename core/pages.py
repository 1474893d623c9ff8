"""A page of a long list: its first items, and how many there are in all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int

    @property
    def more(self) -> int:
        """How many are left off the page."""
        return self.total - len(self.items)
