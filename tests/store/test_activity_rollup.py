"""The member-day rollup follows the events: ingestion adds exactly the new events,
retries add nothing, merges and their undo move the days with the events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from domain import events, merges
from domain.clock import utcnow
from tests.factories import make_member

DAY1 = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
# 08:00 in Shanghai on 2 March is still 1 March in UTC: days are UTC days.
SHANGHAI_MORNING = datetime(2026, 3, 2, 7, 59, tzinfo=ZoneInfo("Asia/Shanghai"))


def _event(external_id, member_id, kind, at, amount=None):
    return events.EventInput(external_id=external_id, type=kind, occurred_at=at,
                             member_id=member_id, amount_minor=amount)


async def _record(db, raws):
    async with db.unit_of_work() as uow:
        return await events.record_events(uow=uow, raws=raws, now=utcnow())


async def _days(db, member_id):
    async with db.unit_of_work(write=False) as uow:
        rows = await uow.activity.days_of(member_id)
    return {row["day"]: {k: v for k, v in row.items() if v and k not in ("member_id", "day")}
            for row in rows}


async def test_recorded_events_are_rolled_up_per_member_and_utc_day(database):
    member = await make_member(database)
    batch = [
        _event("a1", member.id, "login", DAY1),
        _event("a2", member.id, "purchase", DAY1 + timedelta(minutes=10), amount=1250),
        _event("a3", member.id, "purchase", DAY1 + timedelta(minutes=20), amount=750),
        _event("a4", member.id, "post", SHANGHAI_MORNING),  # 23:59 UTC on 1 March
        _event("a5", member.id, "check_in", DAY1 + timedelta(hours=1)),  # 2 March UTC
    ]
    assert (await _record(database, batch)).accepted == 5
    expected = {
        date(2026, 3, 1): {"events": 4, "logins": 1, "purchases": 2, "posts": 1,
                           "revenue_minor": 2000},
        date(2026, 3, 2): {"events": 1, "check_ins": 1},
    }
    assert await _days(database, member.id) == expected

    # A retry of the same batch plus one new event adds only the new event.
    retry = await _record(database, [*batch, _event("a6", member.id, "login", DAY1)])
    assert (retry.accepted, retry.duplicates) == (1, 5)
    expected[date(2026, 3, 1)].update(events=5, logins=2)
    assert await _days(database, member.id) == expected


async def test_merge_moves_the_days_and_undo_gives_them_back(database):
    a, b = await make_member(database), await make_member(database)
    await _record(database, [_event("m1", a.id, "login", DAY1),
                             _event("m2", b.id, "login", DAY1),
                             _event("m3", b.id, "share", DAY1 + timedelta(days=3))])
    async with database.unit_of_work() as uow:
        merge = await merges.merge_members(uow=uow, survivor_id=b.id, merged_id=a.id,
                                            actor="test", reason="same person", now=utcnow())
    assert await _days(database, a.id) == {}
    assert await _days(database, b.id) == {
        date(2026, 3, 1): {"events": 2, "logins": 2},
        date(2026, 3, 4): {"events": 1, "shares": 1},
    }
    async with database.unit_of_work() as uow:
        await merges.undo_merge(uow=uow, merge_id=merge.id, actor="test", now=utcnow())
    assert await _days(database, a.id) == {date(2026, 3, 1): {"events": 1, "logins": 1}}
    assert await _days(database, b.id) == {
        date(2026, 3, 1): {"events": 1, "logins": 1},
        date(2026, 3, 4): {"events": 1, "shares": 1},
    }
