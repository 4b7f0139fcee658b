"""Referral use cases: codes, invitations, joins, conversion, rewards and review.

Each takes plain values and a unit of work, and commits once at its end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain import referrals
from domain.clock import require_aware
from domain.errors import InvalidValue
from domain.members import MemberAlreadyMerged, MemberNotFound, MemberStatus
from domain.points import ledger
from domain.referrals import (
    DEFAULT_RULES,
    Decision,
    Fingerprint,
    Referral,
    ReferralCode,
    ReferralRules,
    ReviewState,
    Trigger,
)

CODE_ATTEMPTS = 5  # a clash of random codes is rare; five in a row is a bug


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """What one processing run changed: referrals converted and rewards newly granted."""

    converted: int
    rewards_granted: int


async def current_rules(uow) -> ReferralRules:
    """The active rule set, or the built-in defaults (version 0) before any is stored."""
    return await uow.referrals.active_rules() or DEFAULT_RULES


async def set_rules(*, uow, rules: ReferralRules, actor: str, now: datetime) -> ReferralRules:
    """Store `rules` as a new version and make it the active one."""
    rules = referrals.check_rules(rules)
    version = await uow.referrals.add_rules(rules, actor=actor, now=now)
    await uow.audit.record(actor=actor, action="referral_rules.set",
                           subject=f"referral_rules:{version}",
                           detail={"rewards": len(rules.rewards)})
    await uow.commit()
    return await current_rules(uow)


async def _member(uow, member_id: int, *, field: str):
    member = await uow.members.get(member_id)
    if member is None:
        raise MemberNotFound(f"member {member_id} does not exist", field=field)
    if member.status is MemberStatus.MERGED:
        raise MemberAlreadyMerged(f"member {member_id} was merged into member "
                                  f"{member.merged_into_id}", field=field)
    return member


async def create_code(*, uow, member_id: int, now: datetime, actor: str,
                      expires_at: datetime | None = None, replace_existing: bool = False,
                      fingerprint: Fingerprint = Fingerprint()) -> ReferralCode:
    """Give a member a new random code. A member has one active code: a second one is
    CodeExists unless `replace_existing`, which retires the old code (it then reads as
    expired)."""
    await _member(uow, member_id, field="memberId")
    if expires_at is not None:
        expires_at = require_aware(expires_at, field="expiresAt")
        if expires_at <= now:
            raise referrals.InvalidReferralInput(
                f"expiresAt {expires_at.isoformat()} is not in the future", field="expiresAt")
    await uow.referrals.lock_member(member_id)
    active = await uow.referrals.active_codes(member_id, now=now)
    if active and not replace_existing:
        raise referrals.CodeExists(f"member {member_id} already has active code "
                                f"{active[0].code}", field="memberId")
    await uow.referrals.revoke_codes([c.id for c in active], now=now)
    for _ in range(CODE_ATTEMPTS):
        code_id = await uow.referrals.add_code(member_id=member_id, code=referrals.new_code(),
                                               fingerprint=fingerprint,
                                               expires_at=expires_at, now=now)
        if code_id is not None:
            break
    else:
        raise RuntimeError(f"{CODE_ATTEMPTS} random referral codes in a row were taken")
    await uow.audit.record(actor=actor, action="referral_code.create",
                           subject=f"member:{member_id}",
                           detail={"codeId": code_id, "replaced": len(active)})
    await uow.commit()
    return await uow.referrals.get_code(code_id)


async def _usable_code(uow, text: str, *, now: datetime) -> ReferralCode:
    code = await uow.referrals.find_code(referrals.normalise_code(text))
    if code is None:
        raise referrals.UnknownCode(f"no referral code {text!r}", field="code")
    referrals.check_code_usable(code, now=now)
    return code


async def record_invitation(*, uow, code: str, now: datetime, actor: str) -> Referral:
    """Record that the owner of `code` sent an invitation (status invited)."""
    found = await _usable_code(uow, code, now=now)
    referral_id = await uow.referrals.add_invitation(code=found, invited_at=now)
    await uow.audit.record(actor=actor, action="referral.invite",
                           subject=f"referral:{referral_id}", detail={"codeId": found.id})
    await uow.commit()
    return await uow.referrals.get(referral_id)


async def redeem_code(*, uow, code: str, invitee_id: int, fingerprint: Fingerprint,
                      now: datetime, actor: str) -> Referral:
    """An invitee joins with a code: the referral becomes joined, fraud rules run, and
    the rule set's join rewards are granted (held when a fraud rule flagged the join)."""
    found = await _usable_code(uow, code, now=now)
    invitee = await _member(uow, invitee_id, field="inviteeMemberId")
    # A code keeps its owner's id after a merge: the member it was merged into owns it too.
    owner = (await uow.members.resolve_active([found.member_id])).get(found.member_id)
    if invitee.id in (found.member_id, owner):
        raise referrals.OwnCode(f"member {invitee.id} cannot use their own code", field="code")
    await uow.referrals.lock_member(found.member_id)  # joins of one inviter in turn
    previous = await uow.referrals.of_invitee(invitee.id)
    if previous is not None:
        raise referrals.AlreadyReferred(f"member {invitee.id} was already referred (referral "
                                     f"{previous.id})", field="inviteeMemberId")
    inviter = await uow.members.get(found.member_id)
    rules = await current_rules(uow)
    referrals.check_invitee_new(invitee_joined_at=invitee.joined_at,
                             inviter_joined_at=inviter.joined_at, used_at=now, rules=rules)
    flags = referrals.fraud_flags(await _facts(uow, inviter, invitee, fingerprint, now), rules)
    referral_id = (await uow.referrals.open_invitation(found.id)
                   or await uow.referrals.add_invitation(code=found, invited_at=now))
    joined = await uow.referrals.join(
        referral_id, invitee_id=invitee.id, joined_at=now,
        window_ends_on=referrals.window_end(now, rules), rule_version=rules.version,
        fingerprint=fingerprint, flags=flags)
    if not joined:  # another request referred the same invitee first
        raise referrals.AlreadyReferred(f"member {invitee.id} was already referred",
                                     field="inviteeMemberId")
    await _grant(uow, rules, Trigger.JOIN, now=now, referral_ids=[referral_id])
    await _pay_points(uow, actor=actor, now=now, referral_ids=[referral_id])
    await uow.audit.record(actor=actor, action="referral.join",
                           subject=f"referral:{referral_id}",
                           detail={"inviteeId": invitee.id,
                                   "flags": [str(f.name) for f in flags]})
    await uow.commit()
    return await uow.referrals.get(referral_id)


