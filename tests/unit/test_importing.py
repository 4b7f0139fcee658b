"""Reading CSV and JSON Lines event files, and the chunked import over a fake store."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from domain import events, importing
from domain.events import EventInput, EventType
from domain.importing import blocks, columns
from domain.members import Channel, IdentityKey

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
HEADER = ("external_id,type,occurred_at,member_id,identity_channel,identity_external_id,"
          "amount_minor,channel,properties")
GOOD = "e-1,login,2026-11-23T09:00:00+08:00,1,,,,wechat,"


def read_csv(*lines: str | bytes, header: str = HEADER, tz=None) -> list:
    raw = b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n"
                   for line in (header, *lines))
    return list(importing.read_csv(io.BytesIO(raw), default_tz=tz))


def read_jsonl(*lines: str | dict, tz=None) -> list:
    raw = "".join((json.dumps(line) if isinstance(line, dict) else line) + "\n"
                  for line in lines).encode()
    return list(importing.read_jsonl(io.BytesIO(raw), default_tz=tz))


class FakeMembers:
    def __init__(self, ids=(), identities=None, merged=None) -> None:
        self.ids = set(ids)
        self.identities = identities or {}
        self.merged = merged or {}

    async def resolve_active(self, ids):
        return {i: self.merged.get(i, i) for i in ids if i in self.ids}

    async def identity_owners(self, keys):
        return {k: self.identities[k] for k in keys if k in self.identities}


class FakeEvents:
    def __init__(self, store: dict, fail_on_call: int | None) -> None:
        self.store, self.fail_on_call, self.calls = store, fail_on_call, 0
        self.pending: dict = {}

    async def identity_members(self, keys):
        owners = {(str(k.channel), k.external_id): m for k, m in self.identities.items()}
        return {k: owners[k] for k in keys if k in owners}

    def encoder(self):
        return None  # takes bound events only, like PostgreSQL

    async def insert_new(self, batch, *, received_at):
        self.calls += 1
        new = {e.external_id: e for e in batch.events() if e.external_id not in self.store}
        self.pending.update(new)
        if self.calls == self.fail_on_call:
            raise ConnectionError("the database went away")
        return len(new)


class FakeUnitOfWork:
    """One transaction: inserted events reach `store` only on commit."""

    def __init__(self, members: FakeMembers, store: dict, fail_on_call=None) -> None:
        self.members = members
        self.events = FakeEvents(store, fail_on_call)
        self.events.identities = members.identities

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.events.pending.clear()

    async def commit(self):
        self.events.store.update(self.events.pending)


def fake_store(members: FakeMembers, *, fail_on_chunk: int | None = None):
    store: dict = {}
    chunks = iter(range(1, 10_000))

    def factory():
        return FakeUnitOfWork(members, store,
                              fail_on_call=1 if next(chunks) == fail_on_chunk else None)
    return store, factory


async def import_rows(rows, members=None, chunk_size=100, stored=None):
    store, factory = fake_store(members or FakeMembers(ids={1, 2}))
    store.update(stored or {})
    report = await importing.import_events(uow_factory=factory, rows=rows, now=NOW,
                                           chunk_size=chunk_size)
    return report, store


def reasons(report) -> list[tuple[int, str, str]]:
    return [(r.line, r.code, r.reason) for r in report.rejected]


# --- reading ---------------------------------------------------------------------------

def test_a_csv_row_becomes_an_event_input_with_every_field_parsed():
    [(line, event)] = read_csv(
        'e-9,purchase,2026-11-23T09:00:00+08:00,,wechat, wx-7 ,1999,app,"{""sku"": ""A1""}"')
    assert line == 2
    assert event == EventInput(
        external_id="e-9", type=EventType.PURCHASE,
        occurred_at=datetime(2026, 11, 23, 1, tzinfo=UTC), member_id=None,
        identity=IdentityKey(Channel.WECHAT, "wx-7"), amount_minor=1999, channel="app",
        properties={"sku": "A1"})


def test_line_numbers_are_physical_lines_past_blank_lines_and_quoted_newlines():
    rows = read_csv(GOOD, "", '"e-2\nsecond line",login,2026-11-23T09:00:00Z,1,,,,,',
                    "e-3,login,2026-11-23T09:00:00Z,1,,,,,")
    assert [line for line, _ in rows] == [2, 4, 6]


def test_event_id_is_accepted_for_external_id_and_unknown_columns_are_ignored():
    [(_, event)] = read_csv("x,e-5,login,2026-11-23T01:00:00Z,2",
                            header="note,event_id,type,occurred_at,member_id")
    assert (event.external_id, event.member_id) == ("e-5", 2)


def test_a_naive_timestamp_is_rejected_unless_a_default_time_zone_is_given():
    naive = "e-1,login,2026-11-23T09:00:00,1,,,,,"
    [(line, error)] = read_csv(naive)
    assert (line, error.code) == (2, "INVALID_VALUE")
    assert "no UTC offset" in error.message
    [(_, event)] = read_csv(naive, tz=ZoneInfo("Asia/Shanghai"))
    assert event.occurred_at == datetime(2026, 11, 23, 1, tzinfo=UTC)


@pytest.mark.parametrize(("row", "code", "reason"), [
    ("e-1,login,2026-11-23T09:00:00Z,1", "MALFORMED_ROW", "the row has 4 field(s)"),
    (",login,2026-11-23T09:00:00Z,1,,,,,", "MISSING_FIELD", "external_id is missing"),
    ("e-1,,2026-11-23T09:00:00Z,1,,,,,", "MISSING_FIELD", "type is missing"),
    ("e-1,login,yesterday,1,,,,,", "INVALID_VALUE", "'yesterday' is not an ISO 8601"),
    ("e-1,login,2026-11-23T09:00:00,1,,,,,", "INVALID_VALUE", "has no UTC offset"),
    ("e-1,login,0001-01-01T00:00:00+08:00,1,,,,,", "INVALID_VALUE", "is out of range"),
    ("e-1,login,2026-11-23T09:00:00Z,one,,,,,", "INVALID_VALUE", "member_id 'one' is not"),
    ("e-1,login,2026-11-23T09:00:00Z,0,,,,,", "INVALID_VALUE", "member_id '0' is not a member"),
    ("e-1,purchase,2026-11-23T09:00:00Z,1,,,12.50,,", "INVALID_VALUE",
     "amount_minor '12.50' is not an integer"),
    ("e-1,login,2026-11-23T09:00:00Z,,myspace,x,,,", "INVALID_VALUE",
     "unknown identity_channel 'myspace'"),
    ("e-1,login,2026-11-23T09:00:00Z,,wechat,,,,", "MISSING_FIELD", "an identity needs both"),
    ("e-1,login,2026-11-23T09:00:00Z,1,,,,,{oops", "INVALID_VALUE", "is not valid JSON"),
    ("e-1,login,2026-11-23T09:00:00Z,1,,,,,[1]", "INVALID_VALUE", "must be a JSON object"),
])
def test_each_unreadable_csv_field_rejects_its_row_with_line_and_reason(row, code, reason):
    [(line, error)] = read_csv(GOOD, row)[1:]
    assert (line, error.code) == (3, code)
    assert reason in error.message


def test_a_line_that_is_not_utf8_rejects_only_its_row():
    rows = read_csv(GOOD, b"e-2,login,2026-11-23T09:00:00Z,1,,,,\xff\xfe,",
                    "e-3,login,2026-11-23T09:00:00Z,1,,,,,")
    assert [(line, type(item).__name__) for line, item in rows] == [
        (2, "EventInput"), (3, "MalformedRow"), (4, "EventInput")]


def test_a_broken_quote_rejects_its_row_and_reading_goes_on():
    rows = read_csv('e-2,login,2026-11-23T09:00:00Z,1,,,,"a"b,', GOOD)
    assert rows[0][0] == 2 and rows[0][1].code == "MALFORMED_ROW"
    assert rows[1][0] == 3 and isinstance(rows[1][1], EventInput)


@pytest.mark.parametrize(("header", "missing"), [
    ("external_id,type,member_id", "occurred_at"),
    ("external_id,type,occurred_at,identity_channel", "member_id (or identity_channel"),
    ("", "external_id"),
])
def test_a_header_without_the_required_columns_is_a_file_error(header, missing):
    with pytest.raises(importing.FileError, match=r"lacks column\(s\)") as raised:
        read_csv(GOOD, header=header)
    assert missing in raised.value.message


def test_an_empty_csv_file_is_a_file_error():
    with pytest.raises(importing.FileError, match="empty"):
        list(importing.read_csv(io.BytesIO(b"")))


def test_a_byte_order_mark_before_the_header_is_ignored():
    raw = b"\xef\xbb\xbf" + (HEADER + "\n" + GOOD + "\n").encode()
    [(_, event)] = list(importing.read_csv(io.BytesIO(raw)))
    assert event.external_id == "e-1"


def test_a_byte_order_mark_before_the_first_json_line_is_ignored():
    raw = b"\xef\xbb\xbf" + json.dumps({"externalId": "e-1", "type": "login",
                                        "occurredAt": "2026-11-23T01:00:00Z",
                                        "memberId": 1}).encode()
    [(_, event)] = list(importing.read_jsonl(io.BytesIO(raw)))
    assert event.external_id == "e-1"


def test_json_lines_accept_camel_case_keys_and_a_nested_identity():
    rows = read_jsonl(
        {"externalId": "e-1", "type": "purchase", "occurredAt": "2026-11-23T01:00:00Z",
         "identity": {"channel": "douyin", "externalId": "dy-3"}, "amountMinor": 500,
         "properties": {"sku": "B"}},
        "",
        {"external_id": "e-2", "type": "login", "occurred_at": "2026-11-23T01:00:00+00:00",
         "identity_channel": "wechat", "identity_external_id": "wx-1"},
        {"eventId": 77, "type": "like", "occurredAt": "2026-11-23T01:00:00Z", "memberId": 2},
    )
    assert [line for line, _ in rows] == [1, 3, 4]
    first, second, third = (event for _, event in rows)
    assert (first.identity, first.amount_minor, first.properties) == (
        IdentityKey(Channel.DOUYIN, "dy-3"), 500, {"sku": "B"})
    assert second.identity == IdentityKey(Channel.WECHAT, "wx-1")
    assert (third.external_id, third.member_id) == ("77", 2)


@pytest.mark.parametrize(("line", "code", "reason"), [
    ('{"externalId": "e-1", "type": ', "MALFORMED_ROW", "not valid JSON"),
    ('["e-1", "login"]', "MALFORMED_ROW", "must be a JSON object, not an array"),
    ({"type": "login", "occurredAt": "2026-11-23T01:00:00Z", "memberId": 1},
     "MISSING_FIELD", "external_id is missing"),
    ({"externalId": "e-1", "type": "login", "memberId": 1}, "MISSING_FIELD",
     "occurred_at is missing"),
    ({"externalId": "e-1", "type": "purchase", "occurredAt": "2026-11-23T01:00:00Z",
      "memberId": 1, "amountMinor": 12.5}, "INVALID_VALUE", "'12.5' is not an integer"),
    ({"externalId": "e-1", "type": "login", "occurredAt": 1764000000, "memberId": 1},
     "INVALID_VALUE", "'1764000000' is not an ISO 8601"),
    ({"externalId": "e-1", "type": "login", "occurredAt": "2026-11-23T01:00:00Z",
      "memberId": True}, "INVALID_VALUE", "member_id 'true' is not an integer"),
    ({"externalId": "e-1", "type": "login", "occurredAt": "2026-11-23T01:00:00Z",
      "memberId": 2**64}, "INVALID_VALUE", f"member_id '{2**64}' is not a member id"),
    ('{"externalId": "e-1", "amountMinor": NaN}', "MALFORMED_ROW", "NaN is not a JSON number"),
    ('{"externalId": "e\\u0000", "type": "login", "occurredAt": "2026-11-23T01:00:00Z", '
     '"memberId": 1}', "INVALID_VALUE", "holds a NUL or an invalid character"),
    ('{"externalId": "e-1", "type": "login", "occurredAt": "2026-11-23T01:00:00Z", '
     '"identity": {"channel": "app", "externalId": "\\ud800"}}', "INVALID_VALUE",
     "identity_external_id"),
    ('{"externalId": "e-1", "type": "post", "occurredAt": "2026-11-23T01:00:00Z", '
     '"memberId": 1, "properties": {"t": "\\udc00"}}', "INVALID_VALUE", "lone surrogate"),
    ("[" * 100_000, "MALFORMED_ROW", "not valid JSON"),
])
def test_each_malformed_json_line_is_rejected_with_its_line_and_reason(line, code, reason):
    good = {"externalId": "e-0", "type": "login", "occurredAt": "2026-11-23T01:00:00Z",
            "memberId": 1}
    [(number, error)] = read_jsonl(good, line)[1:]
    assert (number, error.code) == (2, code)
    assert reason in error.message


# --- importing -------------------------------------------------------------------------

async def test_valid_rows_land_and_each_rejected_row_reports_its_line_and_reason():
    rows = read_csv(
        GOOD,
        "e-2,teleport,2026-11-23T09:00:00Z,1,,,,,",
        "e-3,purchase,2026-11-23T09:00:00Z,1,,,-5,,",
        "e-4,login,2026-11-23T09:00:00Z,1,,,300,,",
        "e-5,login,2026-11-23T09:00:00Z,,wechat,wx-404,,,",
        "e-6,login,2026-11-23T09:00:00Z,99,,,,,",
        "e-7,login,2026-11-23T09:00:00Z,abc,,,,,",
        "e-8,purchase,2026-11-23T09:00:00Z,,wechat,wx-2,1999,,",
    )
    members = FakeMembers(ids={1, 2}, identities={IdentityKey(Channel.WECHAT, "wx-2"): 2})
    report, store = await import_rows(rows, members)
    assert sorted(store) == ["e-1", "e-8"]
    assert store["e-8"].member_id == 2
    assert (report.read, report.accepted, report.duplicates) == (8, 2, 0)
    assert [(line, code) for line, code, _ in reasons(report)] == [
        (3, "INVALID_VALUE"), (4, "INVALID_VALUE"), (5, "INVALID_VALUE"),
        (6, "UNKNOWN_MEMBER"), (7, "UNKNOWN_MEMBER"), (8, "INVALID_VALUE")]
    by_line = {line: reason for line, _, reason in reasons(report)}
    assert "unknown event type 'teleport'" in by_line[3]
    assert "got -5" in by_line[4]
    assert "only purchases carry an amount" in by_line[5]
    assert "wx-404" in by_line[6] and "member 99 does not exist" in by_line[7]


async def test_a_repeated_external_id_is_a_duplicate_within_the_file_and_across_runs():
    rows = read_csv(GOOD, GOOD.replace("e-1", "e-2"), GOOD)
    report, store = await import_rows(rows, chunk_size=2)
    assert (report.accepted, report.duplicates, report.rejected) == (2, 1, [])
    again, _ = await import_rows(rows, chunk_size=2, stored=store)
    assert (again.accepted, again.duplicates) == (0, 3)


async def test_a_failing_chunk_writes_nothing_and_earlier_chunks_stay():
    rows = [(n + 2, EventInput(external_id=f"e-{n}", type="login",
                               occurred_at=NOW - timedelta(hours=1), member_id=1))
            for n in range(10)]
    store, factory = fake_store(FakeMembers(ids={1}), fail_on_chunk=2)
    with pytest.raises(ConnectionError):
        await importing.import_events(uow_factory=factory, rows=rows, now=NOW, chunk_size=4)
    assert sorted(store) == ["e-0", "e-1", "e-2", "e-3"]


async def test_events_of_a_merged_member_are_bound_to_the_survivor():
    rows = read_csv(GOOD)
    report, store = await import_rows(rows, FakeMembers(ids={1, 2}, merged={1: 2}))
    assert report.accepted == 1
    assert (store["e-1"].member_id, store["e-1"].origin_member_id) == (2, 1)


async def test_an_event_from_the_future_is_rejected_with_its_line():
    later = (NOW + timedelta(hours=1)).astimezone(timezone(timedelta(hours=8))).isoformat()
    report, store = await import_rows(read_csv(f"e-1,login,{later},1,,,,,"))
    assert store == {}
    assert reasons(report)[0][:2] == (2, "INVALID_VALUE")
    assert "in the future" in reasons(report)[0][2]


# --- the column-wise path agrees with the row path ---------------------------------------

TRICKY_ROWS = [
    GOOD,
    "e-2,login,2026-11-23T01:00:00Z,1,,,,,",
    "e-3,login,2026-11-23 01:00:00.123+05:30,1,,,,,",
    "e-4,like,2026-11-22T23:59:59.999999-07:00,2,,,,app,",
    "e-5,login,2024-02-29T12:00:00+00:00,1,,,,,",  # a leap day
    "e-6,login,2023-02-29T12:00:00+00:00,1,,,,,",  # not a leap year
    "e-7,login,2026-11-23T24:00:00+00:00,1,,,,,",
    "e-8,login,2026-11-23T09:00:00+24:00,1,,,,,",
    "e-9,login,2026-11-23T09:00:00,1,,,,,",  # naive
    "e-10,login,0001-01-01T00:00:00+08:00,1,,,,,",
    "e-11,login,2026-11-23T09:00:00.5+08:00,1,,,,,",  # a shape only fromisoformat reads
    "e-12,login,2026-11-23T09:00:00+0800,1,,,,,",
    "e-13,login,2026-13-01T09:00:00+08:00,1,,,,,",
    "e-14,login,2026-11-24T09:00:00+00:00,1,,,,,",  # the future
    "e-15,login,2026-11-23T12:04:00+00:00,1,,,,,",  # within the tolerated skew
    "  e-16 ,login,2026-11-23T01:00:00Z,1,,,,,",  # stripped
    "   ,login,2026-11-23T01:00:00Z,1,,,,,",
    "e\x0017,login,2026-11-23T01:00:00Z,1,,,,,",
    "x" * 129 + ",login,2026-11-23T01:00:00Z,1,,,,,",
    "e-18,teleport,2026-11-23T01:00:00Z,1,,,,,",
    "e-19,,2026-11-23T01:00:00Z,1,,,,,",
    "e-20,purchase,2026-11-23T01:00:00Z,1,,,0,,",
    "e-21,purchase,2026-11-23T01:00:00Z,1,,,,,",
    f"e-22,purchase,2026-11-23T01:00:00Z,1,,,{10**11 + 1},,",
    "e-23,login,2026-11-23T01:00:00Z,1,,,5,,",
    "e-24,login,2026-11-23T01:00:00Z,,wechat, wx-1 ,,,",
    "e-25,login,2026-11-23T01:00:00Z,1,wechat,wx-1,,,",
    "e-26,login,2026-11-23T01:00:00Z,,,,,,",
    "e-27,login,2026-11-23T01:00:00Z,,myspace,wx-1,,,",
    "e-28,login,2026-11-23T01:00:00Z,,wechat,   ,,,",
    "e-29,login,2026-11-23T01:00:00Z,0,,,,,",
    "e-30,login,2026-11-23T01:00:00Z,+7,,,,,",
    "e-31,login,2026-11-23T01:00:00Z,1,,,,myspace,",
    'e-32,post,2026-11-23T01:00:00Z,1,,,,,"{""topic"": ""tea""}"',
    "e-33,post,2026-11-23T01:00:00Z,1,,,,,[1]",
    "e-34,login,2026-11-23T01:00:00Z,1",
    "e-35,login,2026-11-23T01:00:00Z,1,,,1.5,,",
    "e-36,login,2026-11-23T01:00:00Z,99999999999999999999,,,,,",
]


def _by_row(raw: bytes, tz) -> tuple[dict, list]:
    """The row path: read_csv's rows, each through check_event."""
    accepted, rejected = {}, []
    for line, item in importing.read_csv(io.BytesIO(raw), default_tz=tz):
        if isinstance(item, importing.RowError):
            rejected.append((line, item.code, item.message))
            continue
        try:
            event = events.check_event(item, now=NOW)
        except events.EventError as error:
            rejected.append((line, error.code, error.message))
            continue
        columns = events.EventColumns()
        columns.append(line, event)
        accepted[line] = _row_of(columns, 0)
    return accepted, rejected


