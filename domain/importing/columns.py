"""Parsing a block of rows column by column (numpy where it pays), with exactly the
results of parsing them row by row (`rows.parse_row` and `events.check_event`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from itertools import compress
from typing import Any

import numpy as np

from domain import errors, events
from domain.importing.rows import CHANNELS, EVENT_TYPES, RowError, parse_properties, parse_row


def parse_block(lines: Sequence[int], fields: Sequence[Sequence[Any]], tz: tzinfo | None,
                now: datetime) -> tuple[events.EventColumns, list[tuple[int, errors.DomainError]]]:
    """Parse and check a block of rows column by column: what `parse_row` and
    `events.check_event` do row by row, without an object per row.

    `fields` holds one sequence per _ALIASES field (the rows' texts, "" when empty;
    properties may be a decoded JSON value). Common well-formed values are parsed and
    checked in bulk (`events.check_columns`); every row that is not plainly valid is
    put through `parse_row` and `check_event`, which decide it and word its rejection, so
    both paths accept the same rows with the same values and reject the same rows with
    the same messages. Returns the checked events (keyed by line) and (line, error) of
    the rejected rows.
    """
    n = len(lines)
    if not n:
        return events.EventColumns(), []
    (external_id, kind, occurred_at, member_id, identity_channel, identity_external_id,
     amount_minor, channel, properties) = fields
    slow: set[int] = set()  # rows for the row-by-row path

    if not ("".join(external_id).isprintable()):  # NUL, lone surrogates, controls
        slow.update(i for i, x in enumerate(external_id) if not x.isprintable())
    types = list(map(EVENT_TYPES.get, kind))
    us, plain = iso_microseconds(occurred_at)
    slow.update(np.flatnonzero(~plain).tolist())
    member = _integers(member_id, slow)
    if any(m is not None and not 0 < m < 2**63 for m in set(member)):
        slow.update(i for i, m in enumerate(member) if m is not None and not 0 < m < 2**63)
    identity: list[tuple[str, str] | None] = [None] * n
    named = sorted({*compress(range(n), identity_channel),
                    *compress(range(n), identity_external_id)})
    for i in named:
        c, x = identity_channel[i], identity_external_id[i].strip()
        if c in CHANNELS and x and x.isprintable():
            identity[i] = (c, x)
        else:
            slow.add(i)
    amount = _integers(amount_minor, slow)
    channels = [c or None for c in channel]
    decoded: list[dict | None] = [None] * n
    for i in compress(range(n), properties):
        try:
            decoded[i] = parse_properties(properties[i])
        except RowError:
            slow.add(i)

    columns = events.EventColumns(
        key=list(lines), external_id=list(external_id), type=types,
        occurred_us=us.tolist(), member_id=member, identity=identity, amount_minor=amount,
        channel=channels, properties=decoded)
    slow.update(events.check_columns(columns, now=now))
    rejected: list[tuple[int, errors.DomainError]] = []
    if slow:
        columns = columns.take(sorted(set(range(n)) - slow))
        for i in sorted(slow):
            values = [field[i] for field in fields]
            item = parse_row(values, tz)
            if isinstance(item, RowError):
                rejected.append((lines[i], item))
                continue
            try:
                columns.append(lines[i], events.check_event(item, now=now))
            except events.EventError as error:
                rejected.append((lines[i], error))
    return columns, rejected


def _integers(texts: Sequence[str], slow: set[int]) -> list[int | None]:
    """`int(text)` per non-empty text, None for empty; the index of each that fails
    goes to `slow`."""
    try:
        return [int(t) if t else None for t in texts]
    except ValueError:
        return _integers_one_by_one(texts, slow)  # some text is not an integer


def _integers_one_by_one(texts: Sequence[str], slow: set[int]) -> list[int | None]:
    out: list[int | None] = []
    for i, t in enumerate(texts):
        try:
            out.append(int(t) if t else None)
        except ValueError:
            out.append(None)
            slow.add(i)
    return out


_DATE_DIGITS = (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18)
_SEPARATORS = ((4, b"-"), (7, b"-"), (13, b":"), (16, b":"))
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
# Text lengths the fast path reads: (fraction digits, "Z" or an offset).
_SHAPES = {20: (0, False), 25: (0, True), 24: (3, False), 29: (3, True), 27: (6, False),
           32: (6, True)}


def iso_microseconds(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """UTC microseconds since 1970 of ISO 8601 timestamps in their common shape
    (YYYY-MM-DD[T ]HH:MM:SS[.fff|.ffffff](Z|+HH:MM|-HH:MM)), vectorised, and which
    texts had that shape with valid values. The others are left to `_timestamp`."""
    n = len(texts)
    out, ok = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    if not n or not np.isin(lengths, list(_SHAPES)).any():
        return out, ok
    try:
        array = np.array(texts, dtype=f"S{int(lengths.max())}")  # ASCII only
    except (UnicodeEncodeError, ValueError, TypeError):
        return out, ok
    chars = array.view(np.uint8).reshape(n, -1)
    for length, (fraction, offset) in _SHAPES.items():
        rows = np.flatnonzero(lengths == length)
        if len(rows):
            us, good = _shaped_microseconds(chars[rows, :length], fraction, offset)
            out[rows] = us
            ok[rows] = good
    return out, ok


def _shaped_microseconds(c: np.ndarray, fraction: int, offset: bool
                         ) -> tuple[np.ndarray, np.ndarray]:
    digit = c - np.uint8(ord("0"))  # wraps around: a non-digit is > 9

    def number(start: int, width: int) -> np.ndarray:
        value = digit[:, start].astype(np.int64)
        for k in range(start + 1, start + width):
            value = value * 10 + digit[:, k]
        return value

    spots = list(_DATE_DIGITS)
    good = (c[:, 10] == ord("T")) | (c[:, 10] == ord(" "))
    for at, char in _SEPARATORS:
        good &= c[:, at] == char[0]
    micro, zone = 0, 19
    if fraction:
        good &= c[:, 19] == ord(".")
        spots += range(20, 20 + fraction)
        micro = number(20, fraction) * 10 ** (6 - fraction)
        zone = 20 + fraction
    shift = 0  # the offset, in minutes
    if offset:
        good &= ((c[:, zone] == ord("+")) | (c[:, zone] == ord("-"))) & (
            c[:, zone + 3] == ord(":"))
        spots += (zone + 1, zone + 2, zone + 4, zone + 5)
        hours, minutes = number(zone + 1, 2), number(zone + 4, 2)
        good &= (hours <= 23) & (minutes <= 59)
        shift = np.where(c[:, zone] == ord("-"), -1, 1) * (hours * 60 + minutes)
    else:
        good &= c[:, zone] == ord("Z")
    good &= (digit[:, spots] <= 9).all(axis=1)
    year, month, day = number(0, 4), number(5, 2), number(8, 2)
    hour, minute, second = number(11, 2), number(14, 2), number(17, 2)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _DAYS_IN_MONTH[np.clip(month, 0, 12)] + ((month == 2) & leap)
    # Years 1 and 9999 can leave datetime's range when moved to UTC: left to _timestamp.
    good &= (year >= 2) & (year <= 9998) & (month >= 1) & (month <= 12)
    good &= (day >= 1) & (day <= month_days) & (hour <= 23) & (minute <= 59)
    good &= second <= 59
    # Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    y = year - (month <= 2)
    era = y // 400
    year_of_era = y - era * 400
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days = era * 146_097 + day_of_era - 719_468
    seconds = days * 86_400 + hour * 3600 + minute * 60 + second - shift * 60
    return np.where(good, seconds * 1_000_000 + micro, 0), good
