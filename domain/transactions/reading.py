"""Reading a transactions file (`read_transactions`): a UTF-8 CSV with a header row to
checked columns, with every bad row's physical line and reason.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable
from datetime import datetime

from domain import errors, events
from domain.importing import FileError, InvalidField, MalformedRow, Rejected
from domain.members import Channel
from domain.transactions.rows import (
    parse_amount,
    parse_customer,
    parse_date,
    purchase_external_id,
)
from domain.transactions.values import DEFAULT_SCALE, Columns, Transactions


def read_transactions(lines: Iterable[bytes], *, now: datetime, columns: Columns = Columns(),
                      channel: Channel = Channel.OFFLINE, scale: int = DEFAULT_SCALE,
                      date_format: str | None = None) -> Transactions:
    """All rows of a UTF-8 CSV file with a header row, checked.

    Raises FileError when the file is empty or the header lacks a column (naming it),
    before any row is read. Header titles match case-insensitively, ignoring spaces
    around them; other columns are ignored. A row that cannot be a purchase (malformed
    CSV, missing or bad customer, date or amount, a date in the future, a negative
    amount) is rejected with its physical line (the header is line 1).
    """
    reader = csv.reader(_decoded(lines), strict=True)
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeError) as error:
        raise FileError(f"the header row cannot be read: {error}") from None
    if header is None:
        raise FileError("the file is empty; a transactions import needs a header row")
    customer_at, date_at, amount_at = _positions(header, columns)
    width = len(header)
    out = Transactions()
    seen: dict[tuple[str, int, int], int] = {}
    limit = events.microseconds(now + events.MAX_FUTURE_SKEW)
    for line, record in _records(reader, width):
        out.read += 1
        try:
            if isinstance(record, errors.DomainError):
                raise record
            customer = parse_customer(record[customer_at], name=columns.customer)
            us = _microseconds(record[date_at], date_format, columns.date)
            if us > limit:
                raise InvalidField(f"{columns.date} {record[date_at].strip()!r} is in the "
                                   "future", field=columns.date)
            amount = parse_amount(record[amount_at], scale=scale, name=columns.amount)
        except errors.DomainError as error:
            out.rejected.append(Rejected(line, error.code, error.message))
            continue
        key = (customer, us, amount)
        occurrence = seen[key] = seen.get(key, 0) + 1
        out.line.append(line)
        out.customer.append(customer)
        out.occurred_us.append(us)
        out.amount_minor.append(amount)
        out.external_id.append(purchase_external_id(channel, customer, us, amount, occurrence))
    return out


@functools.lru_cache(maxsize=1 << 16)  # files repeat their dates: parse each once
def _microseconds(text: str, date_format: str | None, name: str) -> int:
    return events.microseconds(parse_date(text, date_format=date_format, name=name))


_UNDECODABLE = "\ufffe\uffff tierwise: undecodable line"


def _decoded(lines: Iterable[bytes]):
    for raw in lines:
        try:
            yield raw.decode()
        except UnicodeDecodeError:
            yield _UNDECODABLE + "\n"  # a marker row, rejected by _records


def _positions(header: list[str], columns: Columns) -> tuple[int, int, int]:
    if header:
        header[0] = header[0].removeprefix("\ufeff")  # a byte order mark
    titles = [title.strip().casefold() for title in header]
    positions = []
    missing = []
    for option, title in (("--customer-column", columns.customer),
                          ("--date-column", columns.date),
                          ("--amount-column", columns.amount)):
        found = [i for i, t in enumerate(titles) if t == title.strip().casefold()]
        if len(found) > 1:
            raise FileError(f"the header names column {title!r} twice")
        if not found:
            missing.append(f"{title!r} ({option})")
        positions.extend(found)
    if missing:
        raise FileError(f"the header lacks column(s): {', '.join(missing)}; it has: "
                        f"{', '.join(header) or '(nothing)'}")
    return positions[0], positions[1], positions[2]


def _records(reader, width: int):
    end = reader.line_num
    while True:
        try:
            for record in reader:
                start, end = end + 1, reader.line_num
                if record == [_UNDECODABLE]:
                    yield start, MalformedRow("the line is not valid UTF-8")
                elif len(record) == width:
                    yield start, record
                elif record and (len(record) > 1 or record[0].strip()):  # else blank
                    yield start, MalformedRow(f"the row has {len(record)} field(s); the "
                                              f"header has {width}")
            return
        except csv.Error as error:
            start, end = end + 1, reader.line_num
            yield start, MalformedRow(f"not a CSV record: {error}")
