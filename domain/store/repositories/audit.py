from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from domain.clock import utcnow
from domain.store.tables import audit_entries


class AuditRepository:
    """Who changed what, when: written in the same transaction as the change."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def record(self, *, actor: str, action: str, subject: str,
                     detail: dict[str, Any]) -> None:
        await self.conn.execute(audit_entries.insert().values(
            actor=actor, action=action, subject=subject, detail=detail, at=utcnow(),
        ))
