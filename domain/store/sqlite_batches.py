"""Event batches encoded for SQLite's one-statement insert (`EventRepository.insert_encoded`).

Pure Python and numpy, no SQLAlchemy: an import's reader (a thread, or a process that
should start in a fraction of a second) encodes its blocks with `encode_sqlite_batch`
off the database's critical path.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from domain.events import EventColumns


def encode_sqlite_batch(columns: EventColumns, slots: Sequence[int]) -> str:
    """A checked batch as `EventRepository.insert_encoded` takes it: per event its
    member slot and every other field already in the form SQLite stores."""
    dumps = json.dumps
    properties = [p if p is None else dumps(p) for p in columns.properties]
    return dumps(list(zip(slots, columns.external_id, columns.type,
                          _sqlite_times(columns.occurred_us), columns.amount_minor,
                          columns.channel, properties, strict=True)))


def _sqlite_times(micros: Sequence[int]) -> list[str]:
    """UTC microseconds since the epoch as UtcDateTime stores them on SQLite
    ('YYYY-MM-DD HH:MM:SS.ffffff'), vectorised."""
    if not len(micros):
        return []
    text = np.datetime_as_string(np.asarray(micros, dtype=np.int64).astype("datetime64[us]"),
                                 unit="us").astype("S26")
    text.view(np.uint8).reshape(len(text), 26)[:, 10] = ord(" ")
    return text.astype(str).tolist()


def sqlite_time(value: datetime) -> str:
    """A datetime as UtcDateTime stores it on SQLite."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: tierwise stores UTC-aware timestamps")
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]
