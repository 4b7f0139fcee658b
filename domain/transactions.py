"""Importing a business's transaction history: `customer_id,date,amount` CSV files.

The row rules are pure: `parse_amount` (decimal text to integer minor units, exactly),
`parse_date` (a day or a timestamp to a UTC instant), `purchase_external_id` (the
event id a row always gets) and `read_transactions` (a whole file to checked columns,
with every bad row's line and reason). `import_transactions` then stores the rows one
transaction per chunk: it finds each customer's member by a channel identity (the
customer id on the import's channel), creates the missing ones in bulk, and records one
purchase event per row through `domain.events`. Event ids are derived from the row's
content, so importing the same file again creates no members and no events.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from domain import errors, events
from domain.importing import (
    FileError,
    InvalidField,
    MalformedRow,
    MissingField,
    Rejected,
    encodes,
)
from domain.members import IDENTITY_CHANNELS, Channel, Profile, validate_profile

DEFAULT_CHUNK = 50_000  # rows per transaction
DEFAULT_COLUMNS = ("customer_id", "date", "amount")
DEFAULT_SCALE = 100  # minor units per major unit (cents per dollar)
ACTOR = "import-transactions"
MAX_CUSTOMER_ID = 128  # characters, as any channel identity

# Digits, optionally grouped by commas in threes left of the point, then an optional
# fraction: "12", "12.50", "1,234.00", "1,234,567". Anything else is malformed.
_AMOUNT = re.compile(r"(?P<sign>[+-]?)(?P<whole>\d+|\d{1,3}(?:,\d{3})+)(?:\.(?P<fraction>\d+))?",
                     re.ASCII)


class NegativeAmount(errors.DomainError):
    """A row with a negative amount (a refund): refunds are not imported."""

    code = "NEGATIVE_AMOUNT"


@dataclass(frozen=True, slots=True)
class Columns:
    """The header titles of the three columns a transactions file needs."""

    customer: str = DEFAULT_COLUMNS[0]
    date: str = DEFAULT_COLUMNS[1]
    amount: str = DEFAULT_COLUMNS[2]


@dataclass(slots=True)
class Transactions:
    """A file's valid rows column by column (index `i` of every list is one row, in file
    order), and its rejected rows."""

    line: list[int] = field(default_factory=list)
    customer: list[str] = field(default_factory=list)
    occurred_us: list[int] = field(default_factory=list)  # UTC microseconds since EPOCH
    amount_minor: list[int] = field(default_factory=list)
    external_id: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    read: int = 0  # rows read, blank lines not counted

    def __len__(self) -> int:
        return len(self.line)

    def first_seen(self) -> dict[str, int]:
        """Each customer's earliest transaction in the file (UTC microseconds): the
        joined_at of a member the import creates."""
        first: dict[str, int] = {}
        for customer, us in zip(self.customer, self.occurred_us, strict=True):
            if us < first.get(customer, us + 1):
                first[customer] = us
        return first


@dataclass(slots=True)
class TransactionReport:
    read: int = 0
    members_created: int = 0
    purchases: int = 0  # purchase events newly recorded
    duplicates: int = 0  # rows whose purchase was recorded before (an earlier import)
    rejected: list[Rejected] = field(default_factory=list)


# --- row rules -----------------------------------------------------------------------

def parse_amount(text: str, *, scale: int = DEFAULT_SCALE, name: str = "amount") -> int:
    """A decimal amount as integer minor units, exactly (no float anywhere).

    `scale` is minor units per major unit (100: "12.50" -> 1250; 1 for currencies
    without minor units). A comma may only group thousands left of the decimal point
    ("1,234.00"); "12,50" is malformed rather than guessed to be a decimal comma. An
    amount with more decimals than the scale holds ("12.345" at 100) is rejected, never
    rounded. Negative amounts (refunds) raise NegativeAmount; a leading "+" is allowed.
    """
    text = text.strip()
    if not text:
        raise MissingField(f"{name} is missing", field=name)
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise InvalidField(f"{name} {text!r} is not a decimal amount (like 12.50 or "
                           "1,234.00)", field=name)
    value = Decimal(match["whole"].replace(",", "") + "." + (match["fraction"] or "0"))
    minor = value * scale
    if minor != minor.to_integral_value():
        raise InvalidField(f"{name} {text!r} has more decimals than the currency's minor "
                           f"unit (1/{scale})", field=name)
    if match["sign"] == "-" and minor:
        raise NegativeAmount(f"{name} {text!r} is negative; refunds are not imported",
                             field=name)
    if minor > events.MAX_AMOUNT_MINOR:
        raise InvalidField(f"{name} {text!r} exceeds {events.MAX_AMOUNT_MINOR} minor units",
                           field=name)
    return int(minor)


def parse_date(text: str, *, date_format: str | None = None, name: str = "date") -> datetime:
    """A row's date as an aware UTC datetime.

    Without `date_format`: an ISO date ("2024-03-05") is midnight UTC of that day; an
    ISO timestamp must carry its UTC offset ("2024-03-05T14:30:00+08:00" or "...Z") and
    is converted to UTC; a timestamp without an offset is rejected (its time zone is
    unknown). With `date_format` (strptime, e.g. "%d/%m/%Y"): the text must match it;
    a result without an offset (no %z) is taken as UTC.
    """
    text = text.strip()
    if not text:
        raise MissingField(f"{name} is missing", field=name)
    try:
        if date_format is not None:
            moment = datetime.strptime(text, date_format)
        elif len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), datetime.min.time())
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                raise InvalidField(f"{name} {text!r} has no UTC offset; add one (e.g. "
                                   "+08:00 or Z) or give the date alone", field=name)
    except ValueError:
        wanted = f"the format {date_format!r}" if date_format else "an ISO date or timestamp"
        raise InvalidField(f"{name} {text!r} is not a date ({wanted})", field=name) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidField(f"{name} {text!r} is out of range", field=name) from None


def parse_customer(text: str, *, name: str = "customer_id") -> str:
    """A customer id: stripped, 1-128 characters, no NUL (it becomes an identity)."""
    customer = text.strip()
    if not customer:
        raise MissingField(f"{name} is missing", field=name)
    if len(customer) > MAX_CUSTOMER_ID or "\x00" in customer or not encodes(customer):
        raise InvalidField(f"{name} {customer[:40]!r} must be 1-{MAX_CUSTOMER_ID} "
                           "printable characters", field=name)
    return customer


def purchase_external_id(channel: Channel | str, customer: str, occurred_us: int,
                         amount_minor: int, occurrence: int) -> str:
    """The purchase event id of a row: `txn:<channel>:<UTC time>:<amount>:<n>:<customer>`.

    `occurrence` is 1 for the first row of that (customer, time, amount) in the file,
    2 for the second and so on, so two identical purchases on one day are two events
    while re-importing the file maps every row to the same id again. The customer comes
    last (the other parts have fixed shapes, so ids of different rows never coincide);
    an id longer than events.MAX_EXTERNAL_ID becomes `txn:h:<sha256 of it>`.
    """
    external_id = f"txn:{channel}:{_stamp(occurred_us)}:{amount_minor}:{occurrence}:{customer}"
    if len(external_id) > events.MAX_EXTERNAL_ID:
        return "txn:h:" + hashlib.sha256(external_id.encode()).hexdigest()
    return external_id


@functools.lru_cache(maxsize=1 << 16)  # files repeat their days: format each once
def _stamp(occurred_us: int) -> str:
    moment = events.at(occurred_us)
    return moment.strftime("%Y%m%dT%H%M%S") + (f".{moment.microsecond:06d}"
                                               if moment.microsecond else "") + "Z"


def member_profile(customer: str) -> Profile:
    """The profile of a member the import creates: only a display name from the id."""
    return validate_profile(Profile(display_name=f"Customer {customer}"[:120]))


def check_channel(channel: str) -> Channel:
    """The import's identity channel (`offline` by default): one that holds accounts."""
    try:
        known = Channel(channel)
    except ValueError:
        known = None
    if known not in IDENTITY_CHANNELS:
        names = ", ".join(sorted(c.value for c in IDENTITY_CHANNELS))
        raise errors.InvalidValue(f"channel {channel!r} holds no accounts; use one of {names}",
                                  field="channel")
    return known


