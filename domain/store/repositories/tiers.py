from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.clock import utcnow
from domain.members import Channel
from domain.store.tables import members, tier_assignments, tiers
from domain.tiers import AssignmentSource, Tier, TierAssignment, TierSpec, TouchStrategy

TIER_COLUMNS = (tiers.c.id, tiers.c.key, tiers.c.name, tiers.c.rank, tiers.c.description,
                tiers.c.benefits, tiers.c.touch_channel, tiers.c.touch_every_days,
                tiers.c.touch_content)


def tier_from_row(row, *, prefix: str = "") -> Tier:
    """A Tier from a row of TIER_COLUMNS, optionally labelled `<prefix><column>`
    (the id always comes from `<prefix>id`, or `tier_id` when joined from members)."""
    m = row._mapping
    tier_id = m[f"{prefix}id"] if f"{prefix}id" in m else m["tier_id"]
    return Tier(
        id=tier_id, key=m[f"{prefix}key"], name=m[f"{prefix}name"], rank=m[f"{prefix}rank"],
        description=m[f"{prefix}description"], benefits=tuple(m[f"{prefix}benefits"] or ()),
        touch=TouchStrategy(channel=Channel(m[f"{prefix}touch_channel"]),
                            every_days=m[f"{prefix}touch_every_days"],
                            content=m[f"{prefix}touch_content"]),
    )


# The advisory lock key of tier moves on PostgreSQL (the bytes of "tier").
_TIER_MOVES_LOCK = 0x74696572


def _tier(row) -> Tier:
    return tier_from_row(row)


def _values(spec: TierSpec) -> dict:
    return dict(key=spec.key, name=spec.name, rank=spec.rank, description=spec.description,
                benefits=list(spec.benefits), touch_channel=str(spec.touch.channel),
                touch_every_days=spec.touch.every_days, touch_content=spec.touch.content)


def _assignment(row) -> TierAssignment:
    return TierAssignment(
        id=row.id, member_id=row.member_id, tier_id=row.tier_id,
        previous_tier_id=row.previous_tier_id, source=AssignmentSource(row.source),
        model_version=row.model_version, actor=row.actor, reason=row.reason,
        assigned_at=row.assigned_at,
    )


class TierRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, spec: TierSpec) -> int:
        now = utcnow()
        result = await self.conn.execute(
            tiers.insert().values(**_values(spec), created_at=now, updated_at=now)
            .returning(tiers.c.id)
        )
        return result.scalar_one()

    async def update(self, tier_id: int, spec: TierSpec) -> None:
        await self.conn.execute(
            update(tiers).where(tiers.c.id == tier_id).values(**_values(spec),
                                                                updated_at=utcnow())
        )

    async def get(self, tier_id: int) -> Tier | None:
        row = (await self.conn.execute(select(tiers).where(tiers.c.id == tier_id))).first()
        return _tier(row) if row else None

    async def get_many(self, tier_ids) -> dict[int, Tier]:
        rows = await self.conn.execute(select(tiers).where(tiers.c.id.in_(list(tier_ids))))
        return {row.id: _tier(row) for row in rows}

    async def list(self) -> list[Tier]:
        rows = await self.conn.execute(select(tiers).order_by(tiers.c.rank))
        return [_tier(row) for row in rows]

    async def lock_moves(self, *, member_id: int | None = None) -> None:
        """Serialise tier moves with the ones other transactions are making, before
        reading anything a move is decided on.

        PostgreSQL: a whole re-tiering (`member_id` None) takes the tier-moves lock
        exclusively; a move of one member takes it shared and locks that member's row.
        Moves of different members run side by side, a re-tiering waits for them (and
        they for it), and two moves of one member never both read the same previous
        tier. The locks last until the transaction ends. SQLite: nothing to do, a
        writing unit of work holds the database's write lock from BEGIN IMMEDIATE.
        """
        if self.conn.dialect.name != "postgresql":
            return
        if member_id is None:
            await self.conn.execute(select(func.pg_advisory_xact_lock(_TIER_MOVES_LOCK)))
            return
        await self.conn.execute(select(func.pg_advisory_xact_lock_shared(_TIER_MOVES_LOCK)))
        await self.conn.execute(select(members.c.id).where(members.c.id == member_id)
                                .with_for_update())

    async def assign(self, *, member_id: int, tier_id: int | None, previous_tier_id: int | None,
                     source: AssignmentSource, model_version: int | None, actor: str,
                     reason: str, at: datetime) -> int:
        result = await self.conn.execute(tier_assignments.insert().values(
            member_id=member_id, tier_id=tier_id, previous_tier_id=previous_tier_id,
            source=str(source), model_version=model_version, actor=actor, reason=reason,
            assigned_at=at,
        ).returning(tier_assignments.c.id))
        await self.conn.execute(update(members).where(members.c.id == member_id).values(
            tier_id=tier_id, tier_source=str(source),
        ))
        return result.scalar_one()

    async def get_assignment(self, assignment_id: int) -> TierAssignment | None:
        row = (await self.conn.execute(
            select(tier_assignments).where(tier_assignments.c.id == assignment_id)
        )).first()
        return _assignment(row) if row else None

    async def history(self, member_ids) -> dict[int, list[TierAssignment]]:
        """Assignments per member, newest first."""
        rows = await self.conn.execute(
            select(tier_assignments)
            .where(tier_assignments.c.member_id.in_(list(member_ids)))
            .order_by(tier_assignments.c.assigned_at.desc(), tier_assignments.c.id.desc())
        )
        out: dict[int, list[TierAssignment]] = {m: [] for m in member_ids}
        for row in rows:
            out[row.member_id].append(_assignment(row))
        return out

    async def member_counts(self, tier_ids) -> dict[int, int]:
        """Active members currently in each tier."""
        rows = await self.conn.execute(
            select(members.c.tier_id, func.count())
            .where(members.c.tier_id.in_(list(tier_ids)), members.c.status == "active")
            .group_by(members.c.tier_id)
        )
        return {tier_id: count for tier_id, count in rows}
