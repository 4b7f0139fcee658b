"""The points ledger in the real store: concurrency, idempotent accrual and expiry."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from domain import events
from domain.clock import utcnow
from domain.points import benefits, ledger, rules
from domain.points.rules import EarnRule, EntryKind
from domain.store.database import Database
from tests.factories import T0, make_member, make_tier, place_in_tier


async def _award(db, member_id, amount, key, *, kind=EntryKind.ADJUST, now=None, days=None):
    async with db.unit_of_work() as uow:
        return await ledger.award_points(uow=uow, member_id=member_id, amount=amount, kind=kind,
                                         reason="test", idempotency_key=key, actor="test",
                                         now=now or utcnow(), expiry_days=days)


async def _spend(db, member_id, amount, key, *, now=None):
    async with db.unit_of_work() as uow:
        return await ledger.spend_points(uow=uow, member_id=member_id, amount=amount,
                                         reason="test", idempotency_key=key, actor="test",
                                         now=now or utcnow())


async def _balance_and_sum(db, member_id):
    async with db.unit_of_work(write=False) as uow:
        balance = (await uow.points.balances([member_id])).get(member_id, 0)
        return balance, await uow.points.ledger_sum(member_id)


@pytest.fixture
async def wide_database(database_url):
    # 170 concurrent units of work: PostgreSQL gets up to 80 connections (max 200 on the
    # test server); the rest queue for the pool instead of failing.
    db = Database(database_url, pool_size=40)
    try:
        yield db
    finally:
        await db.dispose()


async def _attempt_spend(db, member_id, n):
    try:
        await _spend(db, member_id, 10, f"spend-{n}")
        return "spent"
    except rules.InsufficientPoints:
        return "INSUFFICIENT_POINTS"


async def test_150_concurrent_spends_of_10_from_1000_points_leave_exactly_100_paid(
        wide_database):
    db = wide_database
    member = await make_member(db)
    await _award(db, member.id, 1000, "start")
    outcomes = await asyncio.gather(*(_attempt_spend(db, member.id, n) for n in range(150)))
    # 1,000 / 10 = 100 spends fit, whatever the interleaving; the other 50 are refused.
    assert outcomes.count("spent") == 100
    assert outcomes.count("INSUFFICIENT_POINTS") == 50
    assert await _balance_and_sum(db, member.id) == (0, 0)


async def test_concurrent_spends_awards_and_retries_never_overdraw_or_double(wide_database):
    db = wide_database
    member = await make_member(db)
    await _award(db, member.id, 1000, "start")

    async def award(n):
        await _award(db, member.id, 10, f"award-{n % 20}")  # n >= 20: a retry of n - 20
        return "awarded"

    tasks = [_attempt_spend(db, member.id, n) for n in range(150)]
    tasks += [award(n) for n in range(40)]
    order = list(range(len(tasks)))
    order = order[::3] + order[1::3] + order[2::3]  # interleave spends and awards
    outcomes = await asyncio.gather(*(tasks[i] for i in order))
    spent = outcomes.count("spent")
    assert outcomes.count("awarded") == 40
    assert spent + outcomes.count("INSUFFICIENT_POINTS") == 150
    balance, ledger_sum = await _balance_and_sum(db, member.id)
    # Credits are 1,000 + 20 distinct awards of 10 (the 20 retries count once) = 1,200.
    # At least 100 spends fit before any award lands, at most 120 after all of them.
    assert balance == ledger_sum == 1200 - 10 * spent
    assert 100 <= spent <= 120 and balance >= 0
    async with db.unit_of_work(write=False) as uow:
        ledger_entries = await uow.points.entries_of(member.id)
    assert sum(1 for e in ledger_entries if e.kind is EntryKind.ADJUST) == 21
    assert sum(1 for e in ledger_entries if e.kind is EntryKind.SPEND) == spent




async def test_concurrent_redemptions_take_stock_once_each(wide_database):
    db = wide_database
    async with db.unit_of_work() as uow:
        benefit = await benefits.create_benefit(
            uow=uow, spec=benefits.BenefitSpec(name="Meetup seat", cost_points=50, stock=20),
            actor="test", now=utcnow())
    people = [await make_member(db) for _ in range(6)]
    for person in people:
        await _award(db, person.id, 500, f"start-{person.id}")

    async def redeem(n):
        person = people[n % 6]
        try:
            async with db.unit_of_work() as uow:
                await ledger.redeem_benefit(uow=uow, member_id=person.id,
                                            benefit_id=benefit.id, idempotency_key=f"r-{n}",
                                            actor="test", now=utcnow())
            return "redeemed"
        except benefits.OutOfStock:
            return "OUT_OF_STOCK"

    outcomes = await asyncio.gather(*(redeem(n) for n in range(30)))
    assert outcomes.count("redeemed") == 20 and outcomes.count("OUT_OF_STOCK") == 10
    async with db.unit_of_work(write=False) as uow:
        assert (await uow.points.get_benefit(benefit.id)).stock == 0
        balances = await uow.points.balances([p.id for p in people])
    assert sum(balances.values()) == 6 * 500 - 20 * 50


async def test_key_reuse_returns_the_first_entry_or_is_refused(database):
    member = await make_member(database)
    first = await _award(database, member.id, 30, "bonus")
    again = await _award(database, member.id, 30, "bonus")
    assert again.id == first.id
    with pytest.raises(rules.IdempotencyKeyReused):
        await _award(database, member.id, 31, "bonus")
    with pytest.raises(rules.IdempotencyKeyReused):
        await _award(database, member.id, 30, "bonus", kind=EntryKind.EARN)
    assert await _balance_and_sum(database, member.id) == (30, 30)


async def _record(db, member_id, n, type, at):
    async with db.unit_of_work() as uow:
        await events.record_events(uow=uow, now=utcnow(), raws=[events.EventInput(
            external_id=f"ev-{n}", type=type, occurred_at=at, member_id=member_id)])


async def test_accrual_pays_each_event_once_with_caps_and_multipliers(database):
    gold = await make_tier(database, key="gold", rank=1)
    plain, vip = await make_member(database), await make_member(database)
    await place_in_tier(database, vip.id, gold.id)
    async with database.unit_of_work() as uow:
        await ledger.set_earn_rules(
            uow=uow, earn_rules=[EarnRule("check_in", 5, daily_cap=1), EarnRule("post", 20)],
            multipliers=[rules.TierMultiplier(gold.id, 1500)], actor="test", now=utcnow())
    for n, (member, type, hours) in enumerate([
            (plain, "check_in", 1), (plain, "check_in", 2), (plain, "post", 3),
            (vip, "check_in", 1), (vip, "post", 2), (vip, "login", 3)]):
        await _record(database, member.id, n, type, T0 + timedelta(hours=hours))

    async def accrue(**kw):
        async with database.unit_of_work() as uow:
            return await ledger.accrue_points(uow=uow, as_of=T0 + timedelta(days=1),
                                              actor="test", now=utcnow(), **kw)

    first = await accrue(since=None)
    # plain: 5 (one check-in, capped) + 20; vip: 7 (5 x 1.5, floored) + 30.
    assert (first.written, first.points, first.members) == (4, 62, 2)
    assert (await accrue(since=T0 + timedelta(hours=5))).written == 0  # whole day re-read
    await _record(database, plain.id, 9, "post", T0 + timedelta(hours=20))  # late arrival
    assert (await accrue(since=None)).points == 20
    assert (await _balance_and_sum(database, plain.id)) == (45, 45)
    assert (await _balance_and_sum(database, vip.id)) == (37, 37)


async def test_expiry_writes_off_the_unspent_remainder_once(database):
    member = await make_member(database)
    await _award(database, member.id, 100, "old", kind=EntryKind.EARN, now=T0, days=30)
    await _award(database, member.id, 50, "new", kind=EntryKind.EARN,
                 now=T0 + timedelta(days=20), days=30)
    await _spend(database, member.id, 70, "shop", now=T0 + timedelta(days=25))

    async def expire(day):
        async with database.unit_of_work() as uow:
            return await ledger.expire_points(uow=uow, as_of=T0 + timedelta(days=day),
                                              actor="test", now=utcnow())

    # FIFO: the spend took 70 of the old lot; its 30 expire on day 30, the new 50 on day 50.
    assert (await expire(31)).points == 30
    assert (await expire(31)).written == 0
    assert await _balance_and_sum(database, member.id) == (50, 50)
    assert (await expire(60)).points == 50
    assert await _balance_and_sum(database, member.id) == (0, 0)


async def test_reversal_happens_once_and_cannot_overdraw(database):
    member = await make_member(database)
    earn = await _award(database, member.id, 40, "e", kind=EntryKind.EARN)
    await _spend(database, member.id, 30, "s")
    async with database.unit_of_work() as uow:
        with pytest.raises(rules.InsufficientPoints):
            await ledger.reverse_entry(uow=uow, entry_id=earn.id, reason="fraud", actor="t",
                                       now=utcnow())
    spend = await _spend(database, member.id, 5, "s2")
    async with database.unit_of_work() as uow:
        reversal = await ledger.reverse_entry(uow=uow, entry_id=spend.id, reason="refund",
                                              actor="t", now=utcnow())
    assert reversal.amount == 5 and reversal.reverses_entry_id == spend.id
    async with database.unit_of_work() as uow:
        with pytest.raises(rules.AlreadyReversed):
            await ledger.reverse_entry(uow=uow, entry_id=spend.id, reason="again", actor="t",
                                       now=utcnow())
    assert await _balance_and_sum(database, member.id) == (10, 10)


async def _credit_reward(db, member_id, key):
    async with db.unit_of_work() as uow:
        credited = await ledger.credit_rewards(uow=uow, actor="test", now=utcnow(), credits=[
            ledger.RewardCredit(member_id=member_id, points=200, key=key, reason="reward")])
        await uow.commit()
        return credited


async def test_a_reward_paid_again_after_its_member_was_merged_or_unmerged_credits_nothing(
        database):
    from tests.factories import merge_into, undo_merge

    member, survivor = await make_member(database), await make_member(database)
    assert await _credit_reward(database, member.id, "referral-reward:1") == 200
    merge = await merge_into(database, survivor.id, member.id)
    # A payout run retried after the merge (a reward with money stays payable, so every
    # processing run pays its points again): keyed, so nothing more, and no failure.
    assert await _credit_reward(database, member.id, "referral-reward:1") == 0
    assert await _credit_reward(database, member.id, "referral-reward:2") == 200  # survivor's
    await undo_merge(database, merge.id)
    assert await _credit_reward(database, member.id, "referral-reward:2") == 0
    assert await _balance_and_sum(database, member.id) == (200, 200)
    assert await _balance_and_sum(database, survivor.id) == (200, 200)
