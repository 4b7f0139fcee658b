"""What the referral fraud rules look at: fingerprints a member left, an inviter's
invitees and the chain of inviters above a member.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import literal, select

from domain.referrals import Fingerprint
from domain.store.repositories.referrals.base import _JOINED_OR_LATER, ReferralBase
from domain.store.tables import referral_codes, referrals


class FraudInputsMixin(ReferralBase):
    """The fraud rules' inputs."""

    # --- what the fraud rules look at ---

    async def fingerprints_of(self, member_id: int) -> tuple[Fingerprint, ...]:
        """Fingerprints a member left: on their codes and on their own sign-up."""
        codes = await self.conn.execute(
            select(referral_codes.c.device_hash, referral_codes.c.ip_hash)
            .where(referral_codes.c.member_id == member_id))
        joined = await self.conn.execute(
            select(referrals.c.device_hash, referrals.c.ip_hash)
            .where(referrals.c.invitee_id == member_id))
        return tuple(Fingerprint(r.device_hash, r.ip_hash) for r in [*codes, *joined])

    async def invitees_of(self, inviter_id: int) -> list[tuple[Fingerprint, datetime]]:
        """Fingerprint and join time of each member the inviter brought in."""
        rows = await self.conn.execute(
            select(referrals.c.device_hash, referrals.c.ip_hash, referrals.c.joined_at)
            .where(referrals.c.inviter_id == inviter_id,
                   referrals.c.status.in_(_JOINED_OR_LATER)))
        return [(Fingerprint(r.device_hash, r.ip_hash), r.joined_at) for r in rows]

    async def ancestors(self, member_id: int, *, limit: int = 1000) -> tuple[int, ...]:
        """The member's inviter, their inviter, ... nearest first (one recursive query)."""
        chain = (select(referrals.c.inviter_id.label("member_id"), literal(1).label("depth"))
                 .where(referrals.c.invitee_id == member_id).cte("chain", recursive=True))
        chain = chain.union_all(
            select(referrals.c.inviter_id, chain.c.depth + 1)
            .where(referrals.c.invitee_id == chain.c.member_id, chain.c.depth < limit))
        rows = await self.conn.execute(select(chain.c.member_id).order_by(chain.c.depth))
        found: list[int] = []
        for (ancestor,) in rows:
            if ancestor in found:
                break  # an existing cycle: the chain repeats from here
            found.append(ancestor)
        return tuple(found)
