"""`tierwise import-events` against the real store, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text

from domain import events, importing, merges
from domain.clock import utcnow
from domain.members import Channel
from domain.store.repositories.events import EventRepository
from domain.store.tables import events as events_table
from scripts import import_events
from tests.factories import make_member

HEADER = ("external_id,type,occurred_at,member_id,identity_channel,identity_external_id,"
          "amount_minor,channel,properties")


def csv_rows(*lines: str):
    return importing.read_csv(io.BytesIO("\n".join((HEADER, *lines, "")).encode()))


async def run_import(db, rows, chunk_size=100):
    return await importing.import_events(uow_factory=db.unit_of_work, rows=rows, now=utcnow(),
                                         chunk_size=chunk_size)


async def stored(db) -> dict:
    async with db.engine.connect() as conn:
        rows = (await conn.execute(select(events_table))).all()
    return {row.external_id: row for row in rows}


def at(hours_ago: float) -> str:
    return (utcnow() - timedelta(hours=hours_ago)).isoformat()


async def test_valid_rows_land_and_rejected_rows_are_reported_by_line(database):
    ann, bo = await make_member(database), await make_member(database)
    [bo_wechat] = [i.external_id for i in (await _identities(database, bo.id))]
    report = await run_import(database, csv_rows(
        f"e-1,login,{at(3)},{ann.id},,,,wechat,",
        f'e-2,purchase,{at(2)},,wechat,{bo_wechat},1999,app,"{{""sku"": ""A1""}}"',
        f"e-3,purchase,{at(2)},{ann.id},,,-1,,",
        f"e-4,login,{at(2)},,wechat,wx-nobody,,,",
        f"e-5,login,{at(2)},{ann.id}",
    ))
    found = await stored(database)
    assert sorted(found) == ["e-1", "e-2"]
    assert (found["e-2"].member_id, found["e-2"].amount_minor) == (bo.id, 1999)
    assert found["e-2"].properties == {"sku": "A1"}
    assert (report.read, report.accepted, report.duplicates) == (5, 2, 0)
    assert [(r.line, r.code) for r in report.rejected] == [
        (4, "INVALID_VALUE"), (5, "UNKNOWN_MEMBER"), (6, "MALFORMED_ROW")]


async def test_importing_the_same_file_again_creates_no_duplicates(database):
    ann = await make_member(database)
    lines = [f"e-{n},like,{at(n)},{ann.id},,,,," for n in range(1, 8)]
    first = await run_import(database, csv_rows(*lines), chunk_size=3)
    again = await run_import(database, csv_rows(*lines), chunk_size=3)
    assert (first.accepted, first.duplicates) == (7, 0)
    assert (again.accepted, again.duplicates, again.rejected) == (0, 7, [])
    assert len(await stored(database)) == 7


async def test_unknown_member_ids_and_identities_are_rejected(database):
    ann = await make_member(database)
    report = await run_import(database, csv_rows(
        f"e-1,login,{at(1)},{ann.id + 1000},,,,,",
        f"e-2,login,{at(1)},,douyin,dy-unknown,,,",
    ))
    assert report.accepted == 0
    assert [(r.line, r.code) for r in report.rejected] == [
        (2, "UNKNOWN_MEMBER"), (3, "UNKNOWN_MEMBER")]
    assert f"member {ann.id + 1000} does not exist" in report.rejected[0].reason


async def test_events_of_a_merged_member_go_to_the_survivor(database):
    survivor, merged = await make_member(database), await make_member(database)
    [merged_wechat] = [i.external_id for i in (await _identities(database, merged.id))]
    async with database.unit_of_work() as uow:
        await merges.merge_members(uow=uow, survivor_id=survivor.id, merged_id=merged.id,
                                    actor="test", reason="same person", now=utcnow())
    await run_import(database, csv_rows(
        f"e-1,login,{at(1)},{merged.id},,,,,",
        f"e-2,login,{at(1)},,wechat,{merged_wechat},,,",
    ))
    found = await stored(database)
    assert {found[e].member_id for e in ("e-1", "e-2")} == {survivor.id}
    assert found["e-1"].origin_member_id == merged.id


async def test_events_follow_a_chain_of_merges_and_unknown_ids_are_rejected(database):
    first, middle, last, plain = [await make_member(database) for _ in range(4)]
    async with database.unit_of_work() as uow:  # first -> middle, then middle -> last
        await merges.merge_members(uow=uow, survivor_id=middle.id, merged_id=first.id,
                                    actor="test", reason="same person", now=utcnow())
    async with database.unit_of_work() as uow:
        await merges.merge_members(uow=uow, survivor_id=last.id, merged_id=middle.id,
                                    actor="test", reason="same person", now=utcnow())
    report = await run_import(database, csv_rows(
        f"f-1,login,{at(1)},{first.id},,,,,",
        f"f-2,login,{at(1)},{middle.id},,,,,",
        f"f-3,login,{at(1)},{plain.id},,,,,",
        f"f-4,login,{at(1)},{plain.id + 1000},,,,,",
    ))
    assert [(r.line, r.code) for r in report.rejected] == [(5, "UNKNOWN_MEMBER")]
    found = await stored(database)
    assert {e: (found[e].member_id, found[e].origin_member_id) for e in found} == {
        "f-1": (last.id, first.id), "f-2": (last.id, middle.id), "f-3": (plain.id, plain.id)}


async def test_a_chunk_that_fails_writes_nothing_and_earlier_chunks_stay(database,
                                                                         monkeypatch):
    ann = await make_member(database)
    calls = []

    def failing_second_time(insert):  # SQLite imports insert_encoded, PostgreSQL insert_new
        async def wrapper(self, *args, **kwargs):
            calls.append(insert.__name__)
            result = await insert(self, *args, **kwargs)
            if len(calls) == 2:
                raise ConnectionError("the database went away mid-chunk")
            return result
        return wrapper

    for name in ("insert_new", "insert_encoded"):
        monkeypatch.setattr(EventRepository, name,
                            failing_second_time(getattr(EventRepository, name)))
    with pytest.raises(ConnectionError):
        await run_import(database, csv_rows(
            *(f"e-{n},like,{at(n)},{ann.id},,,,," for n in range(1, 7))), chunk_size=3)
    assert sorted(await stored(database)) == ["e-1", "e-2", "e-3"]


async def test_json_lines_import_like_csv(database):
    ann = await make_member(database)
    lines = [json.dumps({"eventId": "j-1", "type": "check_in", "occurredAt": at(1),
                         "memberId": ann.id}), "not json"]
    report = await run_import(database, importing.read_jsonl(
        io.BytesIO("\n".join(lines).encode())))
    assert report.accepted == 1
    assert [(r.line, r.code) for r in report.rejected] == [(2, "MALFORMED_ROW")]


async def test_the_batch_insert_stores_exactly_what_sqlalchemy_would(database):
    # SQLite takes a hand-written JSON batch path: it must store what the table types store.
    ann = await make_member(database)
    received = datetime(2026, 11, 23, 4, 5, 6, 789, tzinfo=UTC)
    samples = [
        dict(type=events.EventType.PURCHASE, occurred_at=datetime(1969, 12, 31, 23, 59, 59,
                                                                  999_999, tzinfo=UTC),
             amount_minor=10**11, channel=Channel.APP, properties={"sku": "茶", "n": [1, 2.5]}),
        dict(type=events.EventType.LOGIN,
             occurred_at=datetime(2026, 3, 1, 8, tzinfo=timezone(timedelta(hours=8))),
             amount_minor=None, channel=None, properties=None),
        dict(type=events.EventType.POST, occurred_at=datetime(2026, 1, 1, 0, 0, 0, 1,
                                                              tzinfo=UTC),
             amount_minor=None, channel=Channel.WECHAT, properties={}),
    ]
    async with database.unit_of_work() as uow:
        for n, sample in enumerate(samples):
            event = events.Event(external_id=f"fast-{n}", member_id=ann.id, **sample)
            assert await uow.events.insert_new([event], received_at=received) == 1
            await uow.connection.execute(events_table.insert().values(
                external_id=f"slow-{n}", member_id=ann.id, origin_member_id=ann.id,
                type=sample["type"].value, occurred_at=sample["occurred_at"],
                amount_minor=sample["amount_minor"],
                channel=sample["channel"].value if sample["channel"] else None,
                properties=sample["properties"], received_at=received))
        assert await uow.events.insert_new([event], received_at=received) == 0
        encode = uow.events.encoder()  # an import's pre-encoded batches (SQLite)
        if encode is not None:
            batch = events.EventColumns.of_events([
                events.Event(external_id=f"enc-{n}", member_id=ann.id, **sample)
                for n, sample in enumerate(samples)])
            mark = await uow.events.start_bulk()
            payload = encode(batch, [0] * len(samples))
            assert await uow.events.insert_encoded(payload, [(ann.id, ann.id)],
                                                   received_at=received) == len(samples)
            assert await uow.events.insert_encoded(payload, [(ann.id, ann.id)],
                                                   received_at=received) == 0
            await uow.events.roll_up_since(mark)
        await uow.commit()
    async with database.engine.connect() as conn:
        # Storage classes too on SQLite (text vs integer); PostgreSQL's columns are typed.
        sqlite = database.dialect == "sqlite"
        extra = ("properties, typeof(properties), typeof(amount_minor)" if sqlite
                 else "properties::text, pg_typeof(properties)::text")
        raw = {row[0]: row[1:] for row in (await conn.execute(text(
            "SELECT external_id, member_id, origin_member_id, type, occurred_at, "
            f"amount_minor, channel, received_at, {extra} FROM events"))).all()}
    for n in range(len(samples)):
        assert raw[f"fast-{n}"] == raw[f"slow-{n}"]
        if sqlite:
            assert raw[f"enc-{n}"] == raw[f"slow-{n}"]


def test_the_command_exits_1_with_rejects_and_2_for_an_unreadable_file(
        database_url, tmp_path, monkeypatch, capsys):
    async def enroll():
        from domain.store.database import Database
        db = Database(database_url)
        try:
            return await make_member(db)
        finally:
            await db.dispose()

    ann = asyncio.run(enroll())
    monkeypatch.setenv("TIERWISE_DATABASE_URL", database_url)
    path = tmp_path / "events.csv"
    path.write_text("\n".join((HEADER, f"e-1,login,{at(1)},{ann.id},,,,,",
                               f"e-2,login,{at(1)},{ann.id},,,7,,", "")))
    rejects = tmp_path / "rejects.csv"

    def command(**options):
        args = dict(file=path, format=None, chunk_size=100, timezone=None, rejects=None)
        return import_events.run(SimpleNamespace(**{**args, **options}))

    assert command(rejects=rejects) == 1
    out = capsys.readouterr().out
    assert "line 3: INVALID_VALUE only purchases carry an amount" in out
    assert "read 2, accepted 1, duplicates 0, rejected 1" in out
    assert rejects.read_text().splitlines()[1].startswith("3,INVALID_VALUE,")
    assert command(file=tmp_path / "missing.csv") == 2
    assert command(timezone="Nowhere/Special") == 2
    path.write_text("id,when\n1,now\n")
    assert command() == 2
    assert "lacks column(s)" in capsys.readouterr().out


async def _identities(db, member_id):
    async with db.unit_of_work(write=False) as uow:
        return (await uow.members.identities_of([member_id]))[member_id]


async def _rollup(db) -> list[tuple]:
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT member_id, day, events, logins, likes, purchases, revenue_minor"
            " FROM member_days ORDER BY member_id, day"))).all()
    return [tuple(row) for row in rows]


async def test_the_rollup_after_imports_with_duplicates_and_rejects_equals_a_rebuild(database):
    ann, bo = await make_member(database), await make_member(database)
    [bo_wechat] = [i.external_id for i in (await _identities(database, bo.id))]
    lines = [
        f"r-1,login,{at(30)},{ann.id},,,,,",
        f"r-2,purchase,{at(29)},,wechat,{bo_wechat},500,,",
        f"r-1,login,{at(1)},{ann.id},,,,,",  # a duplicate within the file: not stored
        f"r-3,purchase,{at(2)},{ann.id},,,,,",  # rejected: a purchase without an amount
        f"r-4,like,{at(2)},,wechat,wx-nobody,,,",  # rejected: unknown member
        f"r-5,like,{at(50)},{bo.id},,,,,",
        f"r-6,purchase,{at(3)},{bo.id},,,250,,",
    ]
    first = await run_import(database, csv_rows(*lines), chunk_size=3)
    assert (first.accepted, first.duplicates, len(first.rejected)) == (4, 1, 2)
    again = await run_import(database, csv_rows(*lines), chunk_size=2)
    assert (again.accepted, again.duplicates) == (0, 5)
    maintained = await _rollup(database)
    assert sum(row[2] for row in maintained) == len(await stored(database)) == 4
    async with database.unit_of_work() as uow:
        await uow.activity.rebuild()
        await uow.commit()
    assert await _rollup(database) == maintained
    assert sum(row[6] for row in maintained) == 750


async def test_identities_are_bound_in_bulk_and_unknown_ones_are_left_out(database):
    ann = await make_member(database)
    [wechat] = [i.external_id for i in (await _identities(database, ann.id))]
    async with database.unit_of_work(write=False) as uow:
        found = await uow.events.identity_members(
            [("wechat", wechat), ("wechat", "wx-nobody"), ("douyin", wechat)])
    assert found == {("wechat", wechat): ann.id}


# --- a big file is read in a process of its own -----------------------------------------

class DyingSource(importing.FileSource):
    """A file whose reader process dies (as if killed) after its first `alive` rows."""

    __slots__ = ()
    alive = 4

    def rows(self, lines):
        rows = super().rows(lines)
        for n, row in enumerate(rows):
            if n == self.alive:
                time.sleep(0.5)  # working on the next block, what it handed over is sent
                os._exit(3)
            yield row


async def test_a_file_read_in_a_process_imports_exactly_as_one_read_in_a_thread(
        database, tmp_path):
    ann, bo = await make_member(database), await make_member(database)
    [bo_wechat] = [i.external_id for i in (await _identities(database, bo.id))]
    lines = [
        f"p-1,login,{at(30)},{ann.id},,,,,",
        f'p-2,purchase,{at(29)},,wechat,{bo_wechat},500,,"{{""sku"": ""A1""}}"',
        f"p-1,login,{at(1)},{ann.id},,,,,",  # a duplicate within the file
        f"p-3,purchase,{at(2)},{ann.id},,,,,",  # a purchase without an amount
        f"p-4,like,{at(2)},,wechat,wx-nobody,,,",  # an unknown member
        "p-5,like,yesterday,1,,,,,",  # not a timestamp
        *(f"p-{n},like,{at(n / 10)},{bo.id},,,,," for n in range(6, 40)),
        "p-40,like",  # too few fields
    ]
    path = tmp_path / "events.csv"
    path.write_text("\n".join((HEADER, *lines, "")))
    by_process = await import_events.import_file(database, path, chunk_size=7,
                                                 process_min_bytes=0)
    by_thread = await import_events.import_file(database, path, chunk_size=7,
                                                process_min_bytes=1 << 40)
    first = by_process.report
    assert (first.read, first.accepted, first.duplicates) == (41, 36, 1)
    assert [(r.line, r.code) for r in first.rejected] == [
        (5, "INVALID_VALUE"), (6, "UNKNOWN_MEMBER"), (7, "INVALID_VALUE"),
        (42, "MALFORMED_ROW")]
    again = by_thread.report
    assert (again.read, again.accepted, again.duplicates) == (41, 0, 37)
    assert again.rejected == first.rejected
    one_block = await import_events.import_file(database, path, process_min_bytes=0)
    assert (one_block.report.read, one_block.report.duplicates) == (41, 37)
    assert one_block.report.rejected == first.rejected
    found = await stored(database)
    assert len(found) == 36 and found["p-2"].properties == {"sku": "A1"}
    assert sum(row[2] for row in await _rollup(database)) == 36


async def test_a_bad_header_read_in_a_process_is_an_unreadable_file(database, tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("id,when\n1,now\n")
    with pytest.raises(import_events.UnreadableFile, match="lacks column"):
        await import_events.import_file(database, path, process_min_bytes=0)


async def test_a_reader_process_that_dies_fails_the_import_and_earlier_chunks_stay(
        database, tmp_path):
    ann = await make_member(database)
    path = tmp_path / "events.csv"
    path.write_text("\n".join((HEADER, *(f"d-{n},like,{at(n)},{ann.id},,,,,"
                                         for n in range(1, 10)), "")))
    source = DyingSource(path, "csv")
    with pytest.raises(importing.ReaderFailed, match="exit code 3"):
        await importing.import_events(uow_factory=database.unit_of_work, rows=source,
                                      now=utcnow(), chunk_size=2, block_size=2)
    # the chunks handed over before the death were committed, nothing of the next one
    assert sorted(await stored(database)) == ["d-1", "d-2", "d-3", "d-4"]
    assert sum(row[2] for row in await _rollup(database)) == 4
    again = await importing.import_events(  # run again to finish
        uow_factory=database.unit_of_work, rows=importing.FileSource(path, "csv"),
        now=utcnow(), chunk_size=2)
    assert (again.accepted, again.duplicates) == (5, 4)


async def test_progress_is_reported_after_each_chunk_with_the_counts_so_far(database,
                                                                            tmp_path):
    ann = await make_member(database)
    path = tmp_path / "events.csv"
    path.write_text("\n".join((HEADER, *(f"p-{n},login,{at(1)},{ann.id},,,,," for n in range(5)),
                               f"p-5,login,{at(1)},{ann.id},,,7,,", "p-0,login,x,1,,,,,",
                               f"p-1,login,{at(1)},{ann.id},,,,,", "")))
    out = io.StringIO()
    outcome = await import_events.import_file(database, path, chunk_size=3,
                                              progress=import_events.Progress(out, every=0))
    lines = [line.split(" (")[0] for line in out.getvalue().splitlines()]
    assert lines == ["... read 3, accepted 3, duplicates 0, rejected 0",
                     "... read 6, accepted 5, duplicates 0, rejected 1",
                     "... read 8, accepted 5, duplicates 1, rejected 2"]
    assert (outcome.report.read, outcome.report.accepted) == (8, 5)
    quiet = io.StringIO()  # a quick import prints no progress at the default pace
    await import_events.import_file(database, path, progress=import_events.Progress(quiet))
    assert quiet.getvalue() == ""