def _row_of(columns, i: int) -> tuple:
    return tuple(getattr(columns, name)[i] for name in (
        "external_id", "type", "occurred_us", "member_id", "identity", "amount_minor",
        "channel", "properties"))


@pytest.mark.parametrize("tz", [None, ZoneInfo("Asia/Shanghai")])
def test_the_column_path_accepts_and_rejects_exactly_what_the_row_path_does(tz):
    raw = "\n".join((HEADER, *TRICKY_ROWS, "")).encode()
    accepted, rejected = _by_row(raw, tz)
    chunk = blocks.read_chunk(importing.read_csv(io.BytesIO(raw), default_tz=tz),
                                  1000, NOW)
    columns = chunk.checked
    assert {line: _row_of(columns, i) for i, line in enumerate(columns.key)} == accepted
    assert sorted((line, e.code, e.message) for line, e in chunk.rejected) == rejected
    assert chunk.read == len(TRICKY_ROWS)
    assert len(accepted) > 10 and len(rejected) > 20  # both paths were exercised


def test_vectorised_timestamps_equal_fromisoformat():
    rng = np.random.default_rng(7)
    seconds = rng.integers(-2 * 10**9, 4 * 10**9, 2000)
    micros = rng.integers(0, 10**6, 2000)
    offsets = rng.integers(-23 * 60, 23 * 60, 2000)
    texts = []
    for s, us, off in zip(seconds.tolist(), micros.tolist(), offsets.tolist(), strict=True):
        zone = timezone(timedelta(minutes=off))
        moment = datetime.fromtimestamp(s, UTC).replace(microsecond=us).astimezone(zone)
        spec = ("seconds", "milliseconds", "microseconds")[s % 3]
        texts.append(moment.isoformat(sep="T" if us % 2 else " ", timespec=spec))
    texts += ["2026-11-23T09:00:00Z", "2026-11-23T09:00:00.250Z", "2000-02-29T00:00:00Z"]
    values, plain = columns.iso_microseconds(texts)
    assert plain.all()
    expected = [events.microseconds(datetime.fromisoformat(t)) for t in texts]
    assert values.tolist() == expected


