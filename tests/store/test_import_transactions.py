"""`tierwise import-transactions` against the real store, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from types import SimpleNamespace

from sqlalchemy import func, select, text

from domain import transactions
from domain.clock import utcnow
from domain.members import Channel
from domain.store.tables import events as events_table
from domain.store.tables import member_identities, members
from scripts import import_transactions

FILE = """customer_id,date,amount
ann,2024-01-05,12.50
bo,2024-01-06T10:00:00+08:00,"1,234.00"
ann,2024-01-03,3
ann,2024-01-05,12.50
"""


async def run_import(db, content: str, *, chunk_size: int = 2, channel=Channel.OFFLINE,
                     **options) -> transactions.TransactionReport:
    now = utcnow()
    rows = transactions.read_transactions(io.BytesIO(content.encode()), now=now,
                                          channel=channel, **options)
    return await transactions.import_transactions(
        uow_factory=db.unit_of_work, transactions=rows, now=now, channel=channel,
        chunk_size=chunk_size)


async def _members(db) -> dict[str, tuple]:
    """(member id, joined_at, first_seen_at, channel) by identity external id."""
    async with db.engine.connect() as conn:
        rows = (await conn.execute(
            select(member_identities.c.external_id, members.c.id, members.c.joined_at,
                   members.c.first_seen_at, member_identities.c.channel)
            .join(members, members.c.id == member_identities.c.member_id))).all()
    return {r[0]: tuple(r[1:]) for r in rows}


async def _rollup(db) -> list[tuple]:
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT member_id, day, purchases, revenue_minor FROM member_days"
            " ORDER BY member_id, day"))).all()
    return [(m, d if isinstance(d, date) else date.fromisoformat(d), p, r)
            for m, d, p, r in rows]


async def _count(db, table) -> int:
    async with db.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


async def test_first_import_creates_members_and_purchases_with_the_rollup(database):
    report = await run_import(database, FILE)
    assert (report.read, report.members_created, report.purchases, report.duplicates,
            report.rejected) == (4, 2, 4, 0, [])
    found = await _members(database)
    ann, bo = found["ann"][0], found["bo"][0]
    # Joined at the first transaction in the file, though it is not the first row.
    assert found["ann"][1:] == (datetime(2024, 1, 3, tzinfo=UTC),
                                datetime(2024, 1, 3, tzinfo=UTC), "offline")
    assert found["bo"][1] == datetime(2024, 1, 6, 2, tzinfo=UTC)
    assert await _rollup(database) == [
        (ann, date(2024, 1, 3), 1, 300),
        (ann, date(2024, 1, 5), 2, 2500),  # the same purchase twice that day: two events
        (bo, date(2024, 1, 6), 1, 123400),
    ]
    async with database.engine.connect() as conn:
        ids = set((await conn.execute(select(events_table.c.external_id))).scalars())
    assert "txn:offline:20240105T000000Z:1250:2:ann" in ids


async def test_importing_the_same_file_again_creates_nothing(database):
    await run_import(database, FILE)
    before = await _rollup(database)
    again = await run_import(database, FILE, chunk_size=3)
    assert (again.members_created, again.purchases, again.duplicates) == (0, 0, 4)
    assert await _count(database, members) == 2
    assert await _count(database, events_table) == 4
    assert await _rollup(database) == before


async def test_a_longer_file_adds_only_new_customers_and_purchases(database):
    await run_import(database, FILE)
    report = await run_import(database, FILE + "cy,2024-02-01,1\nann,2024-02-01,1\n")
    assert (report.members_created, report.purchases, report.duplicates) == (1, 2, 4)
    assert await _count(database, members) == 3


async def test_bad_rows_are_reported_by_line_and_the_rest_lands(database):
    report = await run_import(database, "customer_id,date,amount\n"
                                        "ann,2024-01-05,12.50\n"
                                        "bo,2024-01-05,12;50\n"
                                        ",2024-01-05,1\n"
                                        "cy,2024-01-05,-3\n"
                                        "\n"
                                        "dee,someday,1\n"
                                        "eve,2024-01-07,7\n"
                                        "fay,2024-01-07\n")
    assert [(r.line, r.code) for r in report.rejected] == [
        (3, "INVALID_VALUE"), (4, "MISSING_FIELD"), (5, "NEGATIVE_AMOUNT"),
        (7, "INVALID_VALUE"), (9, "MALFORMED_ROW")]
    assert (report.read, report.members_created, report.purchases) == (7, 2, 2)  # blank: no row
    assert set(await _members(database)) == {"ann", "eve"}


async def test_custom_columns_and_channel_and_existing_members(database):
    content = "Client,Paid,Total\nann,2024-01-05,5\n"
    report = await run_import(database, content, channel=Channel.APP,
                              columns=transactions.Columns("client", "paid", "total"))
    assert (report.members_created, report.purchases) == (1, 1)
    assert (await _members(database))["ann"][3] == "app"
    # The same customer id on another channel is another identity, so another member.
    again = await run_import(database, content, columns=transactions.Columns(
        "client", "paid", "total"))
    assert (again.members_created, again.purchases) == (1, 1)


async def test_members_are_created_in_bulk(database):
    content = "customer_id,date,amount\n" + "".join(
        f"c{i % 300},2024-01-{i % 28 + 1:02d},{i}.25\n" for i in range(1200))
    with database.statement_counter() as statements:
        report = await run_import(database, content, chunk_size=600)
    assert (report.members_created, report.purchases) == (300, 1200)
    assert statements[0] < 40  # a handful per chunk, not one per member or row


def test_the_command_prints_a_summary_and_exits_0_1_or_2(
        database_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TIERWISE_DATABASE_URL", database_url)
    path = tmp_path / "sales.csv"
    path.write_text(FILE)

    def command(**options):
        args = dict(file=path, customer_column="customer_id", date_column="date",
                    amount_column="amount", channel="offline", currency_scale=100,
                    date_format=None, chunk_size=1000, rejects=None)
        return import_transactions.run(SimpleNamespace(**{**args, **options}))

    assert command() == 0
    assert ("rows 4, members created 2, purchases recorded 4, duplicates 0, rejected 0"
            in capsys.readouterr().out)
    assert command() == 0
    assert "members created 0, purchases recorded 0, duplicates 4" in capsys.readouterr().out
    path.write_text("customer_id,date,amount\nann,05/01/2024,x\nann,06/01/2024,1\n")
    assert command(date_format="%d/%m/%Y") == 1
    out = capsys.readouterr().out
    assert "line 2: INVALID_VALUE amount 'x' is not a decimal amount" in out
    assert "rows 2, members created 0, purchases recorded 1, duplicates 0, rejected 1" in out
    path.write_text("customer,date,amount\nann,2024-01-01,1\n")
    assert command() == 2
    assert "lacks column(s): 'customer_id' (--customer-column)" in capsys.readouterr().out
    assert command(file=tmp_path / "missing.csv") == 2
    assert command(channel="referral") == 2
    assert command(currency_scale=7) == 2
