from __future__ import annotations

from datetime import datetime

import strawberry

from api.errors import UserError
from api.mutations.common import error_codes, run
from api.relay import pk_of
from api.types.referrals import (
    ProcessReferralsResult,
    Referral,
    ReferralCode,
    ReferralRules,
    ReviewDecision,
    RewardRecipients,
    RewardTrigger,
)
from api.types.scalars import MinorUnits
from domain import referral_program, referrals
from domain.access import Permission
from domain.clock import utcnow

ReferralErrorCode = error_codes(
    "ReferralErrorCode", "UNKNOWN_CODE", "CODE_EXPIRED", "OWN_CODE", "ALREADY_REFERRED",
    "INVITEE_TOO_OLD", "CODE_EXISTS", "MEMBER_MERGED", "NOT_FLAGGED", "ALREADY_REVIEWED")


@strawberry.type
class ReferralUserError(UserError):
    code: ReferralErrorCode


@strawberry.input(description="Where a code was used or created from; stored only as hashes.")
class FingerprintInput:
    device_id: str | None = None
    ip: str | None = None


@strawberry.input
class CreateReferralCodeInput:
    member_id: strawberry.ID
    expires_at: datetime | None = strawberry.field(default=None,
                                                   description="Null: never expires.")
    replace_existing: bool = strawberry.field(
        default=False, description="Retire the member's active code instead of failing "
                                   "with CODE_EXISTS.")
    fingerprint: FingerprintInput | None = strawberry.field(
        default=None, description="The inviter's device/IP, for the shared-fingerprint rule.")


@strawberry.type
class ReferralCodePayload:
    referral_code: ReferralCode | None
    user_errors: list[ReferralUserError]


@strawberry.input
class RecordReferralInvitationInput:
    code: str


@strawberry.input
class RedeemReferralCodeInput:
    code: str = strawberry.field(description="Case, spaces and dashes are ignored.")
    invitee_member_id: strawberry.ID = strawberry.field(
        description="The member just enrolled with createMember.")
    fingerprint: FingerprintInput | None = None


@strawberry.type
class ReferralPayload:
    referral: Referral | None
    user_errors: list[ReferralUserError]


@strawberry.input
class ProcessReferralsInput:
    as_of: datetime | None = strawberry.field(default=None, description="Defaults to now.")


@strawberry.type
class ProcessReferralsPayload:
    result: ProcessReferralsResult | None
    user_errors: list[ReferralUserError]


@strawberry.input
class ReviewReferralInput:
    id: strawberry.ID
    decision: ReviewDecision
    note: str = ""


@strawberry.input
class RewardRuleInput:
    trigger: RewardTrigger
    beneficiary: RewardRecipients
    points: int = 0
    money_minor: MinorUnits = strawberry.field(default=MinorUnits(0))


@strawberry.input
class SetReferralRulesInput:
    # Defaults are the programme's own (domain.referrals.ReferralRules), defined once.
    rewards: list[RewardRuleInput]
    attribution_window_days: int = referrals.DEFAULT_RULES.attribution_window_days
    join_grace_hours: int = referrals.DEFAULT_RULES.join_grace_hours
    max_joins_per_hour: int = referrals.DEFAULT_RULES.max_joins_per_hour
    max_joins_per_day: int = referrals.DEFAULT_RULES.max_joins_per_day
    max_invitees_per_fingerprint: int = referrals.DEFAULT_RULES.max_invitees_per_fingerprint
    currency: str = referrals.DEFAULT_RULES.currency


@strawberry.type
class ReferralRulesPayload:
    rules: ReferralRules | None
    user_errors: list[ReferralUserError]


def _fingerprint(value: FingerprintInput | None) -> referrals.Fingerprint:
    if value is None:
        return referrals.Fingerprint()
    return referrals.fingerprint_of(device_id=value.device_id, ip=value.ip)


