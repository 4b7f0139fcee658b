"""Small factories: a valid object with any field overridden."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from domain import members, merges, tiers
from domain.members import Channel, IdentityKey, Profile

_seq = itertools.count(1)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def make_tier(db, **overrides) -> tiers.Tier:
    n = next(_seq)
    spec = dict(key=f"tier-{n}", name=f"Tier {n}", rank=n % 100 + 1, description="",
                benefits=("coupon",),
                touch=tiers.TouchStrategy(channel=Channel.WECHAT, every_days=7, content="hi"))
    spec.update(overrides)
    async with db.unit_of_work() as uow:
        return await tiers.create_tier(uow=uow, spec=tiers.TierSpec(**spec), actor="test")


async def make_member(db, **overrides) -> members.Member:
    n = next(_seq)
    fields = dict(profile=Profile(display_name=f"Member {n}", email=f"m{n}@example.com",
                                  phone="+86 138 0000 0000"),
                  channel=Channel.WECHAT, joined_at=T0 + timedelta(hours=n),
                  identities=(IdentityKey(Channel.WECHAT, f"wx-{n}"),))
    fields.update(overrides)
    async with db.unit_of_work() as uow:
        return await members.enroll_member(uow=uow, actor="test", **fields)


async def place_in_tier(db, member_id: int, tier_id: int | None) -> None:
    async with db.unit_of_work() as uow:
        await tiers.assign_tier(uow=uow, member_id=member_id, tier_id=tier_id, actor="test",
                                reason="test", now=datetime.now(UTC))


async def merge_into(db, survivor: int, merged: int) -> members.Merge:
    async with db.unit_of_work() as uow:
        return await merges.merge_members(uow=uow, survivor_id=survivor, merged_id=merged,
                                          actor="test", reason="same person",
                                          now=datetime.now(UTC))


async def undo_merge(db, merge_id: int) -> members.Merge:
    async with db.unit_of_work() as uow:
        return await merges.undo_merge(uow=uow, merge_id=merge_id, actor="test",
                                       now=datetime.now(UTC))
