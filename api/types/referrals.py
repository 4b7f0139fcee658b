from __future__ import annotations

from datetime import date, datetime

import strawberry

from api.relay import Node, to_global_id
from api.types.enums import mirror
from api.types.members import Member
from api.types.scalars import MinorUnits
from domain import referral_kfactor, referrals

ReferralStatus = mirror(referrals.ReferralStatus, "ReferralStatus",
                        "INVITED -> JOINED (an invitee used the code) -> CONVERTED (the "
                        "invitee's first purchase fell in the attribution window).")
RewardTrigger = mirror(referrals.Trigger, "RewardTrigger",
                       "JOIN (the invitee joined) or FIRST_PURCHASE (the referral converted).")
RewardBeneficiary = mirror(referrals.Beneficiary, "RewardBeneficiary",
                           "Who gets a reward: the REFERRER (inviter) or the INVITEE.")
RewardStatus = mirror(referrals.RewardStatus, "RewardStatus",
                      "HELD for review, PAYABLE, PAID, or REJECTED by a reviewer.")
ReviewState = mirror(referrals.ReviewState, "ReferralReviewState",
                     "NONE (no fraud flag), PENDING review, APPROVED or REJECTED.")
ReviewDecision = mirror(referrals.Decision, "ReferralReviewDecision",
                        "APPROVE releases held rewards; REJECT rejects them.")
FraudFlagName = mirror(referrals.FlagName, "FraudFlagName", "Which fraud rule fired.")


RewardRecipients = mirror(referrals.Recipients, "RewardRecipients",
                          "Who a reward rule pays: the REFERRER, the INVITEE or BOTH.")


async def _member(info: strawberry.Info, member_id: int | None) -> Member | None:
    if member_id is None:
        return None
    found = await info.context.loaders.member.load(member_id)
    return Member.from_domain(found, personal=info.context.personal) if found else None


@strawberry.type(description="A member's invitation code (unambiguous letters and digits).")
class ReferralCode(Node):
    code: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None = strawberry.field(
        description="When a newer code replaced this one.")
    active: bool = strawberry.field(description="Usable now: not expired, not replaced.")
    _member_id: strawberry.Private[int]

    @strawberry.field
    async def member(self, info: strawberry.Info) -> Member | None:
        return await _member(info, self._member_id)

    @classmethod
    def from_domain(cls, code: referrals.ReferralCode, *, now: datetime) -> ReferralCode:
        return cls(id=to_global_id("ReferralCode", code.id), code=code.code,
                   created_at=code.created_at, expires_at=code.expires_at,
                   revoked_at=code.revoked_at, active=code.is_active(now),
                   _member_id=code.member_id)


@strawberry.type(description="A fraud rule that fired on a join, and why.")
class FraudFlag:
    name: FraudFlagName
    explanation: str


@strawberry.type(description="A reward granted once per referral, beneficiary and trigger.")
class ReferralReward(Node):
    beneficiary: RewardBeneficiary
    trigger: RewardTrigger
    rule_version: int
    points: int
    money_minor: MinorUnits
    currency: str
    status: RewardStatus
    created_at: datetime
    decided_at: datetime | None
    paid_at: datetime | None
    _member_id: strawberry.Private[int]

    @strawberry.field(description="The member the reward goes to.")
    async def member(self, info: strawberry.Info) -> Member | None:
        return await _member(info, self._member_id)

    @classmethod
    def from_domain(cls, reward: referrals.Reward) -> ReferralReward:
        return cls(id=to_global_id("ReferralReward", reward.id),
                   beneficiary=RewardBeneficiary(reward.beneficiary.value),
                   trigger=RewardTrigger(reward.trigger.value), rule_version=reward.rule_version,
                   points=reward.points, money_minor=reward.money_minor,
                   currency=reward.currency, status=RewardStatus(reward.status.value),
                   created_at=reward.created_at, decided_at=reward.decided_at,
                   paid_at=reward.paid_at, _member_id=reward.member_id)


