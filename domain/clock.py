"""Time in tierwise is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def require_aware(value: datetime, *, field: str) -> datetime:
    """Return `value` in UTC; naive datetimes are rejected, not guessed."""
    from domain.errors import InvalidValue

    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue(f"{field} {value.isoformat()} has no time zone", field=field)
    return value.astimezone(UTC)
