"""The root of every expected failure.

Each area (members, tiers, campaigns, events, access) subclasses `DomainError`
with one small class per fact. `code` is what clients switch on (the API turns
it into `userErrors { field code message }`); `field` names the input field at
fault where there is one; the message carries the offending value.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "INVALID"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """An id that names nothing (or names something of another kind)."""

    code = "NOT_FOUND"


class InvalidValue(DomainError):
    """A value outside its allowed range or format."""

    code = "INVALID_VALUE"
