"""Tier-model features fed by other areas: the points ledger and referrals."""

from __future__ import annotations

from datetime import timedelta

from domain.clock import utcnow
from domain.points import ledger
from domain.points.rules import EntryKind
from tests.store.test_referrals_store import NOW, _buy, _code, _member, _process, _redeem


async def test_points_balance_and_referral_counts_are_tier_model_features(database):
    inviter = await _member(database, joined_at=NOW - timedelta(days=30))
    code = await _code(database, inviter.id)
    converted = await _member(database, joined_at=NOW - timedelta(minutes=5))
    joined = await _member(database, joined_at=NOW - timedelta(minutes=5))
    await _redeem(database, code.code, converted.id, device="phone-a")
    await _redeem(database, code.code, joined.id, now=NOW + timedelta(hours=2), device="phone-b")
    await _buy(database, converted.id, NOW + timedelta(days=1), "first-buy")
    await _process(database, as_of=NOW + timedelta(days=2))
    async with database.unit_of_work() as uow:
        await ledger.award_points(uow=uow, member_id=inviter.id, amount=120,
                                  kind=EntryKind.ADJUST, reason="welcome back",
                                  idempotency_key="adjust-1", actor="test", now=utcnow())

    names = ["points_balance", "referrals_accepted", "referrals_converted"]
    async with database.unit_of_work(write=False) as uow:
        after = await uow.features.load(names, as_of=(NOW + timedelta(days=2)).date(),
                                        window_days=30)
        before = await uow.features.load(names, as_of=(NOW - timedelta(days=1)).date(),
                                         window_days=30)
    row = dict(zip(after.member_ids.tolist(), range(len(after.member_ids)), strict=True))
    # The inviter: 120 adjusted + 200 for the converted invitee (the default rules); each
    # invitee: 50 on joining.
    assert [int(after[n][row[inviter.id]]) for n in names] == [320, 2, 1]
    assert [int(after["points_balance"][row[m.id]]) for m in (converted, joined)] == [50, 50]
    # As of the day before the joins no referral counts (the balance is today's).
    assert [int(before[n][row[inviter.id]]) for n in names[1:]] == [0, 0]
