from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.events import Event, EventType
from domain.members import Channel
from domain.paging import Page, PageRequest
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
            "origin_member_id": e.member_id, "type": e.type.value,
            "occurred_at": e.occurred_at, "amount_minor": e.amount_minor,
            "channel": e.channel.value if e.channel else None, "properties": e.properties,
            "received_at": received_at,
        } for e in batch]
        statement = (self._insert().on_conflict_do_nothing(index_elements=["external_id"])
                     .returning(events.c.id))
        result = await self.conn.execute(statement, rows)
        return len(result.all())

    async def page_for_member(self, member_id: int, request: PageRequest
                              ) -> Page[tuple[int, Event]]:
        """A member's events, newest first, keyed by (occurred_at, id)."""
        if request.first == 0:
            return Page(items=[], has_next=False)
        query = select(events).where(events.c.member_id == member_id)
        if request.after is not None:
            at, event_id = request.after
            query = query.where(or_(events.c.occurred_at < at,
                                    and_(events.c.occurred_at == at, events.c.id < event_id)))
        rows = (await self.conn.execute(
            query.order_by(events.c.occurred_at.desc(), events.c.id.desc())
            .limit(request.first + 1)
        )).all()
        return Page(items=[(r.id, _event(r)) for r in rows[:request.first]],
                    has_next=len(rows) > request.first)
