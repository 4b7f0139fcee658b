"""On SQLite member_days and the events are keyed day first: every read by member names
its days (activity.rollup_days) so SQLite seeks (day, member) keys instead of reading
the whole table when there are no ANALYZE statistics (a new or never-analysed
database). The statements are captured from the real use cases and EXPLAINed on a
database without sqlite_stat1."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import event

from domain import badges, events, kpi_reports, merges
from domain.clock import utcnow
from domain.events import EventType
from domain.points import ledger
from domain.points.rules import EarnRule
from domain.store.database import Database
from tests.factories import make_member

DAY1 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
_TABLES = ("member_days", "events")


def _event(external_id, member_id, kind, at, **properties):
    return events.EventInput(external_id=external_id, type=kind, occurred_at=at,
                             member_id=member_id, properties=properties or None,
                             amount_minor=1500 if kind == "purchase" else None)


async def _record(db, raws):
    async with db.unit_of_work() as uow:
        await events.record_events(uow=uow, raws=raws, now=utcnow())


def _full_scan(cursor, statement, parameters) -> list[str] | None:
    """The plan of a statement touching member_days or events if it reads one of them
    whole (a `SCAN` line), else None."""
    if not any(t in statement for t in _TABLES) or not statement.lstrip().startswith(
            ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
        return None
    cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters or ())
    plan = [row[3] for row in cursor.fetchall()]
    return plan if any(line.startswith(f"SCAN {t}") for line in plan for t in _TABLES) else None


async def test_reads_by_member_seek_days_without_statistics(sqlite_template, tmp_path):
    path = tmp_path / "plans.db"
    shutil.copyfile(sqlite_template, path)
    with sqlite3.connect(path) as conn:  # no statistics: a new or never-analysed database
        if conn.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'"
                        ).fetchall():
            conn.execute("DELETE FROM sqlite_stat1")
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        a, b, c = await make_member(db), await make_member(db), await make_member(db)
        raws = []
        for n in range(8):  # a check-in streak, featured posts, purchases, invitations
            at = DAY1 + timedelta(days=n)
            raws += [_event(f"c{n}", a.id, "check_in", at),
                     _event(f"p{n}", a.id, "post", at, featured=True),
                     _event(f"b{n}", b.id, "purchase", at),
                     _event(f"r{n}", b.id, "referral_invite", at, invitee_member_id=c.id)]
        await _record(db, raws)
        async with db.unit_of_work() as uow:
            await badges.install_default_badges(uow=uow, actor="test")
        async with db.unit_of_work() as uow:
            await ledger.set_earn_rules(
                uow=uow, earn_rules=[EarnRule(event_type=EventType.CHECK_IN, points=5)],
                multipliers=[], actor="test", now=utcnow())
        async with db.unit_of_work() as uow:  # first refresh (full), then incremental
            await kpi_reports.refresh_kpi_rollups(uow=uow, actor="test", now=utcnow())

        checked, scans = [], {}

        def capture(conn, cursor, statement, parameters, context, executemany):
            # On the statement's own connection (temporary tables), before it runs.
            if not executemany and (plan := _full_scan(
                    conn.connection.dbapi_connection.cursor(), statement, parameters)):
                scans[statement] = plan
            checked.append(statement)

        event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
        await _record(db, [_event("late", c.id, "login", DAY1 + timedelta(days=9))])
        as_of = date(2026, 3, 10)
        for member_ids in ([a.id, b.id], None):
            async with db.unit_of_work() as uow:
                run = await badges.award_badges(uow=uow, as_of=as_of, member_ids=member_ids,
                                                actor="test", now=utcnow())
            if member_ids:  # both newbies; a's streak and posts, b's invitations
                assert run.by_badge == {"newbie": 2, "active-medal": 1, "creator": 1,
                                        "community-partner": 1}
        async with db.unit_of_work(write=False) as uow:
            recent = await uow.events.recent_for_members([a.id, b.id, c.id], limit=3)
        assert [len(recent[m]) for m in (a.id, b.id, c.id)] == [3, 3, 1]
        for since in (None, DAY1 + timedelta(days=5)):
            async with db.unit_of_work() as uow:
                await ledger.accrue_points(uow=uow, as_of=DAY1 + timedelta(days=20),
                                           since=since, actor="test", now=utcnow())
        async with db.unit_of_work() as uow:
            await kpi_reports.refresh_kpi_rollups(uow=uow, actor="test", now=utcnow())
        async with db.unit_of_work() as uow:
            merge = await merges.merge_members(uow=uow, survivor_id=b.id, merged_id=c.id,
                                                actor="test", reason="same", now=utcnow())
        async with db.unit_of_work() as uow:
            await kpi_reports.refresh_kpi_rollups(uow=uow, actor="test", now=utcnow())
        async with db.unit_of_work() as uow:
            await merges.undo_merge(uow=uow, merge_id=merge.id, actor="test", now=utcnow())
        event.remove(db.engine.sync_engine, "before_cursor_execute", capture)
    finally:
        await db.dispose()
    assert sum(1 for s in checked if "events" in s or "member_days" in s) > 20
    assert scans == {}