def _rules(input: SetReferralRulesInput) -> referrals.ReferralRules:
    return referrals.ReferralRules(
        rewards=referrals.expand_rewards(
            referrals.RewardRule(trigger=referrals.Trigger(r.trigger.value),
                                 recipients=referrals.Recipients(r.beneficiary.value),
                                 points=r.points, money_minor=r.money_minor)
            for r in input.rewards),
        attribution_window_days=input.attribution_window_days,
        join_grace_hours=input.join_grace_hours, max_joins_per_hour=input.max_joins_per_hour,
        max_joins_per_day=input.max_joins_per_day,
        max_invitees_per_fingerprint=input.max_invitees_per_fingerprint,
        currency=input.currency.upper())


def _run(info, use_case):
    return run(info, permission=Permission.WRITE_COMMUNITY, error_type=ReferralUserError,
               codes=ReferralErrorCode, use_case=use_case)


async def _referral(info, use_case) -> ReferralPayload:
    referral, errors = await _run(info, use_case)
    return ReferralPayload(referral=Referral.from_domain(referral) if referral else None,
                           user_errors=errors)


@strawberry.type
class ReferralMutations:
    @strawberry.mutation(description="Give a member a referral code (one active per member).")
    async def create_referral_code(self, info: strawberry.Info,
                                   input: CreateReferralCodeInput) -> ReferralCodePayload:
        now = utcnow()
        code, errors = await _run(info, lambda uow: referral_program.create_code(
            uow=uow, member_id=pk_of(input.member_id, "Member", field="memberId"), now=now,
            actor=info.context.actor, expires_at=input.expires_at,
            replace_existing=input.replace_existing, fingerprint=_fingerprint(input.fingerprint)))
        return ReferralCodePayload(
            referral_code=ReferralCode.from_domain(code, now=now) if code else None,
            user_errors=errors)

    @strawberry.mutation(description="Record an invitation sent with a code (status INVITED).")
    async def record_referral_invitation(self, info: strawberry.Info,
                                         input: RecordReferralInvitationInput
                                         ) -> ReferralPayload:
        return await _referral(info, lambda uow: referral_program.record_invitation(
            uow=uow, code=input.code, now=utcnow(), actor=info.context.actor))

    @strawberry.mutation(description="A new member joins with a code: the referral becomes "
                                     "JOINED, fraud rules run, join rewards are granted "
                                     "(HELD when flagged).")
    async def redeem_referral_code(self, info: strawberry.Info,
                                   input: RedeemReferralCodeInput) -> ReferralPayload:
        return await _referral(info, lambda uow: referral_program.redeem_code(
            uow=uow, code=input.code,
            invitee_id=pk_of(input.invitee_member_id, "Member", field="inviteeMemberId"),
            fingerprint=_fingerprint(input.fingerprint), now=utcnow(),
            actor=info.context.actor))

    @strawberry.mutation(description="Convert referrals whose invitee bought in the "
                                     "attribution window and grant due rewards; idempotent.")
    async def process_referrals(self, info: strawberry.Info,
                                input: ProcessReferralsInput | None = None
                                ) -> ProcessReferralsPayload:
        now = utcnow()
        as_of = (input.as_of if input else None) or now
        result, errors = await _run(info, lambda uow: referral_program.process_referrals(
            uow=uow, as_of=as_of, now=now, actor=info.context.actor))
        return ProcessReferralsPayload(
            result=ProcessReferralsResult(as_of=as_of, converted=result.converted,
                                          rewards_granted=result.rewards_granted)
            if result else None, user_errors=errors)

    @strawberry.mutation(description="Approve or reject a referral held for review (once).")
    async def review_referral(self, info: strawberry.Info,
                              input: ReviewReferralInput) -> ReferralPayload:
        return await _referral(info, lambda uow: referral_program.review_referral(
            uow=uow, referral_id=pk_of(input.id, "Referral", field="id"),
            decision=referrals.Decision(input.decision.value), note=input.note,
            actor=info.context.actor, now=utcnow()))

    @strawberry.mutation(description="Store a new version of the referral rules and make it "
                                     "active; existing referrals keep their version.")
    async def set_referral_rules(self, info: strawberry.Info,
                                 input: SetReferralRulesInput) -> ReferralRulesPayload:
        rules, errors = await _run(info, lambda uow: referral_program.set_rules(
            uow=uow, rules=_rules(input), actor=info.context.actor, now=utcnow()))
        return ReferralRulesPayload(rules=ReferralRules.from_domain(rules) if rules else None,
                                    user_errors=errors)
