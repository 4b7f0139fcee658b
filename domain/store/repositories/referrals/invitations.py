"""Referral invitations: opened, joined, read one by one and in pages."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from domain.paging import Page, PageRequest
from domain.referrals import (
    Fingerprint,
    Flag,
    Referral,
    ReferralCode,
    ReferralFilter,
    ReferralStatus,
    ReviewState,
)
from domain.store.repositories.referrals.base import (
    _REFERRAL_COLUMNS,
    ReferralBase,
    _conditions,
    _referral,
)
from domain.store.tables import referral_codes, referrals


class InvitationsMixin(ReferralBase):
    """Invitations and joins."""

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
