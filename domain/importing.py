"""Importing events from files: CSV and JSON Lines rows, then stored chunk by chunk.

The readers are pure: they turn a file's lines into `(line, EventInput)` rows, or
`(line, RowError)` for a row that cannot become an event, where `line` is the
physical line the row starts on (the CSV header is line 1). `import_events` then
stores the rows one transaction per chunk: valid rows land, every rejected row is
reported with its line and reason, and events seen before count as duplicates, so
re-running a file (after a failure, say) is safe.
"""

from __future__ import annotations

import asyncio
import csv
import gc
import json
import multiprocessing
import queue
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from itertools import compress, islice
from operator import itemgetter
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from domain import errors, events
from domain.members import Channel, IdentityKey

# Rows per transaction: a commit, and a lookup of the chunk's members, per chunk.
DEFAULT_CHUNK = 50_000
# Rows per block (the import's reader thread hands over blocks) and blocks read ahead.
BLOCK = 10_000
READ_AHEAD = 1
# Blocks a reader process may have parsed and not yet handed over.
PROCESS_READ_AHEAD = 2
# Bytes of a file from which reading it in a process of its own pays for starting one.
PROCESS_MIN_BYTES = 8 << 20
READ_BUFFER = 4 << 20  # bytes per read of a file

Row = tuple[int, "events.EventInput | RowError"]


class FileError(errors.DomainError):
    """The file as a whole cannot be read as events (a bad CSV header, say)."""

    code = "UNREADABLE_FILE"


class RowError(errors.DomainError):
    """Base of file rows that cannot become an event."""


class MalformedRow(RowError):
    """The row is not a CSV record of the header's width, or not a JSON object."""

    code = "MALFORMED_ROW"


class MissingField(RowError):
    """A required column is empty or a required key absent."""

    code = "MISSING_FIELD"


class InvalidField(RowError, errors.InvalidValue):
    """A field that does not parse: a timestamp, an integer, a channel, properties."""


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    code: str
    reason: str


@dataclass(slots=True)
class ImportReport:
    read: int = 0  # rows read, blank lines not counted
    accepted: int = 0  # newly stored
    duplicates: int = 0  # already stored (or earlier in the file): not stored again
    rejected: list[Rejected] = field(default_factory=list)


# --- reading ---------------------------------------------------------------------------

_ALIASES = {
    "external_id": ("external_id", "event_id", "externalId", "eventId"),
    "type": ("type",),
    "occurred_at": ("occurred_at", "occurredAt"),
    "member_id": ("member_id", "memberId"),
    "identity_channel": ("identity_channel", "identityChannel"),
    "identity_external_id": ("identity_external_id", "identityExternalId"),
    "amount_minor": ("amount_minor", "amountMinor"),
    "channel": ("channel",),
    "properties": ("properties",),
}
_NAMES = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
_EVENT_TYPES = {t.value: t for t in events.EventType}
_CHANNELS = {c.value: c for c in Channel}


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


# Strict JSON: NaN and Infinity are not JSON, and PostgreSQL would refuse them later.
_JSON = json.JSONDecoder(parse_constant=_no_constant)


def read_csv(lines: Iterable[bytes], *, default_tz: tzinfo | None = None) -> Iterator[Row]:
    """Rows of a UTF-8 CSV file with a header row (raises FileError for a bad header).

    `lines` are the file's raw lines (a file opened in binary mode), so a line that
    is not UTF-8 rejects its row instead of stopping the import.
    """
    reader = csv.reader(map(bytes.decode, lines), strict=True)
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeError) as error:
        raise FileError(f"the header row cannot be read: {error}") from None
    if header is None:
        raise FileError("the file is empty; a CSV import needs a header row")
    if header:
        header[0] = header[0].removeprefix("\ufeff")  # a byte order mark
    at, width = _header_positions(header), len(header)
    # An absent column reads the empty string appended at index `width`.
    return Rows(_csv_records(reader, width), [at.get(name, width) for name in _ALIASES],
                default_tz)


