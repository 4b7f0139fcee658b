from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.access import Principal, Role
from domain.store.tables import api_tokens


class TokenRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, *, token_hash: str, role: Role, label: str, now: datetime) -> int:
        result = await self.conn.execute(api_tokens.insert().values(
            token_hash=token_hash, role=str(role), label=label, created_at=now,
        ).returning(api_tokens.c.id))
        return result.scalar_one()

    async def find_live(self, token_hash: str) -> Principal | None:
        row = (await self.conn.execute(
            select(api_tokens.c.id, api_tokens.c.role, api_tokens.c.label)
            .where(api_tokens.c.token_hash == token_hash, api_tokens.c.revoked_at.is_(None))
        )).first()
        return Principal(token_id=row.id, role=Role(row.role), label=row.label) if row else None

    async def revoke(self, token_id: int, *, now: datetime) -> bool:
        result = await self.conn.execute(
            update(api_tokens).where(api_tokens.c.id == token_id,
                                     api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return result.rowcount == 1
