"""Stored tier model versions, the members' tier state, and the bulk re-tiering writes.

A run can change a million members, so its writes skip SQLAlchemy's per-row work and go
to the driver in bulk, inside the unit of work's transaction: `executemany` on SQLite,
`UPDATE ... FROM unnest(arrays)` / `INSERT ... SELECT FROM unnest(arrays)` on PostgreSQL
(one round-trip per statement whatever the number of members).
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.paging import Page, PageRequest
from domain.retiering import NO_TIER, Retiering, TierState
from domain.store.repositories.features import fetch_raw
from domain.store.tables import tier_models
from domain.tier_models import TierModel, TierModelSpec

_SQLITE_BATCH = 100_000
_SQLITE_CACHE_KIB = -262_144  # page cache during a re-tiering write: up to 256 MiB
# From this many moved members on, SQLite rebuilds the members indexes on tier_id once
# (a sort) instead of updating them a row at a time (measured: 14 s -> 9 s at 1,000,000).
_REBUILD_INDEXES_FROM = 50_000


def _model(row) -> TierModel:
    return TierModel(id=row.id, version=row.version,
                     spec=TierModelSpec.from_parameters(row.kind, row.parameters),
                     active=row.active, created_by=row.created_by, created_at=row.created_at)


class TierModelRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    @property
    def _postgres(self) -> bool:
        return self.conn.dialect.name == "postgresql"

    async def add(self, spec: TierModelSpec, *, created_by: str, now: datetime) -> int:
        """Store `spec` as the next version (inactive)."""
        version = (await self.conn.execute(
            select(func.coalesce(func.max(tier_models.c.version), 0) + 1))).scalar_one()
        result = await self.conn.execute(tier_models.insert().values(
            version=version, kind=str(spec.kind), parameters=spec.to_parameters(), active=False,
            created_by=created_by, created_at=now,
        ).returning(tier_models.c.id))
        return result.scalar_one()

    async def get(self, model_id: int) -> TierModel | None:
        row = (await self.conn.execute(
            select(tier_models).where(tier_models.c.id == model_id))).first()
        return _model(row) if row else None

    async def get_many(self, model_ids) -> dict[int, TierModel]:
        rows = await self.conn.execute(
            select(tier_models).where(tier_models.c.id.in_(list(model_ids))))
        return {row.id: _model(row) for row in rows}

    async def activate(self, model_id: int) -> None:
        """Make this model the only active one."""
        await self.conn.execute(update(tier_models).where(tier_models.c.active)
                                .values(active=False))
        await self.conn.execute(update(tier_models).where(tier_models.c.id == model_id)
                                .values(active=True, activated_at=datetime.now(UTC)))

    async def page(self, request: PageRequest) -> Page[TierModel]:
        """Newest version first."""
        if request.first == 0:
            return Page(items=[], has_next=False)
        query = select(tier_models)
        if request.after is not None:
            query = query.where(tier_models.c.version < request.after[0])
        rows = (await self.conn.execute(
            query.order_by(tier_models.c.version.desc()).limit(request.first + 1))).all()
        return Page(items=[_model(r) for r in rows[:request.first]],
                    has_next=len(rows) > request.first)

    async def count(self) -> int:
        return (await self.conn.execute(
            select(func.count()).select_from(tier_models))).scalar_one()

    async def tier_state(self) -> TierState:
        """Current tier, manual flag and pending demotion of every active member."""
        since = ("CAST(extract(epoch FROM p.since) AS BIGINT)" if self._postgres
                 else "CAST(strftime('%s', p.since) AS INTEGER)")
        rows = await fetch_raw(self.conn, (
            f"SELECT m.id, coalesce(m.tier_id, {NO_TIER}), "
            "CASE WHEN m.tier_source = 'manual' THEN 1 ELSE 0 END, "
            f"coalesce({since}, -1) FROM members m "
            "LEFT JOIN tier_demotion_pending p ON p.member_id = m.id "
            "WHERE m.status = 'active' ORDER BY m.id"))
        matrix = np.array(rows, dtype=np.int64) if rows else np.zeros((0, 4), dtype=np.int64)
        return TierState(member_ids=matrix[:, 0], tier_ids=matrix[:, 1],
                         manual=matrix[:, 2].astype(bool), pending_since=matrix[:, 3])

    async def write_retiering(self, retiering: Retiering, *, model_version: int, actor: str,
                              reason: str, now: datetime) -> None:
        """Move the members whose tier changes (members row + one history row each) and
        store the pending demotions as they stand after the run."""
        changed = retiering.changed
        ids = retiering.member_ids[changed].tolist()
        new = [None if t == NO_TIER else t for t in retiering.new[changed].tolist()]
        old = [None if t == NO_TIER else t for t in retiering.current[changed].tolist()]
        started = retiering.pending_since >= 0
        # Pending rows to (re)write: new ones, and those whose clock restarts; to delete:
        # any that existed and no longer stand.
        fresh = started & (retiering.pending_since != retiering.pending_before)
        gone = (retiering.pending_before >= 0) & ~started
        fresh_ids = retiering.member_ids[fresh].tolist()
        fresh_since = retiering.pending_since[fresh].tolist()
        gone_ids = retiering.member_ids[gone | fresh & (retiering.pending_before >= 0)].tolist()
        await self.conn.execute(text("SELECT 1"))  # the transaction has begun
        raw = (await self.conn.get_raw_connection()).driver_connection
        writer = _postgres_write if self._postgres else _sqlite_write
        await writer(raw, ids=ids, new=new, old=old, gone_ids=gone_ids, fresh_ids=fresh_ids,
                     fresh_since=fresh_since, version=model_version, actor=actor,
                     reason=reason, now=now)


def _sqlite_time(moment: datetime) -> str:
    # The text UtcDateTime stores on SQLite (naive UTC, microseconds).
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ",
                                                                  timespec="microseconds")


def _batches(rows: list, size: int = _SQLITE_BATCH):
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


async def _sqlite_write(raw, *, ids, **rest) -> None:
    # The default 2 MiB page cache spills a big transaction to the WAL page by page
    # (measured: 157 s for a plain UPDATE of 1,000,000 members, 14 s with 256 MiB).
    before = (await (await raw.execute("PRAGMA cache_size")).fetchone())[0]
    await raw.execute(f"PRAGMA cache_size={_SQLITE_CACHE_KIB}")
    indexes = []
    if len(ids) >= _REBUILD_INDEXES_FROM:  # DDL inside our transaction: all or nothing
        cursor = await raw.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'members' "
            "AND sql LIKE '%tier_id%'")
        indexes = list(await cursor.fetchall())
    try:
        for name, _ in indexes:
            await raw.execute(f'DROP INDEX "{name}"')
        await _sqlite_statements(raw, ids=ids, **rest)
        for _, sql in indexes:
            await raw.execute(sql)
    finally:
        await raw.execute(f"PRAGMA cache_size={int(before)}")


async def _sqlite_statements(raw, *, ids, new, old, gone_ids, fresh_ids, fresh_since, version,
                             actor, reason, now) -> None:
    at = _sqlite_time(now)
    for batch in _batches(list(zip(new, ids, strict=True))):
        await raw.executemany(
            "UPDATE members SET tier_id = ?, tier_source = 'model' WHERE id = ?", batch)
    for batch in _batches(list(zip(ids, new, old, strict=True))):
        await raw.executemany(
            "INSERT INTO tier_assignments (member_id, tier_id, previous_tier_id, source, "
            f"model_version, actor, reason, assigned_at) VALUES (?, ?, ?, 'model', {version}, "
            "?, ?, ?)", [(*row, actor, reason, at) for row in batch])
    for batch in _batches([(i,) for i in gone_ids]):
        await raw.executemany("DELETE FROM tier_demotion_pending WHERE member_id = ?", batch)
    rows = [(i, _sqlite_time(datetime.fromtimestamp(s, UTC)), version)
            for i, s in zip(fresh_ids, fresh_since, strict=True)]
    for batch in _batches(rows):
        await raw.executemany("INSERT INTO tier_demotion_pending (member_id, since, "
                              "model_version) VALUES (?, ?, ?)", batch)


async def _postgres_write(raw, *, ids, new, old, gone_ids, fresh_ids, fresh_since, version,
                          actor, reason, now) -> None:
    if ids:
        await raw.execute(
            "UPDATE members m SET tier_id = v.tier_id, tier_source = 'model' "
            "FROM unnest($1::bigint[], $2::bigint[]) AS v(id, tier_id) WHERE m.id = v.id",
            ids, new)
        await raw.execute(
            "INSERT INTO tier_assignments (member_id, tier_id, previous_tier_id, source, "
            "model_version, actor, reason, assigned_at) "
            "SELECT v.member_id, v.tier_id, v.previous_tier_id, 'model', $4, $5, $6, $7 "
            "FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) "
            "AS v(member_id, tier_id, previous_tier_id)", ids, new, old, version, actor,
            reason, now)
    if gone_ids:
        await raw.execute("DELETE FROM tier_demotion_pending WHERE member_id = ANY($1::bigint[])",
                          gone_ids)
    if fresh_ids:
        await raw.execute(
            "INSERT INTO tier_demotion_pending (member_id, since, model_version) "
            "SELECT v.member_id, to_timestamp(v.since), $3 "
            "FROM unnest($1::bigint[], $2::bigint[]) AS v(member_id, since)",
            fresh_ids, fresh_since, version)
