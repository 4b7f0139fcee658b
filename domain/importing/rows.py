"""Reading events files: CSV and JSON Lines rows, each `(line, EventInput)` or
`(line, RowError)` for a row that cannot become an event, where `line` is the physical
line the row starts on (the CSV header is line 1). Pure: no database."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, tzinfo
from operator import itemgetter
from typing import Any, NoReturn

from domain import errors, events
from domain.members import Channel, IdentityKey

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
FIELDS = tuple(_ALIASES)  # the fields of a row, in the order parse_block takes them
_NAMES = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
EVENT_TYPES = {t.value: t for t in events.EventType}
CHANNELS = {c.value: c for c in Channel}


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
        return line, parse_row(self._pick(record), self.tz)


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


def parse_row(values, tz: tzinfo | None) -> events.EventInput | RowError:
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
            type=EVENT_TYPES.get(kind, kind) if kind else _missing("type"),
            occurred_at=_timestamp(occurred_at, tz),
            member_id=_member_id(member_id) if member_id else None,
            identity=(_identity(identity_channel, identity_external_id)
                      if identity_channel or identity_external_id else None),
            amount_minor=_integer(amount_minor, "amount_minor") if amount_minor else None,
            channel=channel or None,
            properties=parse_properties(properties) if properties else None,
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
    known = CHANNELS.get(channel)
    if known is None:
        raise InvalidField(f"unknown identity_channel {channel!r}", field="identity_channel")
    return IdentityKey(known, external_id)


def parse_properties(value: Any) -> dict[str, Any]:
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
