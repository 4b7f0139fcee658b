"""Referral conversion, rewards, reviews and payouts.

Rewards are granted with INSERT ... SELECT ... ON CONFLICT DO NOTHING on the unique
(referral, beneficiary, trigger) key, so every run, retry or concurrent run of the
processing grants each reward once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime

from sqlalchemy import and_, case, exists, func, literal, select, update

from domain.referrals import (
    Beneficiary,
    ReferralRules,
    ReferralStatus,
    ReviewState,
    Reward,
    RewardSpec,
    RewardStatus,
    Trigger,
)
from domain.store.repositories.referrals.base import _JOINED_OR_LATER, ReferralBase, _reward
from domain.store.tables import UtcDateTime, member_days, referral_rewards, referrals


class RewardsMixin(ReferralBase):
    """Conversion, rewards, reviews and payouts."""

    # --- conversion and rewards ---

    async def convert_due(self, *, as_of: date, now: datetime) -> list[int]:
        """Mark converted every joined referral whose invitee has a purchase day in the
        attribution window, on or before `as_of`; returns their ids. A concurrent run
        converts each once (the update re-checks the status under the row lock)."""
        in_window = and_(member_days.c.member_id == referrals.c.invitee_id,
                         member_days.c.purchases > 0,
                         member_days.c.day >= referrals.c.join_day,
                         member_days.c.day < referrals.c.window_ends_on,
                         member_days.c.day <= as_of)
        first_day = select(func.min(member_days.c.day)).where(in_window).scalar_subquery()
        result = await self.conn.execute(
            update(referrals)
            .where(referrals.c.status == ReferralStatus.JOINED.value,
                   exists().where(in_window))
            .values(status=ReferralStatus.CONVERTED.value, first_purchase_on=first_day,
                    converted_at=now)
            .returning(referrals.c.id))
        return sorted(result.scalars())

    async def rule_versions_in_use(self) -> list[int]:
        rows = await self.conn.execute(select(referrals.c.rule_version).distinct().where(
            referrals.c.status.in_(_JOINED_OR_LATER)))
        return [v for (v,) in rows if v is not None]

    async def grant(self, *, spec: RewardSpec, rules: ReferralRules,
                    status_by_review: Mapping[ReviewState, RewardStatus], now: datetime,
                    referral_ids: Iterable[int] | None = None) -> int:
        """Grant `spec` to every referral of `rules.version` that reached its trigger and
        does not have it yet (or only to `referral_ids`); returns how many were new."""
        reached = (_JOINED_OR_LATER if spec.trigger is Trigger.JOIN
                   else (ReferralStatus.CONVERTED.value,))
        member = (referrals.c.inviter_id if spec.beneficiary is Beneficiary.REFERRER
                  else referrals.c.invitee_id)
        status = case({str(r): str(s) for r, s in status_by_review.items()},
                      value=referrals.c.review)
        already = exists().where(referral_rewards.c.referral_id == referrals.c.id,
                                 referral_rewards.c.beneficiary == str(spec.beneficiary),
                                 referral_rewards.c.trigger == str(spec.trigger))
        conditions = [referrals.c.rule_version == rules.version,
                      referrals.c.status.in_(reached), ~already]
        if referral_ids is not None:
            conditions.append(referrals.c.id.in_(list(referral_ids)))
        source = select(referrals.c.id, literal(str(spec.beneficiary)), member,
                        literal(str(spec.trigger)), literal(rules.version),
                        literal(spec.points), literal(spec.money_minor),
                        literal(rules.currency), status, literal(now, UtcDateTime())
                        ).where(*conditions)
        statement = self._insert(referral_rewards).from_select(
            ["referral_id", "beneficiary", "member_id", "trigger", "rule_version", "points",
             "money_minor", "currency", "status", "created_at"], source,
        ).on_conflict_do_nothing(index_elements=["referral_id", "beneficiary", "trigger"])
        result = await self.conn.execute(statement.returning(referral_rewards.c.id))
        return len(result.all())

    async def rewards_of(self, referral_ids: Iterable[int]) -> dict[int, list[Reward]]:
        ids = list(referral_ids)
        rows = await self.conn.execute(
            select(referral_rewards).where(referral_rewards.c.referral_id.in_(ids))
            .order_by(referral_rewards.c.referral_id, referral_rewards.c.id))
        out: dict[int, list[Reward]] = {r: [] for r in ids}
        for row in rows:
            out[row.referral_id].append(_reward(row))
        return out

    async def set_review(self, referral_id: int, *, to: ReviewState, note: str, actor: str,
                         now: datetime) -> bool:
        """Record a decision on a pending referral; False when it was decided meanwhile."""
        result = await self.conn.execute(
            update(referrals).where(referrals.c.id == referral_id,
                                    referrals.c.review == ReviewState.PENDING.value)
            .values(review=to.value, review_note=note, reviewed_at=now, reviewed_by=actor))
        return result.rowcount == 1

    async def release_held(self, referral_id: int, *, to: RewardStatus, now: datetime) -> int:
        result = await self.conn.execute(
            update(referral_rewards).where(referral_rewards.c.referral_id == referral_id,
                                           referral_rewards.c.status == RewardStatus.HELD.value)
            .values(status=to.value, decided_at=now))
        return result.rowcount

    async def payable_points_rewards(self, referral_ids: Iterable[int] | None = None
                                     ) -> list[Reward]:
        """PAYABLE rewards that carry points (of some referrals, or all), oldest first."""
        query = select(referral_rewards).where(
            referral_rewards.c.status == RewardStatus.PAYABLE.value, referral_rewards.c.points > 0)
        if referral_ids is not None:
            query = query.where(referral_rewards.c.referral_id.in_(list(referral_ids)))
        rows = await self.conn.execute(query.order_by(referral_rewards.c.id))
        return [_reward(row) for row in rows]

    async def mark_paid(self, reward_ids: Iterable[int], *, now: datetime) -> int:
        """PAYABLE -> PAID for the given rewards (others are left alone); returns how many."""
        result = await self.conn.execute(
            update(referral_rewards).where(referral_rewards.c.id.in_(list(reward_ids)),
                                           referral_rewards.c.status
                                           == RewardStatus.PAYABLE.value)
            .values(status=RewardStatus.PAID.value, paid_at=now))
        return result.rowcount
