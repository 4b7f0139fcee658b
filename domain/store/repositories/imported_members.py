"""Members created in bulk by an import (`tierwise import-transactions`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.members import Channel, MemberStatus, Profile
from domain.store.tables import member_identities, members


class ImportedMemberRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def enroll_many(self, *, channel: Channel,
                          customers: Sequence[tuple[str, datetime, Profile]],
                          now: datetime) -> dict[str, int]:
        """Create one member per (external id, joined_at, profile), each holding the
        identity (channel, external id); return the new member ids by external id.

        One statement allocates the ids, one inserts the members and one their
        identities, however many there are. The identities must be free (the caller
        looked them up in this transaction); a concurrent claim fails the transaction.
        """
        if not customers:
            return {}
        ids = await self._allocate_ids(len(customers))
        await self.conn.execute(members.insert(), [{
            "id": member_id, "display_name": p.display_name, "email": p.email,
            "phone": p.phone, "age_band": p.age_band, "region": p.region,
            "occupation": p.occupation, "interests": list(p.interests),
            "channel": str(channel), "joined_at": joined_at, "first_seen_at": joined_at,
            "status": MemberStatus.ACTIVE.value, "created_at": joined_at,
        } for member_id, (_, joined_at, p) in zip(ids, customers, strict=True)])
        await self.conn.execute(member_identities.insert(), [{
            "member_id": member_id, "channel": str(channel), "external_id": external_id,
            "created_at": now,
        } for member_id, (external_id, _, _) in zip(ids, customers, strict=True)])
        return {external_id: member_id
                for member_id, (external_id, _, _) in zip(ids, customers, strict=True)}

    async def _allocate_ids(self, n: int) -> list[int]:
        if self.conn.dialect.name == "postgresql":
            rows = await self.conn.execute(text(
                "SELECT nextval(pg_get_serial_sequence('members', 'id'))"
                " FROM generate_series(1, :n)"), {"n": n})
            return [row[0] for row in rows]
        # SQLite: a writer holds the database lock from BEGIN IMMEDIATE on, so the ids
        # above the current largest are free until it commits.
        floor = (await self.conn.execute(select(func.max(members.c.id)))).scalar() or 0
        return list(range(floor + 1, floor + 1 + n))