def check_scale(scale: int) -> int:
    """Minor units per major unit: a power of ten from 1 to 10**6."""
    if scale not in {10**k for k in range(7)}:
        raise errors.InvalidValue(f"currency scale {scale} must be 1, 10, 100, ... 1000000",
                                  field="currency_scale")
    return scale


# --- reading a file ------------------------------------------------------------------

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


# --- storing -------------------------------------------------------------------------

async def import_transactions(*, uow_factory, transactions: Transactions, now: datetime,
                              channel: Channel = Channel.OFFLINE,
                              chunk_size: int = DEFAULT_CHUNK,
                              actor: str = ACTOR) -> TransactionReport:
    """Store a file's checked rows, one database transaction per `chunk_size` rows.

    Per chunk: one lookup of the chunk's customers' identities on `channel`, one insert
    of the members missing (joined_at and first_seen_at = the customer's earliest
    transaction in the whole file) and one of their identities, then the purchases
    through `events.bind_columns` and `events.store` (which keep the member_days
    rollup). Rows whose event id is already stored count as duplicates. A database
    failure rolls back the chunk in progress and propagates; earlier chunks stay, and
    importing the file again adds only what is missing.
    """
    report = TransactionReport(read=transactions.read,
                               rejected=sorted(transactions.rejected, key=lambda r: r.line))
    first = transactions.first_seen()
    key = str(channel)
    for start in range(0, len(transactions), chunk_size):
        stop = start + chunk_size
        customers = transactions.customer[start:stop]
        async with uow_factory() as uow:
            wanted = sorted(set(customers))
            owners = await uow.events.identity_members([(key, c) for c in wanted])
            missing = [c for c in wanted if (key, c) not in owners]
            if missing:
                await uow.imported_members.enroll_many(
                    channel=channel,
                    customers=[(c, events.at(first[c]), member_profile(c)) for c in missing],
                    now=now)
            columns = _purchases(transactions, start, stop, key)
            bound, unknown = await events.bind_columns(uow=uow, columns=columns)
            if unknown:  # an identity removed concurrently: cannot happen in one transaction
                raise RuntimeError(f"{len(unknown)} purchase(s) lost their member")
            result = await events.store(uow=uow, events=bound, now=now)
            await uow.audit.record(actor=actor, action="transactions.import",
                                   subject=f"channel:{channel}",
                                   detail={"rows": len(customers), "members_created": len(missing),
                                           "purchases": result.accepted,
                                           "duplicates": result.duplicates})
            await uow.commit()
        report.members_created += len(missing)
        report.purchases += result.accepted
        report.duplicates += result.duplicates
    return report


def _purchases(t: Transactions, start: int, stop: int, channel: str) -> events.EventColumns:
    customers = t.customer[start:stop]
    n = len(customers)
    return events.EventColumns(
        key=t.line[start:stop], external_id=t.external_id[start:stop],
        type=[events.EventType.PURCHASE] * n, occurred_us=t.occurred_us[start:stop],
        member_id=[None] * n, identity=[(channel, c) for c in customers],
        amount_minor=t.amount_minor[start:stop], channel=[channel] * n,
        properties=[None] * n)


def summary_counts(report: TransactionReport) -> Sequence[tuple[str, int]]:
    """The figures the command prints, in order."""
    return (("rows", report.read), ("members created", report.members_created),
            ("purchases recorded", report.purchases), ("duplicates", report.duplicates),
            ("rejected", len(report.rejected)))
