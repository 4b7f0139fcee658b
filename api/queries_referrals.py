"""Referral reads: member rows for operators and analysts, K-factor aggregates for all."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import strawberry

from api.errors import ApiError
from api.relay import Connection, connection, decode_cursor, pk_of
from api.types.referrals import (
    Referral,
    ReferralCode,
    ReferralKFactorRow,
    ReferralRules,
    ReferralStatus,
    ReviewState,
)
from domain import referral_kfactor, referral_program, referrals
from domain.access import Permission
from domain.clock import require_aware, utcnow
from domain.paging import DEFAULT_PAGE_SIZE, PageRequest

MAX_K_FACTOR_DAYS = 3660  # ten years of invitations per query is plenty


@strawberry.input(description="All given conditions must hold.")
class ReferralFilter:
    statuses: list[ReferralStatus] | None = None
    inviter_id: strawberry.ID | None = None
    reviews: list[ReviewState] | None = None


def _filter(flt: ReferralFilter | None) -> referrals.ReferralFilter:
    if flt is None:
        return referrals.ReferralFilter()
    return referrals.ReferralFilter(
        statuses=tuple(referrals.ReferralStatus(s.value) for s in flt.statuses or ()),
        inviter_id=pk_of(flt.inviter_id, "Member", field="filter.inviterId")
        if flt.inviter_id else None,
        reviews=tuple(referrals.ReviewState(r.value) for r in flt.reviews or ()),
    )


@strawberry.type
class ReferralQueries:
    @strawberry.field(description="Referrals, newest first, 100 per page at most.")
    async def referrals(self, info: strawberry.Info, first: int = DEFAULT_PAGE_SIZE,
                        after: str | None = None, filter: ReferralFilter | None = None
                        ) -> Connection[Referral]:
        context = info.context
        context.require(Permission.READ_MEMBERS)
        key = decode_cursor(after, "referrals", (int,)) if after else None
        request = PageRequest(first=first, after=key)
        flt = _filter(filter)
        async with context.db.unit_of_work(write=False) as uow:
            page = await uow.referrals.page(flt, request)

        async def count() -> int:
            async with context.db.unit_of_work(write=False) as uow:
                return await uow.referrals.count(flt)

        return connection([Referral.from_domain(r) for r in page.items],
                          [(r.id,) for r in page.items], kind="referrals",
                          has_next=page.has_next, after=after, count=count)

    @strawberry.field(description="A member's referral codes, newest first.")
    async def referral_codes(self, info: strawberry.Info,
                             member_id: strawberry.ID) -> list[ReferralCode]:
        info.context.require(Permission.READ_MEMBERS)
        pk = pk_of(member_id, "Member", field="memberId")
        async with info.context.db.unit_of_work(write=False) as uow:
            found = await uow.referrals.codes_of([pk])
        now = utcnow()
        return [ReferralCode.from_domain(c, now=now) for c in found[pk]]

    @strawberry.field(description="The active referral rules (version 0: built-in defaults).")
    async def referral_rules(self, info: strawberry.Info) -> ReferralRules:
        info.context.require(Permission.READ_COMMUNITY)
        async with info.context.db.unit_of_work(write=False) as uow:
            return ReferralRules.from_domain(await referral_program.current_rules(uow))

    @strawberry.field(description="K-factor per sender cohort for invitations created from "
                                  "`from` (inclusive) to `to` (exclusive), UTC days; statuses "
                                  "as of `asOf` (default now). Aggregates only.")
    async def referral_k_factor(self, info: strawberry.Info,
                                from_: Annotated[date, strawberry.argument(name="from")],
                                to: date,
                                as_of: datetime | None = None) -> list[ReferralKFactorRow]:
        info.context.require(Permission.READ_COMMUNITY)
        if to <= from_ or (to - from_).days > MAX_K_FACTOR_DAYS:
            raise ApiError(f"to must be after from and at most {MAX_K_FACTOR_DAYS} days "
                           f"later, got {from_} .. {to}", field="to")
        as_of = require_aware(as_of, field="asOf") if as_of else utcnow()
        window = referral_kfactor.KFactorWindow(start=from_, end=to, as_of=as_of)
        async with info.context.db.unit_of_work(write=False) as uow:
            counts = await uow.referrals.cohort_counts(window)
        return [ReferralKFactorRow.from_domain(referral_kfactor.k_factor(c)) for c in counts]
