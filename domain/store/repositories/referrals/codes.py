"""Referral codes: added, found, listed and replaced; the per-inviter lock."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from domain.referrals import Fingerprint, ReferralCode
from domain.store.repositories.referrals.base import ReferralBase, _code
from domain.store.tables import members, referral_codes


class CodesMixin(ReferralBase):
    """Codes and the per-inviter lock."""

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