@strawberry.type(description="One invitation: inviter, invitee, status, fraud flags, rewards.")
class Referral(Node):
    code: str
    status: ReferralStatus
    invited_at: datetime
    joined_at: datetime | None
    converted_at: datetime | None = strawberry.field(
        description="When processing saw the first purchase.")
    first_purchase_on: date | None = strawberry.field(
        description="UTC day of the invitee's first purchase in the window.")
    window_ends_on: date | None = strawberry.field(
        description="First UTC day whose purchases no longer convert.")
    rule_version: int | None = strawberry.field(
        description="Referral rules version the invitee joined under (0: defaults).")
    fraud_flags: list[FraudFlag]
    review: ReviewState
    review_note: str | None
    reviewed_at: datetime | None
    reviewed_by: str | None
    _pk: strawberry.Private[int]
    _inviter_id: strawberry.Private[int]
    _invitee_id: strawberry.Private[int | None]

    @strawberry.field
    async def inviter(self, info: strawberry.Info) -> Member | None:
        return await _member(info, self._inviter_id)

    @strawberry.field
    async def invitee(self, info: strawberry.Info) -> Member | None:
        return await _member(info, self._invitee_id)

    @strawberry.field(description="Rewards granted for this referral, oldest first.")
    async def rewards(self, info: strawberry.Info) -> list[ReferralReward]:
        found = await info.context.loaders.referral_rewards.load(self._pk)
        return [ReferralReward.from_domain(r) for r in found]

    @classmethod
    def from_domain(cls, referral: referrals.Referral) -> Referral:
        return cls(
            id=to_global_id("Referral", referral.id), _pk=referral.id, code=referral.code,
            status=ReferralStatus(referral.status.value), invited_at=referral.invited_at,
            joined_at=referral.joined_at, converted_at=referral.converted_at,
            first_purchase_on=referral.first_purchase_on,
            window_ends_on=referral.window_ends_on, rule_version=referral.rule_version,
            fraud_flags=[FraudFlag(name=FraudFlagName(f.name.value), explanation=f.explanation)
                         for f in referral.flags],
            review=ReviewState(referral.review.value), review_note=referral.review_note,
            reviewed_at=referral.reviewed_at, reviewed_by=referral.reviewed_by,
            _inviter_id=referral.inviter_id, _invitee_id=referral.invitee_id,
        )


@strawberry.type(description="On a trigger, a reward for a beneficiary.")
class RewardRule:
    trigger: RewardTrigger
    beneficiary: RewardBeneficiary
    points: int
    money_minor: MinorUnits


@strawberry.type(description="A version of the referral programme; one is active.")
class ReferralRules:
    version: int = strawberry.field(description="0: the built-in defaults.")
    rewards: list[RewardRule]
    attribution_window_days: int = strawberry.field(
        description="A first purchase on the join day or the next N-1 days converts.")
    join_grace_hours: int = strawberry.field(
        description="An invitee may have joined at most this long before using the code.")
    max_joins_per_hour: int
    max_joins_per_day: int
    max_invitees_per_fingerprint: int
    currency: str
    created_at: datetime | None

    @classmethod
    def from_domain(cls, rules: referrals.ReferralRules) -> ReferralRules:
        return cls(
            version=rules.version,
            rewards=[RewardRule(trigger=RewardTrigger(r.trigger.value),
                                beneficiary=RewardBeneficiary(r.beneficiary.value),
                                points=r.points, money_minor=r.money_minor)
                     for r in rules.rewards],
            attribution_window_days=rules.attribution_window_days,
            join_grace_hours=rules.join_grace_hours, max_joins_per_hour=rules.max_joins_per_hour,
            max_joins_per_day=rules.max_joins_per_day,
            max_invitees_per_fingerprint=rules.max_invitees_per_fingerprint,
            currency=rules.currency, created_at=rules.created_at,
        )


@strawberry.type(description="The K-factor of one sender cohort (inviters by join month). "
                             "Aggregates only.")
class ReferralKFactorRow:
    cohort: str = strawberry.field(description="UTC month the inviters joined, YYYY-MM.")
    inviters: int = strawberry.field(description="Inviters with >= 1 invitation in the window.")
    invitations: int
    joined: int
    converted: int
    invitations_per_inviter: float | None = strawberry.field(
        description="invitations / inviters.")
    acceptance_rate: float | None = strawberry.field(description="joined / invitations.")
    k_factor: float | None = strawberry.field(
        description="invitationsPerInviter x acceptanceRate = joined / inviters.")
    converted_per_inviter: float | None = strawberry.field(description="converted / inviters.")

    @classmethod
    def from_domain(cls, row: referral_kfactor.KFactor) -> ReferralKFactorRow:
        return cls(cohort=row.cohort, inviters=row.inviters, invitations=row.invitations,
                   joined=row.joined, converted=row.converted,
                   invitations_per_inviter=row.invitations_per_inviter,
                   acceptance_rate=row.acceptance_rate, k_factor=row.k_factor,
                   converted_per_inviter=row.converted_per_inviter)


@strawberry.type(description="What one processing run changed.")
class ProcessReferralsResult:
    as_of: datetime
    converted: int = strawberry.field(description="Referrals newly converted.")
    rewards_granted: int = strawberry.field(description="Rewards newly granted.")
