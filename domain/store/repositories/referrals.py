"""Referral codes, invitations, reward rule sets and rewards.

Rewards are granted with INSERT ... SELECT ... ON CONFLICT DO NOTHING on the unique
(referral, beneficiary, trigger) key, so every run, retry or concurrent run of the
processing grants each reward once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime

from sqlalchemy import and_, case, distinct, exists, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.paging import Page, PageRequest
from domain.referral_kfactor import CohortCounts, KFactorWindow
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
from domain.store.tables import (
    UtcDateTime,
    member_days,
    members,
    referral_codes,
    referral_rewards,
    referral_rule_sets,
    referrals,
)

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


class ReferralRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    def _insert(self, table):
        return (postgresql if self.conn.dialect.name == "postgresql" else sqlite).insert(table)

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

    # --- codes ---

    async def lock_member(self, member_id: int) -> None:
        """Serialise code creation and joins per inviter (PostgreSQL row lock; SQLite
        writers are serialised already)."""
        await self.conn.execute(select(members.c.id).where(members.c.id == member_id)
                                .with_for_update())

    async def add_code(self, *, member_id: int, code: str, fingerprint: Fingerprint,
                       expires_at: datetime | None, now: datetime) -> int | None:
        """Insert a code; None when the code text is taken (the caller draws another)."""
        try:
            async with self.conn.begin_nested():
                result = await self.conn.execute(referral_codes.insert().values(
                    member_id=member_id, code=code, device_hash=fingerprint.device_hash,
                    ip_hash=fingerprint.ip_hash, created_at=now, expires_at=expires_at,
                ).returning(referral_codes.c.id))
                return result.scalar_one()
        except IntegrityError:
            return None

    async def get_code(self, code_id: int) -> ReferralCode | None:
        row = (await self.conn.execute(
            select(referral_codes).where(referral_codes.c.id == code_id))).first()
        return _code(row) if row else None

    async def find_code(self, code: str) -> ReferralCode | None:
        row = (await self.conn.execute(
            select(referral_codes).where(referral_codes.c.code == code))).first()
        return _code(row) if row else None

    async def active_codes(self, member_id: int, *, now: datetime) -> list[ReferralCode]:
        rows = await self.conn.execute(select(referral_codes).where(
            referral_codes.c.member_id == member_id, referral_codes.c.revoked_at.is_(None),
            (referral_codes.c.expires_at.is_(None)) | (referral_codes.c.expires_at > now)))
        return [_code(row) for row in rows]

    async def revoke_codes(self, code_ids: Iterable[int], *, now: datetime) -> None:
        await self.conn.execute(update(referral_codes)
                                .where(referral_codes.c.id.in_(list(code_ids)))
                                .values(revoked_at=now))

    async def codes_of(self, member_ids: Iterable[int]) -> dict[int, list[ReferralCode]]:
        """Every code of each member, newest first."""
        ids = list(member_ids)
        rows = await self.conn.execute(
            select(referral_codes).where(referral_codes.c.member_id.in_(ids))
            .order_by(referral_codes.c.member_id, referral_codes.c.id.desc()))
        out: dict[int, list[ReferralCode]] = {m: [] for m in ids}
        for row in rows:
            out[row.member_id].append(_code(row))
        return out

    # --- invitations ---

    async def add_invitation(self, *, code: ReferralCode, invited_at: datetime) -> int:
        result = await self.conn.execute(referrals.insert().values(
            code_id=code.id, inviter_id=code.member_id, status=ReferralStatus.INVITED.value,
            invited_at=invited_at, flags=[], review=ReviewState.NONE.value,
        ).returning(referrals.c.id))
        return result.scalar_one()

    async def open_invitation(self, code_id: int) -> int | None:
        """The oldest invitation of a code that nobody has joined with yet."""
        return (await self.conn.execute(
            select(referrals.c.id).where(referrals.c.code_id == code_id,
                                         referrals.c.status == ReferralStatus.INVITED.value)
            .order_by(referrals.c.id).limit(1))).scalar()

    async def join(self, referral_id: int, *, invitee_id: int, joined_at: datetime,
                   window_ends_on: date, rule_version: int, fingerprint: Fingerprint,
                   flags: tuple[Flag, ...]) -> bool:
        """Attach the invitee to an invited referral; False when the invitee was referred
        already (the unique invitee lost a race) or the referral is no longer invited."""
        try:
            async with self.conn.begin_nested():
                result = await self.conn.execute(
                    update(referrals).where(referrals.c.id == referral_id,
                                            referrals.c.status == ReferralStatus.INVITED.value)
                    .values(invitee_id=invitee_id, status=ReferralStatus.JOINED.value,
                            joined_at=joined_at, join_day=joined_at.date(),
                            window_ends_on=window_ends_on, rule_version=rule_version,
                            device_hash=fingerprint.device_hash, ip_hash=fingerprint.ip_hash,
                            flags=[{"name": str(f.name), "explanation": f.explanation}
                                   for f in flags],
                            review=(ReviewState.PENDING if flags else ReviewState.NONE).value))
        except IntegrityError:
            return False
        return result.rowcount == 1

    async def get(self, referral_id: int) -> Referral | None:
        found = await self.get_many([referral_id])
        return found.get(referral_id)

    async def get_many(self, referral_ids: Iterable[int]) -> dict[int, Referral]:
        rows = await self.conn.execute(
            select(*_REFERRAL_COLUMNS).join(referral_codes,
                                            referral_codes.c.id == referrals.c.code_id)
            .where(referrals.c.id.in_(list(referral_ids))))
        return {row.id: _referral(row) for row in rows}

    async def of_invitee(self, invitee_id: int) -> Referral | None:
        referral_id = (await self.conn.execute(select(referrals.c.id).where(
            referrals.c.invitee_id == invitee_id))).scalar()
        return await self.get(referral_id) if referral_id is not None else None

    async def page(self, flt: ReferralFilter, request: PageRequest) -> Page[Referral]:
        """Referrals newest first (by id), keyset paged."""
        if request.first == 0:
            return Page(items=[], has_next=False)
        conditions = _conditions(flt)
        if request.after is not None:
            conditions.append(referrals.c.id < request.after[0])
        rows = (await self.conn.execute(
            select(*_REFERRAL_COLUMNS).join(referral_codes,
                                            referral_codes.c.id == referrals.c.code_id)
            .where(*conditions).order_by(referrals.c.id.desc()).limit(request.first + 1)
        )).all()
        return Page(items=[_referral(r) for r in rows[:request.first]],
                    has_next=len(rows) > request.first)

    async def count(self, flt: ReferralFilter) -> int:
        return (await self.conn.execute(select(func.count()).select_from(referrals)
                                        .where(*_conditions(flt)))).scalar_one()

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
