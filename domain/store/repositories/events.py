from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.events import Event, EventType
from domain.members import Channel
from domain.store.tables import events


def _event(row) -> Event:
    return Event(external_id=row.external_id, member_id=row.member_id, type=EventType(row.type),
                 occurred_at=row.occurred_at, amount_minor=row.amount_minor,
                 channel=Channel(row.channel) if row.channel else None,
                 properties=row.properties)


class EventRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    def _insert(self):
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        return dialect.insert(events)

    async def insert_new(self, batch: list[Event], *, received_at: datetime) -> int:
        """Insert events whose external id is unseen; return how many were inserted."""
        rows = [{
            "external_id": e.external_id, "member_id": e.member_id,
            "origin_member_id": e.origin_member_id or e.member_id, "type": e.type.value,
            "occurred_at": e.occurred_at, "amount_minor": e.amount_minor,
            "channel": e.channel.value if e.channel else None, "properties": e.properties,
            "received_at": received_at,
        } for e in batch]
        statement = (self._insert().on_conflict_do_nothing(index_elements=["external_id"])
                     .returning(events.c.id))
        result = await self.conn.execute(statement, rows)
        return len(result.all())

    async def recent_for_members(self, member_ids, *, limit: int
                                 ) -> dict[int, list[tuple[int, Event]]]:
        """Each member's `limit` newest events, for many members in one statement."""
        ranked = select(
            events,
            func.row_number().over(partition_by=events.c.member_id,
                                   order_by=(events.c.occurred_at.desc(), events.c.id.desc()))
            .label("position"),
        ).where(events.c.member_id.in_(list(member_ids))).subquery()
        rows = await self.conn.execute(
            select(ranked).where(ranked.c.position <= limit)
            .order_by(ranked.c.member_id, ranked.c.position)
        )
        out: dict[int, list[tuple[int, Event]]] = {}
        for row in rows:
            out.setdefault(row.member_id, []).append((row.id, _event(row)))
        return out

    async def get(self, event_id: int) -> Event | None:
        row = (await self.conn.execute(select(events).where(events.c.id == event_id))).first()
        return _event(row) if row else None
