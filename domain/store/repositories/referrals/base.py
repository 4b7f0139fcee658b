"""The shared pieces of ReferralRepository's parts: the rows turned into domain values,
the list filter's conditions and `ReferralBase` (the connection and the dialect's INSERT).
"""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.referrals import (
    Beneficiary,
    Fingerprint,
    Flag,
    FlagName,
    Referral,
    ReferralCode,
    ReferralFilter,
    ReferralRules,
    ReferralStatus,
    ReviewState,
    Reward,
    RewardSpec,
    RewardStatus,
    Trigger,
)
from domain.store.tables import referral_codes, referrals

_JOINED_OR_LATER = (ReferralStatus.JOINED.value, ReferralStatus.CONVERTED.value)


def _code(row) -> ReferralCode:
    return ReferralCode(id=row.id, member_id=row.member_id, code=row.code,
                        created_at=row.created_at, expires_at=row.expires_at,
                        revoked_at=row.revoked_at,
                        fingerprint=Fingerprint(row.device_hash, row.ip_hash))


_REFERRAL_COLUMNS = (*referrals.c, referral_codes.c.code)


def _referral(row) -> Referral:
    return Referral(
        id=row.id, code_id=row.code_id, code=row.code, inviter_id=row.inviter_id,
        invitee_id=row.invitee_id, status=ReferralStatus(row.status),
        invited_at=row.invited_at, joined_at=row.joined_at, converted_at=row.converted_at,
        first_purchase_on=row.first_purchase_on, window_ends_on=row.window_ends_on,
        rule_version=row.rule_version,
        flags=tuple(Flag(FlagName(f["name"]), f["explanation"]) for f in row.flags),
        review=ReviewState(row.review), review_note=row.review_note,
        reviewed_at=row.reviewed_at, reviewed_by=row.reviewed_by,
        fingerprint=Fingerprint(row.device_hash, row.ip_hash),
    )


def _reward(row) -> Reward:
    return Reward(id=row.id, referral_id=row.referral_id,
                  beneficiary=Beneficiary(row.beneficiary), member_id=row.member_id,
                  trigger=Trigger(row.trigger), rule_version=row.rule_version,
                  points=row.points, money_minor=row.money_minor, currency=row.currency,
                  status=RewardStatus(row.status), created_at=row.created_at,
                  decided_at=row.decided_at, paid_at=row.paid_at)


def _rules(row) -> ReferralRules:
    return ReferralRules(
        rewards=tuple(RewardSpec(trigger=Trigger(r["trigger"]),
                                 beneficiary=Beneficiary(r["beneficiary"]),
                                 points=r["points"], money_minor=r["money_minor"])
                      for r in row.rewards),
        attribution_window_days=row.attribution_window_days,
        join_grace_hours=row.join_grace_hours, max_joins_per_hour=row.max_joins_per_hour,
        max_joins_per_day=row.max_joins_per_day,
        max_invitees_per_fingerprint=row.max_invitees_per_fingerprint,
        currency=row.currency, version=row.version, created_at=row.created_at,
    )


def _conditions(flt: ReferralFilter) -> list:
    conditions = []
    if flt.statuses:
        conditions.append(referrals.c.status.in_([str(s) for s in flt.statuses]))
    if flt.inviter_id is not None:
        conditions.append(referrals.c.inviter_id == flt.inviter_id)
    if flt.reviews:
        conditions.append(referrals.c.review.in_([str(r) for r in flt.reviews]))
    return conditions

class ReferralBase:
    """The connection every part uses, and an INSERT of its dialect."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    def _insert(self, table):
        return (postgresql if self.conn.dialect.name == "postgresql" else sqlite).insert(table)
