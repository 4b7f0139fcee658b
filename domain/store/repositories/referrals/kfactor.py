"""The K-factor's inputs: invitations per inviter join month, joined and converted."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import and_, case, distinct, func, select

from domain.referral_kfactor import CohortCounts, KFactorWindow
from domain.referrals import ReviewState
from domain.store.repositories.referrals.base import ReferralBase
from domain.store.tables import members, referrals


class KFactorMixin(ReferralBase):
    """Cohort counts for the K-factor."""

    # --- K-factor inputs ---

    async def cohort_counts(self, window: KFactorWindow) -> list[CohortCounts]:
        """Per inviter join month: inviters, invitations in the window and how many of
        them had joined / converted by the as-of time (rejected referrals excluded)."""
        if self.conn.dialect.name == "postgresql":
            cohort = func.to_char(func.timezone("UTC", members.c.joined_at), "YYYY-MM")
        else:
            cohort = func.substr(members.c.joined_at, 1, 7)
        start = datetime.combine(window.start, datetime.min.time(), tzinfo=UTC)
        end = datetime.combine(window.end, datetime.min.time(), tzinfo=UTC)
        joined = and_(referrals.c.joined_at.is_not(None), referrals.c.joined_at <= window.as_of)
        converted = and_(referrals.c.first_purchase_on.is_not(None),
                         referrals.c.first_purchase_on <= window.as_of.date())
        rows = await self.conn.execute(
            select(cohort.label("cohort"), func.count(distinct(referrals.c.inviter_id)),
                   func.count(), func.sum(case((joined, 1), else_=0)),
                   func.sum(case((converted, 1), else_=0)))
            .select_from(referrals.join(members, members.c.id == referrals.c.inviter_id))
            .where(referrals.c.invited_at >= start, referrals.c.invited_at < end,
                   referrals.c.invited_at <= window.as_of,
                   referrals.c.review != ReviewState.REJECTED.value)
            .group_by(cohort).order_by(cohort))
        return [CohortCounts(cohort=c, inviters=i, invitations=n, joined=j or 0,
                             converted=v or 0) for c, i, n, j, v in rows]
