"""Features in SQL and re-tiering writes, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain import retiering, tier_models
from domain.store.tables import member_days
from domain.tier_models import TierModelKind, TierModelSpec, TierRule
from tests.factories import make_member, make_tier, place_in_tier

AS_OF = date(2026, 3, 1)
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def day_row(member_id, day, **counts):
    row = dict(member_id=member_id, day=day, events=1, logins=0, posts=0, comments=0, likes=0,
               shares=0, check_ins=0, purchases=0, revenue_minor=0, referral_invites=0)
    row.update(counts)
    return row


async def add_days(db, rows):
    async with db.unit_of_work() as uow:
        await uow.connection.execute(member_days.insert(), rows)
        await uow.commit()


@pytest.fixture
async def community(database):
    core = await make_tier(database, key="core", rank=1)
    basic = await make_tier(database, key="basic", rank=2)
    m = [await make_member(database, joined_at=datetime(2026, 1, 1, 8, tzinfo=UTC))
         for _ in range(3)]
    await add_days(database, [
        # m0: 3 active days in the window, 5000 spent in it, 1000 before it.
        day_row(m[0].id, AS_OF, posts=2, purchases=1, revenue_minor=3000),
        day_row(m[0].id, AS_OF - timedelta(days=1), logins=1, purchases=1, revenue_minor=2000),
        day_row(m[0].id, AS_OF - timedelta(days=29), comments=4),
        day_row(m[0].id, AS_OF - timedelta(days=30), purchases=1, revenue_minor=1000),
        # m1: one day, 40 days ago; m2: nothing at all.
        day_row(m[1].id, AS_OF - timedelta(days=40), check_ins=1),
    ])
    return core, basic, m


async def test_features_are_computed_from_the_rollup_as_of_a_day(database, community):
    _, _, m = community
    async with database.unit_of_work(write=False) as uow:
        f = await uow.features.load(uow.features.names(), as_of=AS_OF, window_days=30)
    assert f.member_ids.tolist() == [x.id for x in m]
    assert f["spend_minor"].tolist() == [5000, 0, 0]
    assert f["spend_minor_lifetime"].tolist() == [6000, 0, 0]
    assert f["active_days"].tolist() == [3, 0, 0]
    assert f["purchases"].tolist() == [2, 0, 0]
    assert f["posts"].tolist() == [2, 0, 0] and f["comments"].tolist() == [4, 0, 0]
    assert f["recency_days"].tolist() == [0, 40, 36_500]
    assert f["tenure_days"].tolist() == [59, 59, 59]


async def test_an_unknown_feature_is_refused(database):
    async with database.unit_of_work(write=False) as uow:
        with pytest.raises(tier_models.UnknownFeature):
            await uow.features.load(["karma"], as_of=AS_OF, window_days=30)


def spend_model(core, basic, *, grace_days=14):
    return TierModelSpec(kind=TierModelKind.THRESHOLDS, grace_days=grace_days, tiers=(
        TierRule(core.id, minimums=(("spend_minor", 1000),)), TierRule(basic.id)))


async def test_applying_a_model_moves_members_writes_history_and_spares_manual(database,
                                                                               community):
    core, basic, m = community
    await place_in_tier(database, m[2].id, core.id)  # manual: stays core
    async with database.unit_of_work() as uow:
        model, preview = await retiering.apply_tier_model(
            uow=uow, spec=spend_model(core, basic), actor="test", as_of=AS_OF, now=NOW)
    assert model.active and model.version == 1
    assert preview.changed == 2 and preview.protected_manual == 1
    assert preview.moves == {(None, core.id): 1, (None, basic.id): 1, (core.id, core.id): 1}
    async with database.unit_of_work(write=False) as uow:
        members = [await uow.members.get(x.id) for x in m]
        history = await uow.tiers.history([x.id for x in m])
    assert [x.tier_id for x in members] == [core.id, basic.id, core.id]
    assert [str(x.tier_source) for x in members] == ["model", "model", "manual"]
    latest = history[m[0].id][0]
    assert (latest.model_version, latest.previous_tier_id, latest.reason) == (
        1, None, "tier model v1 (thresholds)")
    assert len(history[m[2].id]) == 1  # only the manual assignment


async def test_a_demotion_waits_for_the_grace_period(database, community):
    core, basic, m = community
    async with database.unit_of_work() as uow:
        await retiering.apply_tier_model(uow=uow, spec=spend_model(core, basic), actor="t",
                                         as_of=AS_OF, now=NOW)
    later = AS_OF + timedelta(days=40)  # m0's spend has left the window
    for days, expected in ((1, core.id), (10, core.id), (16, basic.id)):
        async with database.unit_of_work() as uow:
            _, preview = await retiering.apply_tier_model(
                uow=uow, model_id=1, actor="t", as_of=later, now=NOW + timedelta(days=days))
        async with database.unit_of_work(write=False) as uow:
            assert (await uow.members.get(m[0].id)).tier_id == expected, days
    assert preview.held_by_grace == 0 and preview.changed == 1


async def test_preview_writes_nothing(database, community):
    core, basic, m = community
    async with database.unit_of_work() as uow:
        preview = await retiering.preview_tier_model(uow=uow, spec=spend_model(core, basic),
                                                     as_of=AS_OF, now=NOW)
        await uow.commit()
    assert preview.after == {core.id: 1, basic.id: 2}
    async with database.unit_of_work(write=False) as uow:
        assert (await uow.members.get(m[0].id)).tier_id is None
        assert await uow.tier_models.count() == 0


async def test_a_large_run_rebuilds_the_tier_index_and_keeps_it(database, community,
                                                                monkeypatch):
    from domain.store.repositories import tier_models as repository

    core, basic, m = community
    monkeypatch.setattr(repository, "_REBUILD_INDEXES_FROM", 1)
    async with database.unit_of_work() as uow:
        await retiering.apply_tier_model(uow=uow, spec=spend_model(core, basic), actor="t",
                                         as_of=AS_OF, now=NOW)
    async with database.unit_of_work(write=False) as uow:
        assert [(await uow.members.get(x.id)).tier_id for x in m] == [core.id, basic.id,
                                                                      basic.id]
        assert (await uow.tiers.member_counts([core.id, basic.id])) == {core.id: 1, basic.id: 2}
