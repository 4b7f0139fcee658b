"""Campaign experiments in the real store: assignment, responses from the rollup and from
events, rewards within limits and budget, concurrent grant runs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from domain import campaigns, events, experiment_runs
from domain import experiments as rules
from domain.campaigns import CampaignKind, CampaignSpec, CampaignStatus
from domain.clock import utcnow
from domain.events import EventType
from domain.members import Channel
from domain.store.repositories.experiments import uses_rollup
from tests.factories import make_member, make_tier, place_in_tier

START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 3, 8, tzinfo=UTC)


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC) if day > 0 else \
        datetime(2026, 2, 28 + day, hour, tzinfo=UTC)


def design(*, reward: int = 1000, control_share: float = 0.5, per_member_limit: int = 1,
           global_limit: int | None = None, reward_unit=rules.RewardUnit.MINOR,
           point_value_minor: int = 0) -> rules.ExperimentSpec:
    return rules.ExperimentSpec(
        variants=(rules.VariantSpec(key="a", name="Coupon", weight=1, reward=reward),),
        control_share=control_share, conversion_event=EventType.PURCHASE,
        per_member_limit=per_member_limit, global_limit=global_limit,
        reward_unit=reward_unit, point_value_minor=point_value_minor)


async def make_campaign(db, *, tier_ids=(), channels=(), budget=10_000, end=END):
    spec = CampaignSpec(name="Spring coupon", kind=CampaignKind.COUPON,
                        target_tier_ids=tuple(tier_ids), target_channels=tuple(channels),
                        starts_at=START, ends_at=end, budget_minor=budget)
    async with db.unit_of_work() as uow:
        return await campaigns.create_campaign(uow=uow, spec=spec, actor="test", now=utcnow())


async def configure(db, campaign_id, spec):
    async with db.unit_of_work() as uow:
        return await experiment_runs.configure_experiment(
            uow=uow, campaign_id=campaign_id, spec=spec, actor="test", now=utcnow())


async def start(db, campaign_id, seed):
    async with db.unit_of_work() as uow:
        return await experiment_runs.start_experiment(uow=uow, campaign_id=campaign_id,
                                                      seed=seed, actor="test", now=utcnow())


async def grant(db, campaign_id, as_of=END):
    async with db.unit_of_work() as uow:
        return await experiment_runs.grant_campaign_rewards(
            uow=uow, campaign_id=campaign_id, as_of=as_of, actor="test", now=utcnow())


async def run(db, campaign_id):
    for status in (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING):
        async with db.unit_of_work() as uow:
            await campaigns.change_status(uow=uow, campaign_id=campaign_id, to=status,
                                          actor="test", now=utcnow())


async def purchase(db, member_id, when, amount, key):
    async with db.unit_of_work() as uow:
        await events.record_events(uow=uow, now=datetime(2026, 4, 1, tzinfo=UTC), raws=[
            events.EventInput(external_id=key, type="purchase", occurred_at=when,
                              member_id=member_id, amount_minor=amount)])


async def arms_of(db, campaign_id):
    async with db.unit_of_work(write=False) as uow:
        return await uow.experiments.arms(campaign_id)


async def results(db, campaign_id):
    async with db.unit_of_work(write=False) as uow:
        return {r.arm: r for r in
                (await experiment_runs.results_of(uow=uow, campaign_ids=[campaign_id]))
                [campaign_id]}


def seed_with(member_ids, campaign_id, spec, *, variant: int, control: int) -> int:
    """The first seed giving at least `variant` members in arm a and `control` in control
    (the test then knows each member's arm before it writes their events)."""
    for seed in range(1000):
        arms = [a for _, a in rules.assign_arms(member_ids, seed=seed, campaign_id=campaign_id,
                                                spec=spec)]
        if arms.count("a") >= variant and arms.count(rules.CONTROL) >= control:
            return seed
    raise AssertionError("no seed found")


async def test_start_assigns_the_active_segment_reproducibly(database):
    core = await make_tier(database, key="core", rank=1)
    other = await make_tier(database, key="other", rank=2)
    members = [await make_member(database) for _ in range(6)]
    douyin = await make_member(database, channel=Channel.DOUYIN)
    for m in [*members[:5], douyin]:
        await place_in_tier(database, m.id, core.id)
    await place_in_tier(database, members[5].id, other.id)
    campaign = await make_campaign(database, tier_ids=[core.id], channels=[Channel.WECHAT])
    await configure(database, campaign.id, design(control_share=0.2))

    started = await start(database, campaign.id, seed=42)

    # Core and WeChat: the first five; not the member of another tier, not the Douyin one.
    expected = dict(rules.assign_arms([m.id for m in members[:5]], seed=42,
                                      campaign_id=campaign.id, spec=design(control_share=0.2)))
    assert await arms_of(database, campaign.id) == expected
    assert sum(started.arm_sizes.values()) == 5
    assert started.experiment.seed == 42 and started.experiment.started_at is not None


async def test_assignment_takes_a_fixed_number_of_statements(database):
    core = await make_tier(database, key="core", rank=1)
    campaign = await make_campaign(database, tier_ids=[core.id])
    for _ in range(30):
        member = await make_member(database)
        await place_in_tier(database, member.id, core.id)
    await configure(database, campaign.id, design())
    with database.statement_counter() as statements:
        await start(database, campaign.id, seed=1)
    # lock, campaign, experiment (2), segment, one insert, mark, sizes, audit, re-read (2):
    # the same for 30 members as for 100,000 (one insert per 100,000).
    assert statements[0] <= 12
    assert len(await arms_of(database, campaign.id)) == 30


async def _scenario(db, *, budget=10_000, per_member_limit=1, end=END, **design_overrides):
    """Six core members; a seed putting three in variant a and two in the control."""
    core = await make_tier(db, key="core", rank=1)
    members = [await make_member(db) for _ in range(6)]
    for m in members:
        await place_in_tier(db, m.id, core.id)
    campaign = await make_campaign(db, tier_ids=[core.id], budget=budget, end=end)
    spec = design(per_member_limit=per_member_limit, **design_overrides)
    await configure(db, campaign.id, spec)
    seed = seed_with([m.id for m in members], campaign.id, spec, variant=3, control=2)
    await start(db, campaign.id, seed)
    arms = await arms_of(db, campaign.id)
    a = [m for m in sorted(arms) if arms[m] == "a"]
    c = [m for m in sorted(arms) if arms[m] == rules.CONTROL]
    # a[0]: purchases on Mar 2 and Mar 3; a[1]: two on Mar 4; a[2]: one before the window.
    await purchase(db, a[0], at(2), 5000, "p1")
    await purchase(db, a[0], at(3), 3000, "p2")
    await purchase(db, a[1], at(4, 9), 1000, "p3")
    await purchase(db, a[1], at(4, 11), 1000, "p4")
    await purchase(db, a[2], at(0), 9000, "p5")
    # c[0]: one purchase inside; c[1]: one at endsAt exactly (outside: the end is exclusive).
    await purchase(db, c[0], at(5), 2000, "p6")
    await purchase(db, c[1], END, 7000, "p7")
    return campaign, arms, a, c


@pytest.mark.parametrize("end", [END, datetime(2026, 3, 7, 12, tzinfo=UTC)],
                         ids=["whole-days-rollup", "partial-day-events"])
async def test_results_count_responders_and_revenue_in_the_window(database, end):
    campaign, arms, a, c = await _scenario(database, end=end)
    assert uses_rollup(EventType.PURCHASE, rules.Window(START, end)) == (end == END)

    found = await results(database, campaign.id)

    n_a = list(arms.values()).count("a")
    n_c = list(arms.values()).count(rules.CONTROL)
    assert (found["a"].n, found["a"].responders, found["a"].revenue_minor) == (n_a, 2, 10_000)
    assert (found["control"].n, found["control"].responders) == (n_c, 1)
    assert found["control"].revenue_minor == 2000
    assert found["a"].uplift == pytest.approx(2 / n_a - 1 / n_c)
    assert found["a"].cost_minor == 0 and found["a"].roi is None


async def test_grants_stop_at_the_budget_and_are_idempotent(database):
    # Reward 1000 per response, 2 per member, budget 2500. Responses in order:
    # a0 Mar 2, a0 Mar 3, a1 Mar 4 #1, a1 Mar 4 #2. The first two cost 2000; the third
    # would make 3000 > 2500: BUDGET_EXHAUSTED with 500 left.
    campaign, _, a, _ = await _scenario(database, budget=2500, per_member_limit=2)
    await run(database, campaign.id)

    first = await grant(database, campaign.id, as_of=at(3, 0))  # before a0's second purchase
    assert (first.granted, first.granted_cost_minor, first.stopped_by) == (1, 1000, None)
    second = await grant(database, campaign.id)
    assert (second.granted, second.granted_cost_minor) == (1, 1000)
    assert second.stopped_by is rules.StopReason.BUDGET_EXHAUSTED
    assert (second.total_granted, second.total_cost_minor, second.remaining_budget_minor) == (
        2, 2000, 500)
    again = await grant(database, campaign.id)
    assert (again.granted, again.total_cost_minor) == (0, 2000)

    found = await results(database, campaign.id)
    # ROI = (10000 - n_a * 2000 / n_c - 2000) / 2000, see rules.roi.
    n_a, n_c = found["a"].n, found["control"].n
    assert found["a"].cost_minor == 2000
    assert found["a"].roi == pytest.approx((10_000 - n_a * 2000 / n_c - 2000) / 2000)


async def test_per_member_limit_skips_further_responses(database):
    campaign, _, a, _ = await _scenario(database, per_member_limit=1)
    await run(database, campaign.id)
    done = await grant(database, campaign.id)
    # One reward each for a0 and a1; a0's Mar 3 and a1's second Mar 4 purchase get none.
    assert (done.granted, done.total_cost_minor, done.stopped_by) == (2, 2000, None)
    assert (await grant(database, campaign.id)).granted == 0


async def test_points_rewards_are_credited_to_the_ledger_once(database):
    # 100 points per response at 10 fen a point, 2 per member: a0 responds Mar 2 and 3,
    # a1 twice on Mar 4 -> 200 points each, costing 4 x 1000 fen of the budget.
    campaign, _, a, _ = await _scenario(database, per_member_limit=2, reward=100,
                                        reward_unit=rules.RewardUnit.POINTS,
                                        point_value_minor=10)
    await run(database, campaign.id)
    done = await grant(database, campaign.id)
    assert (done.granted, done.total_cost_minor) == (4, 4000)
    assert (await grant(database, campaign.id)).granted == 0
    async with database.unit_of_work(write=False) as uow:
        assert await uow.points.balances(a) == {a[0]: 200, a[1]: 200}


async def _hold_connection(db):
    async with db.engine.connect():
        await asyncio.sleep(0.05)


async def test_concurrent_grant_runs_never_exceed_the_budget(database):
    core = await make_tier(database, key="core", rank=1)
    members = [await make_member(database) for _ in range(8)]
    for m in members:
        await place_in_tier(database, m.id, core.id)
    campaign = await make_campaign(database, tier_ids=[core.id], budget=2500)
    await configure(database, campaign.id, design(control_share=0.0))
    await start(database, campaign.id, seed=3)
    for i, m in enumerate(members):
        await purchase(database, m.id, at(2 + i % 5), 100, f"c{i}")
    await run(database, campaign.id)

    # Open six pooled connections first: otherwise the first run, on the connection already
    # in the pool, commits before the others have connected and nothing overlaps.
    await asyncio.gather(*[_hold_connection(database) for _ in range(6)])
    runs = await asyncio.gather(*[grant(database, campaign.id) for _ in range(6)])

    assert sum(r.granted for r in runs) == 2  # 2 x 1000 fit in 2500, a third does not
    async with database.unit_of_work(write=False) as uow:
        assert await uow.experiments.reward_totals(campaign.id) == (2, 2000)
    assert all(r.stopped_by is rules.StopReason.BUDGET_EXHAUSTED for r in runs)


async def test_event_types_outside_the_rollup_are_counted_from_events(database):
    core = await make_tier(database, key="core", rank=1)
    members = [await make_member(database) for _ in range(3)]
    for m in members:
        await place_in_tier(database, m.id, core.id)
    campaign = await make_campaign(database, tier_ids=[core.id])
    redeem = rules.ExperimentSpec(variants=(rules.VariantSpec("a", "A", 1, 0),),
                                  control_share=0.0, conversion_event=EventType.COUPON_REDEEM)
    await configure(database, campaign.id, redeem)
    await start(database, campaign.id, seed=1)
    assert not uses_rollup(EventType.COUPON_REDEEM, rules.Window(START, END))  # whole days
    async with database.unit_of_work() as uow:
        await events.record_events(uow=uow, now=datetime(2026, 4, 1, tzinfo=UTC), raws=[
            events.EventInput(external_id=f"r{m.id}", type="coupon_redeem", occurred_at=at(3),
                              member_id=m.id) for m in members[:2]])
    found = await results(database, campaign.id)
    assert (found["a"].n, found["a"].responders) == (3, 2)
