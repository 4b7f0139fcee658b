"""Lifecycle refresh and churn signals over the member_days rollup, on both backends."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from domain import churn, events, lifecycle, members, merges
from domain.churn import WinBackAction as A
from domain.clock import utcnow
from domain.lifecycle import LifecycleStage as S
from domain.members import MemberFilter
from domain.paging import PageRequest
from domain.store.database import Database
from scripts import cli
from tests.factories import make_member, make_tier, place_in_tier

AS_OF = date(2026, 4, 30)
TODAY = date(2026, 11, 23)
JOINED = datetime(2026, 1, 1, tzinfo=UTC)


def _at(days_before: int, hour: int = 12) -> datetime:
    return datetime.combine(AS_OF - timedelta(days=days_before), datetime.min.time(),
                            tzinfo=UTC) + timedelta(hours=hour)


async def _record(db, raws):
    async with db.unit_of_work() as uow:
        await events.record_events(uow=uow, raws=raws, now=utcnow())


def _event(member, kind, days_before, amount=None, hour=12):
    return events.EventInput(external_id=f"{member.id}-{kind}-{days_before}-{hour}", type=kind,
                             occurred_at=_at(days_before, hour), member_id=member.id,
                             amount_minor=amount)


async def _community(db):
    """One member per stage, with the hand-computed stage and days since last login."""
    m = {name: await make_member(db, joined_at=JOINED) for name in (
        "prospect", "new", "active", "high", "dormant", "churned", "fading")}
    await _record(db, [
        _event(m["new"], "login", 5),
        # Active on 4 of the last 30 days (29 days ago is the window's first day).
        *[_event(m["active"], "login", d) for d in (0, 7, 14, 29)],
        _event(m["active"], "post", 60),
        *[_event(m["high"], "like", d) for d in (1, 2, 3, 4)],
        _event(m["high"], "purchase", 89, amount=30_000),  # the spend window's first day
        _event(m["high"], "purchase", 89, amount=20_000, hour=13),
        _event(m["high"], "purchase", 90, amount=900_000),  # outside the 90-day window
        _event(m["dormant"], "post", 30), _event(m["dormant"], "login", 40),
        _event(m["churned"], "login", 90),
        _event(m["fading"], "login", 29), _event(m["fading"], "post", 100),
        # After as_of: ignored by a refresh as of AS_OF.
        _event(m["prospect"], "login", -1),
    ])
    return m


async def _refresh(db, as_of=AS_OF, **kwargs):
    async with db.unit_of_work() as uow:
        tier_keys = [t.key for t in await uow.tiers.list()]
        return await lifecycle.refresh_lifecycle(
            uow=uow, as_of=as_of, today=TODAY, actor="test",
            churn_policy=churn.default_policy(tier_keys=tier_keys), **kwargs)


async def test_refresh_stores_each_members_stage_and_their_transitions(database):
    m = await _community(database)
    result = await _refresh(database)
    expected = {"prospect": S.PROSPECT, "new": S.NEW, "active": S.ACTIVE,
                "high": S.HIGH_VALUE, "dormant": S.DORMANT, "churned": S.CHURNED,
                "fading": S.DORMANT}
    assert result.transitions == 7
    assert result.counts == {S.PROSPECT: 1, S.NEW: 1, S.ACTIVE: 1, S.HIGH_VALUE: 1,
                             S.DORMANT: 2, S.CHURNED: 1}
    async with database.unit_of_work(write=False) as uow:
        stored = await uow.members.get_many([x.id for x in m.values()])
        history = await uow.lifecycle.transitions_of([m["new"].id])
        counts = await uow.lifecycle.stage_counts()
    assert {name: stored[x.id].lifecycle_stage for name, x in m.items()} == expected
    assert {stored[x.id].lifecycle_as_of for x in m.values()} == {AS_OF}
    [first] = history[m["new"].id]
    assert (first.from_stage, first.to_stage, first.as_of) == (None, S.NEW, AS_OF)
    assert counts == {S.PROSPECT: 1, S.NEW: 1, S.ACTIVE: 1, S.HIGH_VALUE: 1, S.DORMANT: 2,
                      S.CHURNED: 1}


async def test_refreshing_the_same_day_again_records_nothing_new(database):
    m = await _community(database)
    await _refresh(database)
    again = await _refresh(database)
    assert again.transitions == 0
    # Later, the new member falls silent: one transition, from new to dormant.
    later = await _refresh(database, as_of=AS_OF + timedelta(days=26))
    async with database.unit_of_work(write=False) as uow:
        history = await uow.lifecycle.transitions_of([m["new"].id])
    assert [(t.from_stage, t.to_stage) for t in history[m["new"].id]] == [
        (S.NEW, S.DORMANT), (None, S.NEW)]
    assert later.transitions >= 1


async def test_a_refresh_older_than_the_stored_one_is_refused(database):
    await make_member(database, joined_at=JOINED)
    await _refresh(database)
    with pytest.raises(lifecycle.AsOfBeforeLastRefresh):
        await _refresh(database, as_of=AS_OF - timedelta(days=1))


async def test_members_joining_after_as_of_and_merged_members_are_not_classified(database):
    late = await make_member(database, joined_at=_at(-2))
    a, b = await make_member(database, joined_at=JOINED), await make_member(database,
                                                                            joined_at=JOINED)
    async with database.unit_of_work() as uow:
        await merges.merge_members(uow=uow, survivor_id=a.id, merged_id=b.id, actor="t",
                                    reason="same", now=utcnow())
    result = await _refresh(database)
    assert result.counts[S.PROSPECT] == 1 and result.transitions == 1
    async with database.unit_of_work(write=False) as uow:
        stored = await uow.members.get_many([late.id, b.id])
    assert stored[late.id].lifecycle_stage is None and stored[b.id].lifecycle_stage is None


async def test_members_filter_by_lifecycle_stage(database):
    m = await _community(database)
    await _refresh(database)
    async with database.unit_of_work(write=False) as uow:
        flt = MemberFilter(lifecycle_stages=(S.DORMANT, S.NEW))
        page = await uow.members.page(flt, members.MemberOrder.JOINED_AT_ASC, PageRequest())
        count = await uow.members.count(flt)
    assert {x.id for x in page[0].items} == {m["dormant"].id, m["fading"].id, m["new"].id}
    assert count == 3


async def test_churn_signals_levels_days_and_tier_actions(database):
    core = await make_tier(database, key="core", rank=1)
    m = await _community(database)
    await place_in_tier(database, m["dormant"].id, core.id)
    result = await _refresh(database)
    async with database.unit_of_work(write=False) as uow:
        risks = await uow.lifecycle.churn_of([x.id for x in m.values()])
        page = await uow.lifecycle.churn_page(min_level=2, request=PageRequest(first=3))
        rest = await uow.lifecycle.churn_page(
            min_level=2, request=PageRequest(first=3, after=(
                page.items[-1].level, page.items[-1].days_inactive, page.items[-1].member_id)))
        total = await uow.lifecycle.churn_count(min_level=1)
    found = {name: (risks[x.id].level, risks[x.id].days_inactive, risks[x.id].suggested_action)
             for name, x in m.items() if x.id in risks}
    days_joined = (AS_OF - JOINED.date()).days  # the prospect never logged in
    assert found == {
        "prospect": (3, days_joined, A.PRIORITY_ACCESS),
        "new": (1, 5, A.PERSONALISED_PUSH),
        "high": (3, days_joined, A.PRIORITY_ACCESS),  # likes and purchases are not logins
        "dormant": (3, 40, A.ONE_ON_ONE_CONTACT),  # core tier ladder
        "churned": (3, 90, A.PRIORITY_ACCESS),
        "fading": (3, 29, A.PRIORITY_ACCESS),
    }
    assert result.warnings == total == 6
    ordered = [(r.level, r.days_inactive) for r in page.items + rest.items]
    assert ordered == sorted(ordered, reverse=True) and len(ordered) == 5
    assert {r.as_of for r in risks.values()} == {AS_OF}


async def test_churn_refresh_alone_replaces_the_signals_for_a_later_day(database):
    m = await _community(database)
    await _refresh(database)
    async with database.unit_of_work() as uow:
        warned = await churn.refresh_churn_signals(
            uow=uow, as_of=AS_OF + timedelta(days=1), today=TODAY, actor="test",
            policy=churn.ChurnPolicy(warning_after_days=(3,), actions=(A.COUPON,),
                                     any_activity_counts=True))
    async with database.unit_of_work(write=False) as uow:
        risks = await uow.lifecycle.churn_of([x.id for x in m.values()])
    # Any activity counts now: the high-value member (liked 2 days ago) is spared, and so
    # is the former prospect, who logged in on the new as-of day.
    assert warned == len(risks) == 4
    assert not {m[n].id for n in ("high", "active", "prospect")} & set(risks)
    assert {(r.level, r.suggested_action, r.as_of) for r in risks.values()} == {
        (1, A.COUPON, AS_OF + timedelta(days=1))}


def test_cli_refresh_prints_the_stages_and_refuses_an_older_day(database_url, monkeypatch,
                                                                capsys):
    monkeypatch.setenv("TIERWISE_DATABASE_URL", database_url)
    asyncio.run(_one_member(database_url))
    assert cli.main(["lifecycle", "refresh", "--as-of", "2026-04-30"]) == 0
    out = capsys.readouterr().out
    assert "lifecycle as of 2026-04-30: prospect: 1, new: 0" in out
    assert "1 stage changes, 1 churn warnings" in out
    assert cli.main(["lifecycle", "refresh", "--as-of", "2026-04-29"]) == 2
    assert "before the last refresh" in capsys.readouterr().out


async def _one_member(url: str) -> None:
    db = Database(url)
    try:
        await make_member(db, joined_at=JOINED)
    finally:
        await db.dispose()