async def _facts(uow, inviter, invitee, fingerprint: Fingerprint,
                 now: datetime) -> referrals.FraudFacts:
    identities = await uow.members.identities_of([inviter.id, invitee.id])
    siblings = await uow.referrals.invitees_of(inviter.id)

    def contacts(member):
        return referrals.contact_hashes(email=member.profile.email, phone=member.profile.phone,
                                     external_ids=[i.external_id
                                                   for i in identities[member.id]])

    return referrals.FraudFacts(
        inviter_id=inviter.id, invitee_id=invitee.id, inviter_contacts=contacts(inviter),
        invitee_contacts=contacts(invitee),
        inviter_fingerprints=await uow.referrals.fingerprints_of(inviter.id),
        invitee_fingerprint=fingerprint, sibling_fingerprints=tuple(f for f, _ in siblings),
        sibling_joins=tuple(t for _, t in siblings), joined_at=now,
        inviter_ancestors=await uow.referrals.ancestors(inviter.id),
    )


_STATUS_BY_REVIEW = {review: referrals.reward_status(review) for review in ReviewState}


async def _grant(uow, rules: ReferralRules, trigger: Trigger | None, *, now: datetime,
                 referral_ids: list[int] | None = None) -> int:
    granted = 0
    for spec in rules.rewards:
        if trigger is None or spec.trigger is trigger:
            granted += await uow.referrals.grant(spec=spec, rules=rules,
                                                 status_by_review=_STATUS_BY_REVIEW, now=now,
                                                 referral_ids=referral_ids)
    return granted


