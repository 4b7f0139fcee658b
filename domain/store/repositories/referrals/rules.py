"""Referral reward rule sets: the active one, versions by number, a new version."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, update

from domain.referrals import ReferralRules
from domain.store.repositories.referrals.base import ReferralBase, _rules
from domain.store.tables import referral_rule_sets


class RulesMixin(ReferralBase):
    """Stored rule sets."""

    # --- rule sets ---

    async def active_rules(self) -> ReferralRules | None:
        row = (await self.conn.execute(
            select(referral_rule_sets).where(referral_rule_sets.c.active.is_(True))
            .order_by(referral_rule_sets.c.version.desc()).limit(1))).first()
        return _rules(row) if row else None

    async def rules_versions(self, versions: Iterable[int]) -> dict[int, ReferralRules]:
        rows = await self.conn.execute(select(referral_rule_sets).where(
            referral_rule_sets.c.version.in_(list(versions))))
        return {row.version: _rules(row) for row in rows}

    async def add_rules(self, rules: ReferralRules, *, actor: str, now: datetime) -> int:
        """Store `rules` as the next version and make it the only active one. Two writers
        racing get the same version number; the unique version makes one fail."""
        latest = (await self.conn.execute(
            select(func.coalesce(func.max(referral_rule_sets.c.version), 0)))).scalar_one()
        await self.conn.execute(update(referral_rule_sets)
                                .where(referral_rule_sets.c.active.is_(True))
                                .values(active=False))
        version = latest + 1
        await self.conn.execute(referral_rule_sets.insert().values(
            version=version, active=True,
            rewards=[{"trigger": str(r.trigger), "beneficiary": str(r.beneficiary),
                      "points": r.points, "money_minor": r.money_minor} for r in rules.rewards],
            attribution_window_days=rules.attribution_window_days,
            join_grace_hours=rules.join_grace_hours,
            max_joins_per_hour=rules.max_joins_per_hour,
            max_joins_per_day=rules.max_joins_per_day,
            max_invitees_per_fingerprint=rules.max_invitees_per_fingerprint,
            currency=rules.currency, actor=actor, created_at=now,
        ))
        return version
