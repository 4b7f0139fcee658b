from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import BigInteger, and_, bindparam, func, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.clock import utcnow
from domain.members import (
    Channel,
    DuplicateIdentity,
    Identity,
    IdentityKey,
    Member,
    MemberFilter,
    MemberOrder,
    MemberStatus,
    Merge,
    NewMember,
    Profile,
)
from domain.paging import Page, PageRequest
from domain.store.repositories.activity import ActivityRepository, utc_day
from domain.store.repositories.kpi import KpiRepository
from domain.store.repositories.tiers import TIER_COLUMNS, tier_from_row
from domain.store.tables import (
    events,
    member_identities,
    member_merges,
    members,
    tiers,
)
from domain.tiers import Tier

# The columns a members page needs; personal data is selected but never shown to roles
# without the grant (the API decides that).
_MEMBER_COLUMNS = (
    members.c.id, members.c.display_name, members.c.email, members.c.phone, members.c.age_band,
    members.c.region, members.c.occupation, members.c.interests, members.c.channel,
    members.c.joined_at, members.c.first_seen_at, members.c.status, members.c.tier_id,
    members.c.tier_source, members.c.merged_into_id, members.c.lifecycle_stage,
    members.c.lifecycle_as_of,
)


# Plain dict lookups: Enum(value) is slow on a hot path of 100 rows per page.
_CHANNELS = {c.value: c for c in Channel}
_STATUSES = {s.value: s for s in MemberStatus}
_TIER_COLUMNS = tuple(c.label(f"tier_{c.name}") for c in TIER_COLUMNS if c.name != "id")


def _member(row) -> Member:
    return Member(
        id=row.id,
        profile=Profile(display_name=row.display_name, email=row.email, phone=row.phone,
                        age_band=row.age_band, region=row.region, occupation=row.occupation,
                        interests=tuple(row.interests or ())),
        channel=_CHANNELS[row.channel], joined_at=row.joined_at,
        first_seen_at=row.first_seen_at, status=_STATUSES[row.status], tier_id=row.tier_id,
        tier_source=row.tier_source,
        merged_into_id=row.merged_into_id, lifecycle_stage=row.lifecycle_stage,
        lifecycle_as_of=row.lifecycle_as_of,
    )


def _identity(row) -> Identity:
    return Identity(id=row.id, member_id=row.member_id, channel=Channel(row.channel),
                    external_id=row.external_id, created_at=row.created_at)


def _merge(row) -> Merge:
    return Merge(id=row.id, survivor_id=row.survivor_id, merged_id=row.merged_id,
                 moved_identity_ids=tuple(row.moved_identity_ids), actor=row.actor,
                 reason=row.reason, merged_at=row.merged_at, undone_at=row.undone_at,
                 points_moved=row.points_moved, points_returned=row.points_returned,
                 added_badge_ids=tuple(row.added_badge_ids or ()))


def member_conditions(flt: MemberFilter) -> list:
    conditions = []
    if not flt.include_merged:
        conditions.append(members.c.status == MemberStatus.ACTIVE.value)
    if flt.tier_ids:
        conditions.append(members.c.tier_id.in_(flt.tier_ids))
    if flt.channels:
        conditions.append(members.c.channel.in_([str(c) for c in flt.channels]))
    if flt.lifecycle_stages:
        conditions.append(members.c.lifecycle_stage.in_([str(s) for s in flt.lifecycle_stages]))
    if flt.joined_from is not None:
        conditions.append(members.c.joined_at >= flt.joined_from)
    if flt.joined_to is not None:
        conditions.append(members.c.joined_at < flt.joined_to)
    if flt.search:
        pattern = flt.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(members.c.display_name.ilike(f"%{pattern}%", escape="\\"))
    return conditions


class MemberRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, new: NewMember) -> int:
        p = new.profile
        result = await self.conn.execute(members.insert().values(
            display_name=p.display_name, email=p.email, phone=p.phone, age_band=p.age_band,
            region=p.region, occupation=p.occupation, interests=list(p.interests),
            channel=str(new.channel), joined_at=new.joined_at, first_seen_at=new.first_seen_at,
            status=MemberStatus.ACTIVE.value, created_at=new.joined_at,
        ).returning(members.c.id))
        member_id = result.scalar_one()
        for key in new.identities:
            await self.add_identity(member_id, key)
        return member_id

    async def add_identity(self, member_id: int, key: IdentityKey, *,
                           field: str = "identities") -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(member_identities.insert().values(
                    member_id=member_id, channel=str(key.channel), external_id=key.external_id,
                    created_at=utcnow(),
                ))
        except IntegrityError:
            # Lost a race with another request claiming the same identity.
            raise DuplicateIdentity(
                f"{key.channel} identity {key.external_id!r} already belongs to a member",
                field=field,
            ) from None

    async def get(self, member_id: int) -> Member | None:
        row = (await self.conn.execute(
            select(*_MEMBER_COLUMNS).where(members.c.id == member_id)
        )).first()
        return _member(row) if row else None

    async def get_many(self, member_ids) -> dict[int, Member]:
        rows = await self.conn.execute(
            select(*_MEMBER_COLUMNS).where(members.c.id.in_(list(member_ids)))
        )
        return {row.id: _member(row) for row in rows}

    async def page(self, flt: MemberFilter, order: MemberOrder, request: PageRequest, *,
                   with_tiers: bool = False) -> tuple[Page[Member], dict[int, Tier]]:
        """A keyset page of members; with `with_tiers`, their tiers from the same statement."""
        if request.first == 0:
            return Page(items=[], has_next=False), {}
        conditions = member_conditions(flt)
        descending = order is MemberOrder.JOINED_AT_DESC
        if request.after is not None:
            after_time, after_id = request.after
            # Row-value comparison expanded so both SQLite and PostgreSQL use the index.
            if descending:
                conditions.append(or_(members.c.joined_at < after_time,
                                      and_(members.c.joined_at == after_time,
                                           members.c.id < after_id)))
            else:
                conditions.append(or_(members.c.joined_at > after_time,
                                      and_(members.c.joined_at == after_time,
                                           members.c.id > after_id)))
        ordering = ([members.c.joined_at.desc(), members.c.id.desc()] if descending
                    else [members.c.joined_at.asc(), members.c.id.asc()])
        query = select(*_MEMBER_COLUMNS)
        if with_tiers:
            query = (select(*_MEMBER_COLUMNS, *_TIER_COLUMNS)
                     .outerjoin(tiers, tiers.c.id == members.c.tier_id))
        rows = (await self.conn.execute(
            query.where(*conditions).order_by(*ordering).limit(request.first + 1)
        )).all()
        has_next = len(rows) > request.first
        rows = rows[:request.first]
        found_tiers: dict[int, Tier] = {}
        if with_tiers:
            for row in rows:
                if row.tier_id is not None and row.tier_id not in found_tiers:
                    found_tiers[row.tier_id] = tier_from_row(row, prefix="tier_")
        return Page(items=[_member(row) for row in rows], has_next=has_next), found_tiers

    async def count(self, flt: MemberFilter) -> int:
        result = await self.conn.execute(
            select(func.count()).select_from(members).where(*member_conditions(flt))
        )
        return result.scalar_one()

    async def identity_owners(self, keys) -> dict[IdentityKey, int]:
        keys = list(keys)
        owners: dict[IdentityKey, int] = {}
        # Row-value IN lists deeper than a few thousand exhaust PostgreSQL's parser stack.
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            rows = await self.conn.execute(
                select(member_identities.c.channel, member_identities.c.external_id,
                       member_identities.c.member_id)
                .where(tuple_(member_identities.c.channel, member_identities.c.external_id)
                       .in_([(str(k.channel), k.external_id) for k in chunk]))
            )
            owners.update({IdentityKey(_CHANNELS[r.channel], r.external_id): r.member_id
                           for r in rows})
        return owners

    async def identities_of(self, member_ids) -> dict[int, list[Identity]]:
        ids = list(member_ids)
        rows = await self.conn.execute(
            select(member_identities).where(member_identities.c.member_id.in_(ids))
            .order_by(member_identities.c.member_id, member_identities.c.id)
        )
        out: dict[int, list[Identity]] = {m: [] for m in ids}
        for row in rows:
            out[row.member_id].append(_identity(row))
        return out

    async def resolve_active(self, member_ids) -> dict[int, int]:
        """Map each known id to the active member it is (or was merged into)."""
        pending = {m: m for m in member_ids}
        resolved: dict[int, int] = {}
        for _ in range(64):  # merge chains are short; the bound guards against a cycle
            if not pending:
                break
            moved = await self._not_themselves(set(pending.values()))
            following: dict[int, int] = {}
            for asked, at in pending.items():
                if at not in moved:
                    resolved[asked] = at
                elif moved[at] is not None:
                    following[asked] = moved[at]
            pending = following
        return resolved

    async def _not_themselves(self, ids: set[int]) -> dict[int, int | None]:
        """The ids among `ids` that do not stand for themselves: a merged member's id
        with the member it was merged into, an unknown id with None. (Only these come
        back: an import asks for thousands of ids at a time, nearly all plain members.)
        On SQLite the ids travel as one JSON parameter: an expanded IN list costs more to
        build than the query does to run."""
        merged = MemberStatus.MERGED.value
        if self.conn.dialect.name == "sqlite":
            rows = await self.conn.exec_driver_sql(
                "SELECT j.value, m.id, m.merged_into_id FROM json_each(?) AS j"
                " LEFT JOIN members AS m ON m.id = j.value"
                " WHERE m.id IS NULL OR (m.status = ? AND m.merged_into_id IS NOT NULL)",
                (json.dumps(list(ids)), merged))
            return {asked: into if found is not None else None
                    for asked, found, into in rows}
        # On PostgreSQL one array parameter (an IN list of thousands is a new statement
        # to plan for every length).
        asked = select(func.unnest(bindparam("ids", list(ids), type_=postgresql.ARRAY(
            BigInteger))).label("id")).subquery()
        rows = await self.conn.execute(
            select(asked.c.id, members.c.id.label("found"), members.c.merged_into_id)
            .select_from(asked.outerjoin(members, members.c.id == asked.c.id))
            .where(members.c.id.is_(None) | ((members.c.status == merged)
                                             & members.c.merged_into_id.is_not(None))))
        return {row.id: row.merged_into_id if row.found is not None else None for row in rows}

    async def merge(self, *, survivor: Member, merged: Member, actor: str, reason: str,
                    now: datetime) -> Merge:
        identity_ids = (await self.conn.execute(
            select(member_identities.c.id).where(member_identities.c.member_id == merged.id)
        )).scalars().all()
        await self.conn.execute(update(member_identities)
                                .where(member_identities.c.member_id == merged.id)
                                .values(member_id=survivor.id))
        await self.conn.execute(update(events).where(await self._events_of([merged.id]))
                                .values(member_id=survivor.id))
        await self._mark_kpi_dirty([survivor.id, merged.id])
        await ActivityRepository(self.conn).rebuild([survivor.id, merged.id])
        await self.conn.execute(update(members).where(members.c.id == merged.id).values(
            status=MemberStatus.MERGED.value, merged_into_id=survivor.id,
        ))
        # The survivor was first seen when the earlier of the two was.
        if merged.first_seen_at < survivor.first_seen_at:
            await self.conn.execute(update(members).where(members.c.id == survivor.id)
                                    .values(first_seen_at=merged.first_seen_at))
        result = await self.conn.execute(member_merges.insert().values(
            survivor_id=survivor.id, merged_id=merged.id, moved_identity_ids=list(identity_ids),
            actor=actor, reason=reason, merged_at=now,
        ).returning(member_merges.c.id))
        return await self.get_merge(result.scalar_one())

    async def record_followers(self, merge_id: int, *, points_moved: int,
                               added_badge_ids: list[int]) -> None:
        """Note on the merge what followed it to the survivor (points, badge ids)."""
        await self.conn.execute(update(member_merges).where(member_merges.c.id == merge_id)
                                .values(points_moved=points_moved,
                                        added_badge_ids=list(added_badge_ids)))

    async def record_returned(self, merge_id: int, *, points_returned: int) -> None:
        await self.conn.execute(update(member_merges).where(member_merges.c.id == merge_id)
                                .values(points_returned=points_returned))

    async def get_merge(self, merge_id: int) -> Merge | None:
        row = (await self.conn.execute(
            select(member_merges).where(member_merges.c.id == merge_id)
        )).first()
        return _merge(row) if row else None

    async def undo_merge(self, merge: Merge, *, actor: str, now: datetime) -> Merge:
        # Everyone whose events now sit with the survivor because of this merge: the
        # merged member and whoever had been merged into it (and is still).
        family = await self._merged_family(merge.merged_id)
        await self.conn.execute(update(member_identities)
                                .where(member_identities.c.id.in_(merge.moved_identity_ids))
                                .values(member_id=merge.merged_id))
        await self.conn.execute(update(events).where(
            events.c.origin_member_id.in_(family),
            await self._events_of([merge.survivor_id])).values(member_id=merge.merged_id))
        await self._mark_kpi_dirty([merge.survivor_id, merge.merged_id])
        await ActivityRepository(self.conn).rebuild([merge.survivor_id, merge.merged_id])
        await self.conn.execute(update(members).where(members.c.id == merge.merged_id).values(
            status=MemberStatus.ACTIVE.value, merged_into_id=None,
        ))
        await self.conn.execute(update(member_merges).where(member_merges.c.id == merge.id)
                                .values(undone_at=now, undone_by=actor))
        return await self.get_merge(merge.id)

    async def _mark_kpi_dirty(self, member_ids: list[int]) -> None:
        """Events of these members move between them: have the next KPI refresh recompute
        them (and their status and join day) and the days they were active on (called
        before member_days is rebuilt, while it still holds every day that changes)."""
        days = await ActivityRepository(self.conn).days_with_rows(member_ids)
        await KpiRepository(self.conn).mark_dirty(days=days, member_ids=member_ids)

    async def _events_of(self, member_ids: list[int]):
        """Condition: the events of these members (on SQLite through the days they have
        rollup rows on: events are indexed by day, then member)."""
        where = events.c.member_id.in_(member_ids)
        if self.conn.dialect.name == "sqlite":
            days = await ActivityRepository(self.conn).days_with_rows(member_ids)
            where = and_(where, utc_day("sqlite").in_([d.isoformat() for d in days]))
        return where

    async def _merged_family(self, root_id: int) -> list[int]:
        family, frontier = [root_id], [root_id]
        while frontier:
            frontier = list((await self.conn.execute(
                select(members.c.id).where(members.c.merged_into_id.in_(frontier),
                                           members.c.status == MemberStatus.MERGED.value)
            )).scalars())
            family.extend(frontier)
        return family
