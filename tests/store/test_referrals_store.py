"""Referrals in the real store: joins, conversion from the rollup, rewards exactly once."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from domain import events, referral_program, referrals
from domain.members import Channel, IdentityKey, Profile
from domain.paging import PageRequest
from domain.referral_kfactor import KFactorWindow
from domain.referrals import (
    Beneficiary,
    Decision,
    FlagName,
    ReferralFilter,
    ReferralRules,
    ReferralStatus,
    ReviewState,
    RewardSpec,
    RewardStatus,
    Trigger,
)
from domain.store.database import Database
from scripts import cli
from tests.factories import make_member

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
_seq = itertools.count(1)


async def _member(db, *, joined_at=NOW - timedelta(hours=1), **profile):
    n = next(_seq)
    fields = dict(display_name=f"Person {n}", email=f"p{n}@example.com",
                  phone=f"+86 139 {n:04d} {n:04d}")
    fields.update(profile)
    return await make_member(db, profile=Profile(**fields), joined_at=joined_at,
                             identities=(IdentityKey(Channel.APP, f"app-{n}"),))


async def _code(db, member_id, *, now=NOW - timedelta(hours=1), device=None):
    async with db.unit_of_work() as uow:
        return await referral_program.create_code(
            uow=uow, member_id=member_id, now=now, actor="test",
            fingerprint=referrals.fingerprint_of(device_id=device, ip=None))


async def _redeem(db, code, invitee_id, *, now=NOW, device=None, ip=None):
    async with db.unit_of_work() as uow:
        return await referral_program.redeem_code(
            uow=uow, code=code, invitee_id=invitee_id, now=now, actor="test",
            fingerprint=referrals.fingerprint_of(device_id=device, ip=ip))


async def _process(db, *, as_of):
    async with db.unit_of_work() as uow:
        return await referral_program.process_referrals(uow=uow, as_of=as_of, now=as_of,
                                                        actor="test")


async def _buy(db, member_id, at, external_id):
    async with db.unit_of_work() as uow:
        await events.record_events(uow=uow, now=at + timedelta(days=1), raws=[
            events.EventInput(external_id=external_id, type="purchase", occurred_at=at,
                              member_id=member_id, amount_minor=9900)])


async def _rewards(db, referral_id):
    async with db.unit_of_work(write=False) as uow:
        found = await uow.referrals.rewards_of([referral_id])
    return {(r.beneficiary, r.trigger): (r.points, r.status) for r in found[referral_id]}


async def test_first_purchase_in_the_window_converts_and_rewards_once(database):
    inviter = await _member(database)
    invitee = await _member(database, joined_at=NOW - timedelta(minutes=5))
    code = await _code(database, inviter.id)
    referral = await _redeem(database, code.code.lower(), invitee.id)
    assert referral.status is ReferralStatus.JOINED and referral.flags == ()
    assert referral.window_ends_on == date(2026, 4, 9)
    assert await _rewards(database, referral.id) == {
        (Beneficiary.INVITEE, Trigger.JOIN): (50, RewardStatus.PAID)}

    await _buy(database, invitee.id, NOW + timedelta(days=3), "buy-1")
    first = await _process(database, as_of=NOW + timedelta(days=2))
    assert first == referral_program.ProcessResult(converted=0, rewards_granted=0)
    second = await _process(database, as_of=NOW + timedelta(days=4))
    assert second == referral_program.ProcessResult(converted=1, rewards_granted=1)
    again = await _process(database, as_of=NOW + timedelta(days=5))
    assert again == referral_program.ProcessResult(converted=0, rewards_granted=0)

    async with database.unit_of_work(write=False) as uow:
        stored = await uow.referrals.get(referral.id)
    assert stored.status is ReferralStatus.CONVERTED
    assert stored.first_purchase_on == date(2026, 3, 13)
    assert await _rewards(database, referral.id) == {
        (Beneficiary.INVITEE, Trigger.JOIN): (50, RewardStatus.PAID),
        (Beneficiary.REFERRER, Trigger.FIRST_PURCHASE): (200, RewardStatus.PAID)}
    # Points rewards are paid into the points ledger, once however often processing runs.
    async with database.unit_of_work(write=False) as uow:
        assert await uow.points.balances([inviter.id, invitee.id]) == {inviter.id: 200,
                                                                      invitee.id: 50}


async def test_a_purchase_after_the_window_does_not_convert(database):
    inviter, invitee = await _member(database), await _member(database, joined_at=NOW)
    code = await _code(database, inviter.id)
    referral = await _redeem(database, code.code, invitee.id)
    await _buy(database, invitee.id, NOW + timedelta(days=30), "late")  # day 30: outside
    assert (await _process(database, as_of=NOW + timedelta(days=40))).converted == 0
    async with database.unit_of_work(write=False) as uow:
        assert (await uow.referrals.get(referral.id)).status is ReferralStatus.JOINED


async def test_concurrent_processing_grants_each_reward_exactly_once(database):
    inviter = await _member(database)
    code = await _code(database, inviter.id)
    invitees = [await _member(database, joined_at=NOW) for _ in range(6)]
    for n, invitee in enumerate(invitees):
        # Minutes apart and from different devices: no velocity or fingerprint flags.
        await _redeem(database, code.code, invitee.id, now=NOW + timedelta(minutes=20 * n))
        await _buy(database, invitee.id, NOW + timedelta(days=1), f"buy-{n}")

    results = await asyncio.gather(*(_process(database, as_of=NOW + timedelta(days=2))
                                      for _ in range(8)))
    assert sum(r.converted for r in results) == 6
    assert sum(r.rewards_granted for r in results) == 6
    async with database.unit_of_work(write=False) as uow:
        page = await uow.referrals.page(ReferralFilter(inviter_id=inviter.id),
                                        PageRequest(first=100))
        found = await uow.referrals.rewards_of([r.id for r in page.items])
    assert sorted(len(v) for v in found.values()) == [2] * 6


async def test_one_invitee_racing_two_codes_is_referred_once(database):
    a, b = await _member(database), await _member(database)
    invitee = await _member(database, joined_at=NOW)
    codes = [await _code(database, a.id), await _code(database, b.id)]

    async def redeem(code):
        try:
            return await _redeem(database, code.code, invitee.id)
        except referrals.AlreadyReferred:
            return None

    winners = [r for r in await asyncio.gather(*(redeem(c) for c in codes)) if r]
    assert len(winners) == 1


async def test_cycle_and_shared_contacts_hold_rewards_until_review(database):
    a = await _member(database, joined_at=NOW)
    b = await _member(database, joined_at=NOW)
    code_a, code_b = await _code(database, a.id, now=NOW), await _code(database, b.id, now=NOW)
    await _redeem(database, code_a.code, b.id, now=NOW + timedelta(minutes=1))
    looped = await _redeem(database, code_b.code, a.id, now=NOW + timedelta(minutes=2))
    assert [f.name for f in looped.flags] == [FlagName.CYCLE]
    assert looped.review is ReviewState.PENDING
    assert await _rewards(database, looped.id) == {
        (Beneficiary.INVITEE, Trigger.JOIN): (50, RewardStatus.HELD)}

    twin = await _member(database, joined_at=NOW, email=a.profile.email.upper())
    flagged = await _redeem(database, code_a.code, twin.id, now=NOW + timedelta(minutes=3))
    assert [f.name for f in flagged.flags] == [FlagName.SELF_REFERRAL]

    async with database.unit_of_work() as uow:
        reviewed = await referral_program.review_referral(
            uow=uow, referral_id=flagged.id, decision=Decision.REJECT, note="same person",
            actor="test", now=NOW)
    assert reviewed.review is ReviewState.REJECTED and reviewed.review_note == "same person"
    # A later first purchase of a rejected referral is recorded, and rejected too.
    await _buy(database, twin.id, NOW + timedelta(days=1), "twin-buy")
    await _process(database, as_of=NOW + timedelta(days=2))
    assert await _rewards(database, flagged.id) == {
        (Beneficiary.INVITEE, Trigger.JOIN): (50, RewardStatus.REJECTED),
        (Beneficiary.REFERRER, Trigger.FIRST_PURCHASE): (200, RewardStatus.REJECTED)}
    with pytest.raises(referrals.AlreadyReviewed):
        async with database.unit_of_work() as uow:
            await referral_program.review_referral(
                uow=uow, referral_id=flagged.id, decision=Decision.APPROVE, note="",
                actor="test", now=NOW)


async def test_shared_device_velocity_and_rule_versions(database):
    async with database.unit_of_work() as uow:
        await referral_program.set_rules(uow=uow, actor="test", now=NOW, rules=ReferralRules(
            rewards=(RewardSpec(Trigger.JOIN, Beneficiary.REFERRER, points=10, money_minor=500),),
            max_joins_per_hour=2))
    inviter = await _member(database)
    code = await _code(database, inviter.id, device="phone-1")
    invitees = [await _member(database, joined_at=NOW) for _ in range(3)]
    same_device = await _redeem(database, code.code, invitees[0].id, device="phone-1")
    assert [f.name for f in same_device.flags] == [FlagName.SHARED_FINGERPRINT]
    await _redeem(database, code.code, invitees[1].id, now=NOW + timedelta(minutes=1))
    third = await _redeem(database, code.code, invitees[2].id, now=NOW + timedelta(minutes=2))
    assert [f.name for f in third.flags] == [FlagName.VELOCITY]
    assert third.rule_version == 1
    rewards = await _rewards(database, third.id)
    assert rewards == {(Beneficiary.REFERRER, Trigger.JOIN): (10, RewardStatus.HELD)}
    async with database.unit_of_work() as uow:
        approved = await referral_program.review_referral(
            uow=uow, referral_id=third.id, decision=Decision.APPROVE, note="a teacher",
            actor="test", now=NOW)
        payable = await uow.referrals.rewards_of([third.id])
    assert approved.review is ReviewState.APPROVED
    assert [r.status for r in payable[third.id]] == [RewardStatus.PAYABLE]
    assert payable[third.id][0].money_minor == 500
    async with database.unit_of_work() as uow:
        ids = [payable[third.id][0].id]
        assert await referral_program.mark_rewards_paid(uow=uow, reward_ids=ids,
                                                        actor="ledger", now=NOW) == 1
    async with database.unit_of_work() as uow:
        assert await referral_program.mark_rewards_paid(uow=uow, reward_ids=ids,
                                                        actor="ledger", now=NOW) == 0
        paid = (await uow.referrals.rewards_of([third.id]))[third.id][0]
    assert paid.status is RewardStatus.PAID and paid.paid_at == NOW


async def test_cohort_counts_feed_the_k_factor(database):
    jan = await _member(database, joined_at=datetime(2026, 1, 15, tzinfo=UTC))
    feb = await _member(database, joined_at=datetime(2026, 2, 3, tzinfo=UTC))
    code_jan, code_feb = await _code(database, jan.id), await _code(database, feb.id)
    for _ in range(3):  # January's inviter: 3 invitations, 1 joins and buys
        async with database.unit_of_work() as uow:
            await referral_program.record_invitation(
                uow=uow, code=code_jan.code, now=NOW - timedelta(hours=1), actor="test")
    buyer = await _member(database, joined_at=NOW)
    await _redeem(database, code_jan.code, buyer.id)
    await _buy(database, buyer.id, NOW + timedelta(hours=2), "b")
    await _process(database, as_of=NOW + timedelta(days=1))
    # February's inviter: two joins without a recorded invitation (each counts as one).
    for n in range(2):
        await _redeem(database, code_feb.code, (await _member(database, joined_at=NOW)).id,
                      now=NOW + timedelta(minutes=30 * n))
    async with database.unit_of_work(write=False) as uow:
        counts = await uow.referrals.cohort_counts(KFactorWindow(
            start=date(2026, 3, 1), end=date(2026, 4, 1), as_of=NOW + timedelta(days=2)))
        before = await uow.referrals.cohort_counts(KFactorWindow(
            start=date(2026, 3, 1), end=date(2026, 4, 1), as_of=NOW - timedelta(minutes=1)))
    assert [(c.cohort, c.inviters, c.invitations, c.joined, c.converted) for c in counts] == [
        ("2026-01", 1, 3, 1, 1), ("2026-02", 1, 2, 2, 0)]
    assert [(c.cohort, c.invitations, c.joined) for c in before] == [("2026-01", 3, 0)]


def test_cli_processes_referrals_idempotently(database_url, monkeypatch, capsys):
    async def given_a_converted_invitee():
        db = Database(database_url)
        try:
            inviter, invitee = await _member(db), await _member(db, joined_at=NOW)
            code = await _code(db, inviter.id)
            await _redeem(db, code.code, invitee.id)
            await _buy(db, invitee.id, NOW + timedelta(hours=1), "cli-buy")
        finally:
            await db.dispose()

    asyncio.run(given_a_converted_invitee())
    monkeypatch.setenv("TIERWISE_DATABASE_URL", database_url)
    assert cli.main(["referrals", "process", "--as-of", "2026-03-11"]) == 0
    assert cli.main(["referrals", "process", "--as-of", "2026-03-12T00:00:00+08:00"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "referrals processed as of 2026-03-11T00:00:00+00:00: 1 converted, 1 rewards granted",
        "referrals processed as of 2026-03-11T16:00:00+00:00: 0 converted, 0 rewards granted"]
    with pytest.raises(SystemExit, match="no time zone"):
        cli.main(["referrals", "process", "--as-of", "2026-03-11T00:00:00"])


async def test_concurrent_code_requests_leave_one_active_code(database):
    member = await _member(database)

    async def request():
        try:
            return await _code(database, member.id)
        except referrals.CodeExists:
            return None

    created = [c for c in await asyncio.gather(*(request() for _ in range(5))) if c]
    assert len(created) == 1
    async with database.unit_of_work(write=False) as uow:
        assert [c.id for c in await uow.referrals.active_codes(member.id, now=NOW)] == [
            created[0].id]


async def test_processing_keeps_running_after_the_referrer_of_a_money_reward_was_merged(
        database):
    from tests.factories import merge_into

    async with database.unit_of_work() as uow:
        await referral_program.set_rules(uow=uow, actor="test", now=NOW, rules=ReferralRules(
            rewards=(RewardSpec(trigger=Trigger.FIRST_PURCHASE,
                                beneficiary=Beneficiary.REFERRER, points=200,
                                money_minor=1500),)))
    inviter, invitee = await _member(database), await _member(database, joined_at=NOW)
    other = await _member(database)
    code = await _code(database, inviter.id)
    referral = await _redeem(database, code.code, invitee.id)
    await _buy(database, invitee.id, NOW + timedelta(days=1), "buy-money")
    assert (await _process(database, as_of=NOW + timedelta(days=2))).rewards_granted == 1
    # The money half waits for the payout: the reward stays payable, its points are paid.
    assert await _rewards(database, referral.id) == {
        (Beneficiary.REFERRER, Trigger.FIRST_PURCHASE): (200, RewardStatus.PAYABLE)}
    await merge_into(database, other.id, inviter.id)
    # The next nightly run must neither fail nor pay the points a second time.
    again = await _process(database, as_of=NOW + timedelta(days=3))
    assert again == referral_program.ProcessResult(converted=0, rewards_granted=0)
    async with database.unit_of_work(write=False) as uow:
        assert await uow.points.balances([inviter.id, other.id]) == {inviter.id: 0,
                                                                    other.id: 200}


async def test_a_member_cannot_use_the_code_of_a_member_merged_into_them(database):
    from tests.factories import merge_into

    old_account = await _member(database)
    code = await _code(database, old_account.id)
    new_account = await _member(database, joined_at=NOW)  # the same person, a new channel
    await merge_into(database, new_account.id, old_account.id)
    # The code's owner is now the invitee: a self-referral that would pay them both rewards.
    with pytest.raises(referrals.OwnCode):
        await _redeem(database, code.code, new_account.id)
    async with database.unit_of_work(write=False) as uow:
        assert await uow.referrals.of_invitee(new_account.id) is None
        assert await uow.points.balances([new_account.id]) == {}