def _header_positions(header: list[str]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, title in enumerate(header):
        name = _NAMES.get(title.strip())
        if name is not None and name in positions:
            raise FileError(f"the header names column {name} twice")
        if name is not None:
            positions[name] = index
    missing = [n for n in ("external_id", "type", "occurred_at") if n not in positions]
    if "member_id" not in positions and not {"identity_channel",
                                              "identity_external_id"} <= positions.keys():
        missing.append("member_id (or identity_channel and identity_external_id)")
    if missing:
        raise FileError(f"the header lacks column(s): {', '.join(missing)}; "
                        f"it has: {', '.join(header)}")
    return positions


class Rows(Iterator[Row]):
    """A file's rows. Iterating gives `(line, EventInput | RowError)` one row at a time;
    an import instead takes the raw records in blocks (`records`) and parses a block
    column-wise (`parse_block`), with the same results."""

    def __init__(self, records: Iterator[tuple[int, list | RowError]],
                 positions: list[int], tz: tzinfo | None) -> None:
        self.records = records  # (line, the row's text fields | RowError)
        self.positions = positions  # where each _ALIASES field is in a record
        self.tz = tz
        self._pick = itemgetter(*positions)

    def __next__(self) -> Row:
        line, record = next(self.records)
        if isinstance(record, RowError):
            return line, record
        return line, _parse(self._pick(record), self.tz)


def _csv_records(reader, width: int) -> Iterator[tuple[int, list | RowError]]:
    # The reader counts the lines it was given; a line that failed to decode was
    # never given, so `skipped` keeps line numbers physical.
    end, skipped = reader.line_num, 0
    while True:
        try:
            for record in reader:
                start, end = end + 1, reader.line_num + skipped
                if len(record) == width:
                    record.append("")
                    yield start, record
                elif record and (len(record) > 1 or record[0].strip()):  # else blank
                    yield start, MalformedRow(f"the row has {len(record)} field(s); the "
                                              f"header has {width}")
            return
        except UnicodeDecodeError:
            skipped += 1
            end = reader.line_num + skipped
            yield end, MalformedRow("the line is not valid UTF-8")
        except csv.Error as error:
            start, end = end + 1, reader.line_num + skipped
            yield start, MalformedRow(f"not a CSV record: {error}")


def read_jsonl(lines: Iterable[bytes], *, default_tz: tzinfo | None = None) -> Iterator[Row]:
    """Rows of a JSON Lines file: one object per line, snake_case or camelCase keys.

    The member is `member_id`, or `identity_channel` + `identity_external_id`, or an
    `identity` object with `channel` and `external_id` (as the GraphQL input has it).
    """
    return Rows(_json_records(lines), list(range(len(_ALIASES))), default_tz)


def _json_records(lines: Iterable[bytes]) -> Iterator[tuple[int, list | RowError]]:
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            text = raw.decode()
            obj = _JSON.decode(text.removeprefix("\ufeff") if number == 1 else text)
        except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
            yield number, MalformedRow(f"not valid JSON: {error}")
            continue
        if not isinstance(obj, dict):
            yield number, MalformedRow(f"a line must be a JSON object, not {_kind(obj)}")
            continue
        yield number, _json_values(obj)


def _json_values(obj: dict[str, Any]) -> list:
    """An object's fields as a CSV row holds them: text, "" when absent or null."""
    identity = obj.get("identity")
    if isinstance(identity, dict):
        obj = {**obj, "identity_channel": identity.get("channel"),
               "identity_external_id": identity.get("external_id",
                                                    identity.get("externalId"))}
    values = []
    for name, aliases in _ALIASES.items():
        for alias in aliases:
            value = obj.get(alias)
            if value is not None:
                break
        else:
            value = ""
        if value.__class__ is not str and name != "properties":
            value = _as_text(value)
        values.append(value)
    return values


def _as_text(value: Any) -> str:
    """A JSON value as its text (42 -> "42", true -> "true"), so it parses, or fails to,
    exactly as it would in a CSV file."""
    if value.__class__ is int or value.__class__ is float:
        return str(value)
    return json.dumps(value)


def _parse(values, tz: tzinfo | None) -> events.EventInput | RowError:
    """One row's text fields (in _ALIASES order; "" when empty) to an EventInput.

    Only what the text itself decides is checked here (presence, numbers, timestamps,
    JSON); the event's rules are events.check_event's, applied when it is stored.
    """
    (external_id, kind, occurred_at, member_id, identity_channel, identity_external_id,
     amount_minor, channel, properties) = values
    try:
        return events.EventInput(
            external_id=_plain(external_id, "external_id") if external_id
            else _missing("external_id"),
            type=_EVENT_TYPES.get(kind, kind) if kind else _missing("type"),
            occurred_at=_timestamp(occurred_at, tz),
            member_id=_member_id(member_id) if member_id else None,
            identity=(_identity(identity_channel, identity_external_id)
                      if identity_channel or identity_external_id else None),
            amount_minor=_integer(amount_minor, "amount_minor") if amount_minor else None,
            channel=channel or None,
            properties=_properties(properties) if properties else None,
        )
    except RowError as error:
        return error


def _missing(name: str) -> NoReturn:
    raise MissingField(f"{name} is missing", field=name)


def _timestamp(text: str, tz: tzinfo | None) -> datetime:
    if not text:
        _missing("occurred_at")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidField(f"occurred_at {text!r} is not an ISO 8601 timestamp",
                           field="occurred_at") from None
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        if tz is None:
            raise InvalidField(f"occurred_at {text!r} has no UTC offset; add one "
                               "(e.g. +08:00 or Z) or give a default time zone",
                               field="occurred_at")
        moment = moment.replace(tzinfo=tz)
    try:
        # In UTC, like every timestamp in tierwise; later comparisons are also cheaper.
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidField(f"occurred_at {text!r} is out of range", field="occurred_at") from None


def _integer(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidField(f"{name} {text!r} is not an integer", field=name) from None


def _plain(text: str, name: str) -> str:
    """`text`, unless it holds a NUL or (from JSON escapes) a lone surrogate: no database
    takes those in an identifier."""
    if "\x00" in text or not (text.isascii() or encodes(text)):
        raise InvalidField(f"{name} {text!r} holds a NUL or an invalid character",
                           field=name)
    return text


def encodes(text: str) -> bool:
    """Whether `text` encodes as UTF-8 (JSON escapes can make lone surrogates)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _member_id(text: str) -> int:
    member_id = _integer(text, "member_id")
    if not 0 < member_id < 2**63:  # beyond any id, and beyond what the database can bind
        raise InvalidField(f"member_id {text!r} is not a member id", field="member_id")
    return member_id


def _identity(channel: str, external_id: str) -> IdentityKey:
    external_id = _plain(external_id, "identity_external_id").strip()
    if not channel or not external_id:
        raise MissingField("an identity needs both identity_channel and "
                           "identity_external_id", field="identity_channel")
    known = _CHANNELS.get(channel)
    if known is None:
        raise InvalidField(f"unknown identity_channel {channel!r}", field="identity_channel")
    return IdentityKey(known, external_id)


def _properties(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = _JSON.decode(value)
        except (ValueError, RecursionError):
            raise InvalidField(f"properties {value[:60]!r} is not valid JSON",
                               field="properties") from None
    if not isinstance(value, dict):
        raise InvalidField(f"properties must be a JSON object, not {_kind(value)}",
                           field="properties")
    if not encodes(json.dumps(value, ensure_ascii=False)):
        raise InvalidField("properties hold an invalid character (a lone surrogate)",
                           field="properties")
    return value


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


# --- parsing a block column-wise ------------------------------------------------------

def parse_block(lines: Sequence[int], fields: Sequence[Sequence[Any]], tz: tzinfo | None,
                now: datetime) -> tuple[events.EventColumns, list[tuple[int, errors.DomainError]]]:
    """Parse and check a block of rows column by column: what `_parse` and
    `events.check_event` do row by row, without an object per row.

    `fields` holds one sequence per _ALIASES field (the rows' texts, "" when empty;
    properties may be a decoded JSON value). Common well-formed values are parsed and
    checked in bulk (`events.check_columns`); every row that is not plainly valid is
    put through `_parse` and `check_event`, which decide it and word its rejection, so
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
    types = list(map(_EVENT_TYPES.get, kind))
    us, plain = _iso_microseconds(occurred_at)
    slow.update(np.flatnonzero(~plain).tolist())
    member = _integers(member_id, slow)
    if any(m is not None and not 0 < m < 2**63 for m in set(member)):
        slow.update(i for i, m in enumerate(member) if m is not None and not 0 < m < 2**63)
    identity: list[tuple[str, str] | None] = [None] * n
    named = sorted({*compress(range(n), identity_channel),
                    *compress(range(n), identity_external_id)})
    for i in named:
        c, x = identity_channel[i], identity_external_id[i].strip()
        if c in _CHANNELS and x and x.isprintable():
            identity[i] = (c, x)
        else:
            slow.add(i)
    amount = _integers(amount_minor, slow)
    channels = [c or None for c in channel]
    decoded: list[dict | None] = [None] * n
    for i in compress(range(n), properties):
        try:
            decoded[i] = _properties(properties[i])
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
            item = _parse(values, tz)
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


def _iso_microseconds(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
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


# --- storing ---------------------------------------------------------------------------

async def import_events(*, uow_factory, rows: Iterable[Row] | FileSource, now: datetime,
                        chunk_size: int = DEFAULT_CHUNK, block_size: int = BLOCK,
                        on_chunk: Callable[[ImportReport], None] | None = None
                        ) -> ImportReport:
    """Store the rows one transaction per `chunk_size` rows and report what happened.

    Valid rows land; a rejected row (unparseable, invalid, or naming an unknown member)
    is reported with its line and reason and stops nothing. A failure of the database
    rolls back the chunk in progress and propagates; earlier chunks stay, and running
    the same file again stores only what is missing.

    A pipeline: a reader parses, checks and encodes blocks of `block_size` rows while
    this task binds each block's members and hands it to the database, which works in
    its own thread without the GIL; the next block is read meanwhile. The reader is a
    thread, or for a `FileSource` a process of its own (parsing then runs on another
    core instead of sharing this process's GIL with the database's thread). A chunk is
    several blocks, so the database starts on a chunk as soon as its first block is
    read; on SQLite the member-day rollup is added once per chunk.

    `on_chunk` is called with the report so far after each chunk is committed (progress).
    """
    report = ImportReport()
    loop = asyncio.get_running_loop()
    block_size = min(block_size, chunk_size)
    blocks = (_ProcessBlocks(rows, now=now, chunk_size=chunk_size, block_size=block_size)
              if isinstance(rows, FileSource) else _ThreadBlocks(rows, now=now))
    pending: deque[tuple[asyncio.Future, bool]] = deque()  # (block, last of its chunk)
    plan = _block_plan(chunk_size, block_size)

    def read_ahead() -> None:
        while len(pending) < READ_AHEAD:
            size, last = next(plan)
            pending.append((blocks.request(loop, size), last))

    try:
        started = more = False
        while not started or more:
            if started:  # no transaction for an empty last chunk
                block, _ = pending[0]
                await asyncio.wait([block])
                if not block.result().read:
                    break
            async with uow_factory() as uow:  # one transaction per chunk
                if not started:  # the store decides how the reader encodes batches
                    encode = uow.events.encoder()
                    blocks.start(encode)
                    read_ahead()
                    started = True
                more = await _store_chunk(uow, pending, read_ahead, report, now, bulk=encode)
            if on_chunk is not None:
                on_chunk(report)
    finally:
        blocks.stop()
        if pending:
            await asyncio.gather(*(block for block, _ in pending), return_exceptions=True)
        blocks.close()
    return report


def _block_plan(chunk_size: int, block_size: int) -> Iterator[tuple[int, bool]]:
    """(rows to read, whether that block ends its chunk), forever."""
    while True:
        left = chunk_size
        while left:
            size = min(block_size, left)
            left -= size
            yield size, not left


async def _store_chunk(uow, pending, read_ahead, report: ImportReport, now: datetime, *,
                       bulk) -> bool:
    """Store blocks up to the end of a chunk (or of the file) in `uow` and commit; add
    the outcome to `report`. Returns whether the file may have more rows."""
    mark = await uow.events.start_bulk() if bulk else None
    read = accepted = duplicates = 0
    rejected: list[tuple[int, errors.DomainError]] = []
    known: dict = {}  # members looked up in this transaction
    more = True
    while True:
        future, last = pending.popleft()
        block = await future
        more = block.read == block.size  # else the file ended
        read += block.read
        rejected.extend(block.rejected)
        if not len(block.checked):
            if more:
                read_ahead()
        else:
            # Bind with the reader thread idle: the lookups' round trips to the database
            # thread would each wait for the reader to give up the GIL.
            bound = await events.resolve_slots(uow=uow, slots=block.slots, known=known)
            if block.payload is not None:
                unknown = events.unknown_members(block.checked, block.slots, bound)
                storing = asyncio.ensure_future(uow.events.insert_encoded(
                    block.payload, bound, received_at=now))
            else:
                ready, unknown = events.bind_slots(block.checked, block.slots, bound)
                storing = asyncio.ensure_future(
                    events.store(uow=uow, events=ready, now=now, roll_up=False) if bulk
                    else events.store(uow=uow, events=ready, now=now))
            rejected.extend(unknown)
            await asyncio.sleep(0)  # the statement goes to the database thread
            if more:
                read_ahead()  # the next block is read while the database (GIL-free) works
            result = await storing
            if block.payload is not None:
                accepted += result
                duplicates += len(block.checked) - len(unknown) - result
            else:
                accepted += result.accepted
                duplicates += result.duplicates
        if last or not more:
            break
    if mark is not None:
        await uow.events.roll_up_since(mark)
    await uow.commit()
    report.read += read
    report.accepted += accepted
    report.duplicates += duplicates
    rejected.sort(key=lambda pair: pair[0])
    report.rejected.extend(Rejected(line, error.code, error.message)
                           for line, error in rejected)
    return more


@dataclass(slots=True)
class _Chunk:
    read: int = 0
    checked: events.EventColumns = field(default_factory=events.EventColumns)  # by line
    rejected: list[tuple[int, errors.DomainError]] = field(default_factory=list)  # by line
    size: int = 0  # rows asked for
    slots: events.MemberSlots | None = None
    payload: Any = None  # the store's encoding of `checked`, when it takes one


def _read_block(rows: Iterator[Row] | Rows, size: int, now: datetime, encode) -> _Chunk:
    """`_read_chunk`, plus each event's member slot and, given the store's `encode`
    and distinct external ids, the encoded batch (in the reader thread)."""
    block = _read_chunk(rows, size, now)
    block.size = size
    block.slots = events.MemberSlots.of(block.checked)
    ids = block.checked.external_id
    if encode is not None and len(set(ids)) == len(ids):
        block.payload = encode(block.checked, block.slots.slot)
    return block


def _read_chunk(rows: Iterator[Row] | Rows, size: int, now: datetime) -> _Chunk:
    """Parse and check (events.check_event) up to `size` rows: a file's rows column-wise
    (parse_block), any other iterator of rows one by one."""
    chunk = _Chunk()
    rejected = chunk.rejected
    if isinstance(rows, Rows):
        lines: list[int] = []
        records: list[list] = []
        for line, record in islice(rows.records, size):
            if record.__class__ is list:
                lines.append(line)
                records.append(record)
            else:
                rejected.append((line, record))
        chunk.read = len(lines) + len(rejected)
        columns = list(zip(*records, strict=True))
        fields = [columns[i] for i in rows.positions] if records else [()] * len(_ALIASES)
        chunk.checked, block_rejected = parse_block(lines, fields, rows.tz, now)
        rejected.extend(block_rejected)
        return chunk
    checked = chunk.checked
    for line, item in islice(rows, size):
        chunk.read += 1
        if isinstance(item, RowError):
            rejected.append((line, item))
            continue
        try:
            checked.append(line, events.check_event(item, now=now))
        except events.EventError as error:
            rejected.append((line, error))
    return chunk


# --- where blocks are read ------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FileSource:
    """An events file for `import_events` to read in a process of its own, in place of
    an iterator of its rows: same rows, same lines, same rejections."""

    path: Path
    format: str  # "csv" or "jsonl"
    tz: tzinfo | None = None  # of timestamps without an offset (None: they are rejected)

    def rows(self, lines: Iterable[bytes]) -> Iterator[Row]:
        read = read_csv if self.format == "csv" else read_jsonl
        return read(lines, default_tz=self.tz)


class ReaderFailed(FileError):
    """The process reading the file stopped without a word (killed, out of memory)."""

    code = "READER_FAILED"


class _ThreadBlocks:
    """Blocks read by a thread of this process from an iterator of rows."""

    def __init__(self, rows: Iterable[Row], *, now: datetime) -> None:
        self._rows = rows if isinstance(rows, Rows) else iter(rows)
        self._now = now
        self._encode = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tierwise-import")

    def start(self, encode) -> None:
        self._encode = encode

    def request(self, loop: asyncio.AbstractEventLoop, size: int) -> asyncio.Future:
        return loop.run_in_executor(self._thread, _read_block, self._rows, size, self._now,
                                    self._encode)

    def stop(self) -> None:
        """Nothing to end: a requested block is read to its end, then the thread idles."""

    def close(self) -> None:
        self._thread.shutdown(wait=True)


class _ProcessBlocks:
    """Blocks read by a process of their own from a file, following the import's block
    plan and at most PROCESS_READ_AHEAD blocks ahead of the requests. The first block is
    read here, by a thread, while that process starts (it skips the block's rows)."""

    def __init__(self, source: FileSource, *, now: datetime, chunk_size: int,
                 block_size: int) -> None:
        # spawn: a fork of a process running threads (the database's) may deadlock
        context = multiprocessing.get_context("spawn")
        self._settings, settings = context.Pipe()
        self._blocks = context.Queue(maxsize=PROCESS_READ_AHEAD)
        self._process = context.Process(
            target=_read_in_process, name="tierwise-import-reader", daemon=True,
            args=(source, now, chunk_size, block_size, settings, self._blocks))
        self._process.start()
        settings.close()
        self._stopped = False
        self._source: FileSource | None = source  # until its first block is read here
        self._now = now
        self._encode = None
        self._thread = ThreadPoolExecutor(max_workers=1,
                                          thread_name_prefix="tierwise-import-receiver")

    def start(self, encode) -> None:
        self._settings.send(encode)
        self._encode = encode

    def request(self, loop: asyncio.AbstractEventLoop, size: int) -> asyncio.Future:
        if self._source is not None:
            source, self._source = self._source, None
            return loop.run_in_executor(self._thread, self._read_first, source, size)
        return loop.run_in_executor(self._thread, self._next)

    def _read_first(self, source: FileSource, size: int) -> _Chunk:
        with source.path.open("rb", buffering=READ_BUFFER) as stream:
            return _read_block(source.rows(stream), size, self._now, self._encode)

    def _next(self) -> _Chunk:
        while True:
            try:
                item = self._blocks.get(timeout=0.1)
            except queue.Empty:
                if self._stopped:
                    raise ReaderFailed("the import stopped before this block") from None
                if not self._process.is_alive():
                    raise ReaderFailed(
                        f"the process reading the file stopped (exit code "
                        f"{self._process.exitcode}); the chunks before it were imported, "
                        "run the import again to finish") from None
                continue
            if isinstance(item, BaseException):
                raise item
            return item

    def stop(self) -> None:
        """No more blocks are wanted: end the reader (the import is done, or failed)."""
        self._stopped = True
        # Done reading, it exits once its last block is taken; stopped early, it waits
        # to hand over a block nobody will take.
        self._process.join(timeout=0.5)
        if self._process.is_alive():
            self._process.terminate()

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self._process.join()
        self._process.close()
        self._settings.close()
        self._blocks.close()


def _read_in_process(source: FileSource, now: datetime, chunk_size: int, block_size: int,
                     settings, out) -> None:
    """The reader process: blocks of `source` as the import's plan asks for them, each
    put on `out`; an exception is put there instead, for the import to raise."""
    # A process of its own: collect young objects rarely (an import allocates millions
    # of short-lived objects), as `tierwise import-events` does in the importing process.
    gc.set_threshold(100_000, 50, 1_000)
    try:
        encode = settings.recv()  # the store's batch encoder, once it is known
        with source.path.open("rb", buffering=READ_BUFFER) as stream:
            rows = source.rows(stream)
            plan = _block_plan(chunk_size, block_size)
            first, _ = next(plan)  # read by the importing process
            records = rows.records if isinstance(rows, Rows) else rows
            if sum(1 for _ in islice(records, first)) < first:
                return  # the file ended within it
            for size, _ in plan:
                block = _read_block(rows, size, now, encode)
                out.put(block)
                if block.read < size:
                    break
    except EOFError:
        return  # the import failed before it started reading
    except BaseException as error:  # noqa: BLE001 - handed over, raised by the import
        out.put(error)
