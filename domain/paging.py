"""Keyset pagination: a page is the `first` rows after a sort key, never an OFFSET."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain import errors

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


class InvalidPage(errors.DomainError):
    """`first` outside 0..MAX_PAGE_SIZE, or a cursor that is not one of ours."""

    code = "INVALID_PAGINATION"


@dataclass(frozen=True, slots=True)
class PageRequest:
    first: int = DEFAULT_PAGE_SIZE
    after: tuple[Any, ...] | None = None  # the sort key of the last row already seen

    def __post_init__(self) -> None:
        if not 0 <= self.first <= MAX_PAGE_SIZE:
            raise InvalidPage(f"first must be between 0 and {MAX_PAGE_SIZE}, got {self.first}",
                              field="first")


@dataclass(frozen=True, slots=True)
class Page[T]:
    items: list[T]
    has_next: bool