async def process_referrals(*, uow, as_of: datetime, now: datetime,
                            actor: str) -> ProcessResult:
    """Convert joined referrals whose invitee bought within the attribution window (by
    `as_of`, from the member_days rollup) and grant every reward that is due and not
    granted yet. Idempotent: running it again, or concurrently, changes nothing more."""
    as_of = require_aware(as_of, field="asOf")
    converted = await uow.referrals.convert_due(as_of=as_of.date(), now=now)
    versions = await uow.referrals.rule_versions_in_use()
    stored = await uow.referrals.rules_versions([v for v in versions if v])
    granted = 0
    for version in versions:
        rules = stored.get(version) if version else DEFAULT_RULES
        if rules is not None:
            granted += await _grant(uow, rules, None, now=now)
    await _pay_points(uow, actor=actor, now=now)
    result = ProcessResult(converted=len(converted), rewards_granted=granted)
    await uow.audit.record(actor=actor, action="referrals.process", subject="referrals",
                           detail={"asOf": as_of.isoformat(), "converted": result.converted,
                                   "rewardsGranted": result.rewards_granted})
    await uow.commit()
    return result


async def review_referral(*, uow, referral_id: int, decision: Decision, note: str,
                          actor: str, now: datetime) -> Referral:
    """Approve (held rewards become payable) or reject (they become rejected) a flagged
    referral; later rewards of the referral follow the decision. A review is final."""
    if len(note) > referrals.MAX_REVIEW_NOTE:
        raise InvalidValue(f"the note has {len(note)} characters; at most "
                           f"{referrals.MAX_REVIEW_NOTE}", field="note")
    referral = await uow.referrals.get(referral_id)
    if referral is None:
        raise referrals.ReferralNotFound(f"referral {referral_id} does not exist", field="id")
    review, reward_status = referrals.review_outcome(referral, decision)
    if not await uow.referrals.set_review(referral_id, to=review, note=note.strip(),
                                          actor=actor, now=now):
        raise referrals.AlreadyReviewed(f"referral {referral_id} was reviewed concurrently",
                                     field="id")
    released = await uow.referrals.release_held(referral_id, to=reward_status, now=now)
    await _pay_points(uow, actor=actor, now=now, referral_ids=[referral_id])
    await uow.audit.record(actor=actor, action="referral.review",
                           subject=f"referral:{referral_id}",
                           detail={"decision": str(decision), "rewards": released})
    await uow.commit()
    return await uow.referrals.get(referral_id)


async def _pay_points(uow, *, actor: str, now: datetime,
                      referral_ids: list[int] | None = None) -> None:
    """Credit payable points rewards to the points ledger (keyed by reward, so once) and
    mark the points-only ones paid; rewards with money stay payable until the payout
    marks them paid (`mark_rewards_paid`)."""
    payable = await uow.referrals.payable_points_rewards(referral_ids)
    await ledger.credit_rewards(uow=uow, actor=actor, now=now, credits=[
        ledger.RewardCredit(member_id=r.member_id, points=r.points, key=f"referral-reward:{r.id}",
                            reason=f"referral {r.referral_id}: {r.trigger} reward")
        for r in payable])
    await uow.referrals.mark_paid([r.id for r in payable if r.money_minor == 0], now=now)


async def mark_rewards_paid(*, uow, reward_ids: list[int], actor: str, now: datetime) -> int:
    """Mark payable rewards paid (the points ledger or a payout calls this); held,
    rejected and already paid rewards are left alone. Returns how many changed."""
    changed = await uow.referrals.mark_paid(reward_ids, now=now)
    await uow.audit.record(actor=actor, action="referral_rewards.paid",
                           subject="referral_rewards", detail={"count": changed})
    await uow.commit()
    return changed