def test_the_column_path_reads_json_lines_like_the_row_path():
    lines = [{"eventId": "j-1", "type": "purchase", "occurredAt": "2026-11-23T01:00:00Z",
              "identity": {"channel": "wechat", "externalId": "wx-1"}, "amountMinor": 5},
             {"external_id": "j-2", "type": "login", "occurred_at": "2026-11-23T01:00:00Z",
              "member_id": 1.0},
             {"external_id": "j-3", "type": "post", "occurred_at": "2026-11-23T01:00:00Z",
              "member_id": 2, "properties": {"topic": "tea"}},
             {"external_id": "j-4", "type": "post", "occurred_at": "2026-11-23T01:00:00Z",
              "member_id": 2, "properties": 5},
             {"external_id": 4, "type": "login", "occurred_at": "2026-11-23T01:00:00Z",
              "member_id": True}]
    raw = "".join(json.dumps(line) + "\n" for line in lines).encode() + b"[1]\n"
    by_row = []
    for line, item in importing.read_jsonl(io.BytesIO(raw)):
        if isinstance(item, importing.RowError):
            by_row.append((line, item.code))
        else:
            try:
                by_row.append((line, events.check_event(item, now=NOW).external_id))
            except events.EventError as error:
                by_row.append((line, error.code))
    chunk = blocks.read_chunk(importing.read_jsonl(io.BytesIO(raw)), 100, NOW)
    by_column = [(line, e.code) for line, e in chunk.rejected]
    by_column += list(zip(chunk.checked.key, chunk.checked.external_id, strict=True))
    assert sorted(by_column) == by_row
    assert ("j-1", ("wechat", "wx-1"), 5) in zip(
        chunk.checked.external_id, chunk.checked.identity, chunk.checked.amount_minor,
        strict=True)
