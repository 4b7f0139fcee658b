"""The funding report's member-side rollups (join days, trailing counts per tier, join day
on the summaries) follow member changes, and its model fits are stored, reused and
warm-started, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import delete, select

from domain import demo, events, kpi_reports, merges
from domain.clock import utcnow
from domain.events import Event, EventInput, EventType
from domain.kpi.inputs import NO_TIER
from domain.members import Channel
from domain.models import bgnbd
from domain.store import bulk
from domain.store.tables import (
    kpi_joined_days,
    kpi_member_summary,
    kpi_member_trailing,
    kpi_model_fits,
    kpi_trailing_counts,
    tiers,
)
from tests.factories import make_member, place_in_tier
from tests.store.test_kpi_agreement import END, _inputs, _raw, _refresh, reference

AS_OF = END - timedelta(days=1)
START = AS_OF - timedelta(days=29)


@pytest.fixture(scope="module")
def community() -> demo.Community:
    return demo.generate(members=300, days=60, seed=23, end=END)


async def _behind(db) -> bool:
    async with db.unit_of_work(write=False) as uow:
        return await kpi_reports.rollups_behind(uow)


async def _checked(db):
    """Refresh (incrementally) because the rollups are behind, then the producer's inputs,
    which must equal the Python reference over raw events and members."""
    assert await _behind(db)
    result = await _refresh(db)
    assert not result.full
    assert not await _behind(db)
    got = await _inputs(db, as_of=AS_OF, start=START, end=AS_OF)
    rows, people, keys, spend = await _raw(db)
    assert got == reference(rows, people, keys, spend, as_of=AS_OF, start=START, end=AS_OF)
    return got


async def _member_rollups(db) -> dict[str, list]:
    async with db.engine.connect() as conn:
        return {t.name: sorted((tuple(r) for r in (await conn.execute(select(t))).all()),
                               key=repr)
                for t in (kpi_joined_days, kpi_trailing_counts, kpi_member_summary,
                          kpi_member_trailing)}


async def _active_members(db, n: int) -> list[int]:
    """n members active in the last 7 days with a purchase, most active first."""
    async with db.engine.connect() as conn:
        return list((await conn.execute(
            select(kpi_member_summary.c.member_id)
            .join(kpi_member_trailing,
                  kpi_member_trailing.c.member_id == kpi_member_summary.c.member_id)
            .where(kpi_member_trailing.c.d7 > 0,
                   kpi_member_summary.c.first_purchase.is_not(None))
            .order_by(kpi_member_trailing.c.d30.desc(), kpi_member_summary.c.member_id)
            .limit(n))).scalars())


async def test_new_member_tier_changes_and_merges_move_the_report(database, community):
    await bulk.write_community(database, community, reason="test")
    assert (await _refresh(database)).full
    before = await _inputs(database, as_of=AS_OF, start=START, end=AS_OF)
    async with database.engine.connect() as conn:
        tier_ids = dict((await conn.execute(select(tiers.c.key, tiers.c.id))).all())
    core, other = sorted(tier_ids)[:2]

    # a new member, joined on the as-of day: counted, new, by channel and without a tier
    newcomer = await make_member(database, channel=Channel.DOUYIN,
                                 joined_at=datetime.combine(AS_OF, time(12), UTC))
    added = await _checked(database)
    assert added.members_total == before.members_total + 1
    assert added.new_members == before.new_members + 1
    assert added.new_by_channel.get("douyin", 0) == before.new_by_channel.get("douyin", 0) + 1
    assert added.members_by_tier.get(NO_TIER, 0) == before.members_by_tier.get(NO_TIER, 0) + 1

    # the newcomer placed in a tier: the tier counts move
    await place_in_tier(database, newcomer.id, tier_ids[core])
    placed = await _checked(database)
    assert placed.members_by_tier[core] == added.members_by_tier.get(core, 0) + 1
    assert placed.members_by_tier.get(NO_TIER, 0) == added.members_by_tier[NO_TIER] - 1

    # an active member re-tiered: active-by-tier follows the current tier
    a, b, c = await _active_members(database, 3)
    target = other if (await _tier_key(database, a, tier_ids)) != other else core
    await place_in_tier(database, a, tier_ids[target])
    retiered = await _checked(database)
    assert retiered.active_by_tier[target] == placed.active_by_tier.get(target, 0) + 1

    # a merge: one member fewer, the merged member's days go to the survivor
    async with database.unit_of_work() as uow:
        merge = await merges.merge_members(uow=uow, survivor_id=b, merged_id=c, actor="test",
                                            reason="same person", now=utcnow())
    merged = await _checked(database)
    assert merged.members_total == retiered.members_total - 1
    assert merged.mau == retiered.mau - 1
    assert merged.payers == retiered.payers - 1

    # undone: back to the counts before it
    async with database.unit_of_work() as uow:
        await merges.undo_merge(uow=uow, merge_id=merge.id, actor="test", now=utcnow())
    assert await _checked(database) == retiered

    # and the incrementally kept rollups are what a full rebuild gives
    incremental = await _member_rollups(database)
    await _refresh(database, full=True)
    assert await _member_rollups(database) == incremental


async def _tier_key(db, member_id: int, tier_ids: dict[str, int]) -> str | None:
    async with db.unit_of_work(write=False) as uow:
        member = await uow.members.get(member_id)
    return next((k for k, i in tier_ids.items() if i == member.tier_id), None)


async def _report(db, as_of: date = AS_OF):
    async with db.unit_of_work(write=False) as uow:
        return await kpi_reports.funding_report(uow=uow, as_of=as_of, today=utcnow().date())


async def _purchases(db, member_ids, *, prefix: str, seed: int) -> None:
    rng = random.Random(seed)
    bought = [Event(external_id=f"{prefix}-{m}-{k}", member_id=m, type=EventType.PURCHASE,
                    occurred_at=datetime.combine(AS_OF - timedelta(days=day), time(10), UTC),
                    amount_minor=rng.randint(500, 20_000), channel=None, properties=None)
              for m in member_ids
              for k, day in enumerate(rng.sample(range(50), rng.choice([1, 1, 2, 3, 5])))]
    async with db.unit_of_work() as uow:
        await uow.events.insert_new(bought, received_at=utcnow())
        await uow.commit()


async def test_model_fits_are_stored_reused_and_warm_started(database, community):
    await bulk.write_community(database, community, reason="test")
    rows, people, _, _ = await _raw(database)
    await _purchases(database, [p.id for p in people[:150]], prefix="buy", seed=3)
    await _refresh(database)
    first = await _report(database)
    assert first.ltv.bgnbd is not None and first.ltv.gamma_gamma is not None
    assert not first.ltv.fits_reused and first.ltv.fits_to_store is not None
    async with database.unit_of_work() as uow:
        assert await kpi_reports.remember_model_fits(uow=uow, report=first, now=utcnow())

    # the same data: the stored fits, nothing to store, the same LTV
    second = await _report(database)
    assert second.ltv.fits_reused and second.ltv.fits_to_store is None
    assert second.ltv.fitted_on == first.ltv.fitted_on
    assert second.ltv.bgnbd == first.ltv.bgnbd
    assert second.ltv.gamma_gamma == first.ltv.gamma_gamma
    assert second.ltv.predictive == first.ltv.predictive

    # new purchases: other data, fitted again from the stored fits, same optimum as a
    # fit from scratch
    await _purchases(database, [p.id for p in people[140:160]], prefix="more", seed=4)
    await _refresh(database)
    third = await _report(database)
    assert third.ltv.fitted_on != first.ltv.fitted_on and not third.ltv.fits_reused
    async with database.unit_of_work(write=False) as uow:
        groups = await uow.kpi.purchase_groups(AS_OF)
    cold = bgnbd.fit(groups.frequency, groups.recency, groups.age, weights=groups.count)
    # (with few repeat buyers the dropout Beta(a, b) lies on a ridge: only the likelihood
    # and the purchase rate are pinned down)
    assert third.ltv.bgnbd.log_likelihood == pytest.approx(cold.log_likelihood, rel=1e-7)
    warm = third.ltv.bgnbd.params
    assert (warm.r, warm.alpha) == pytest.approx((cold.params.r, cold.params.alpha), rel=1e-3)
    async with database.unit_of_work(write=False) as uow:  # nothing stored: a cold fit
        await uow.connection.execute(delete(kpi_model_fits))
        cold_report = await kpi_reports.funding_report(uow=uow, as_of=AS_OF,
                                                       today=utcnow().date())
    assert third.ltv.predictive == pytest.approx(cold_report.ltv.predictive, rel=1e-3)


async def test_a_merge_recomputes_its_two_members_not_everyone_active_on_their_days(
        database):
    """Two members active on 70 days (more than a full rebuild's threshold of changed
    days) merged: the refresh recomputes those two and the days' totals, incrementally,
    and agrees with the reference and with a full rebuild; so does the undo."""
    people = [await make_member(database, joined_at=datetime.combine(
        END - timedelta(days=80), time(9), UTC)) for _ in range(5)]
    raws = [EventInput(external_id=f"d-{m.id}-{d}", type=EventType.LOGIN,
                       occurred_at=datetime.combine(END - timedelta(days=d), time(10), UTC),
                       member_id=m.id) for m in people for d in range(1, 71)]
    for start in range(0, len(raws), events.MAX_BATCH):
        async with database.unit_of_work() as uow:
            await events.record_events(uow=uow, now=utcnow(),
                                       raws=raws[start:start + events.MAX_BATCH])
    assert (await _refresh(database)).full  # the first refresh builds everything
    survivor, merged = people[0].id, people[1].id
    async with database.unit_of_work() as uow:
        merge = await merges.merge_members(uow=uow, survivor_id=survivor, merged_id=merged,
                                            actor="test", reason="same person", now=utcnow())
    result = await _refresh(database)
    assert (result.full, result.members) == (False, 2)
    got = await _inputs(database, as_of=AS_OF, start=START, end=AS_OF)
    assert got.mau == 4
    rows, people_rows, keys, spend = await _raw(database)
    assert got == reference(rows, people_rows, keys, spend, as_of=AS_OF, start=START,
                            end=AS_OF)
    async with database.unit_of_work() as uow:
        await merges.undo_merge(uow=uow, merge_id=merge.id, actor="test", now=utcnow())
    result = await _refresh(database)
    assert (result.full, result.members) == (False, 2)
    assert (await _inputs(database, as_of=AS_OF, start=START, end=AS_OF)).mau == 5
    incremental = await _member_rollups(database)
    await _refresh(database, full=True)
    assert await _member_rollups(database) == incremental
