"""Days as the stores return them: SQLite gives 'YYYY-MM-DD' text (or a timestamp's
text) where PostgreSQL gives a date."""

from __future__ import annotations

from datetime import UTC, date, datetime, time


def as_date(value) -> date | None:
    """A stored day (date, or ISO text of a day or timestamp) as a date; None stays None."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def midnight(day: date) -> datetime:
    """The UTC instant a day starts."""
    return datetime.combine(day, time(), tzinfo=UTC)
