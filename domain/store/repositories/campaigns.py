from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.campaigns import Campaign, CampaignKind, CampaignSpec, CampaignStatus
from domain.members import Channel
from domain.paging import Page, PageRequest
from domain.store.tables import campaign_status_changes, campaigns


def _campaign(row) -> Campaign:
    return Campaign(
        id=row.id,
        spec=CampaignSpec(
            name=row.name, kind=CampaignKind(row.kind),
            target_tier_ids=tuple(row.target_tier_ids),
            target_channels=tuple(Channel(c) for c in row.target_channels),
            starts_at=row.starts_at, ends_at=row.ends_at, budget_minor=row.budget_minor,
            currency=row.currency,
        ),
        status=CampaignStatus(row.status), created_at=row.created_at, updated_at=row.updated_at,
    )


def _values(spec: CampaignSpec) -> dict:
    return dict(name=spec.name, kind=str(spec.kind), target_tier_ids=list(spec.target_tier_ids),
                target_channels=[str(c) for c in spec.target_channels],
                starts_at=spec.starts_at, ends_at=spec.ends_at, budget_minor=spec.budget_minor,
                currency=spec.currency)


class CampaignRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, spec: CampaignSpec, *, status: CampaignStatus, now: datetime) -> int:
        result = await self.conn.execute(campaigns.insert().values(
            **_values(spec), status=str(status), created_at=now, updated_at=now,
        ).returning(campaigns.c.id))
        return result.scalar_one()

    async def update(self, campaign_id: int, spec: CampaignSpec, *, now: datetime) -> None:
        await self.conn.execute(update(campaigns).where(campaigns.c.id == campaign_id)
                                .values(**_values(spec), updated_at=now))

    async def get(self, campaign_id: int) -> Campaign | None:
        row = (await self.conn.execute(
            select(campaigns).where(campaigns.c.id == campaign_id)
        )).first()
        return _campaign(row) if row else None

    async def get_many(self, campaign_ids) -> dict[int, Campaign]:
        rows = await self.conn.execute(
            select(campaigns).where(campaigns.c.id.in_(list(campaign_ids)))
        )
        return {row.id: _campaign(row) for row in rows}

    async def page(self, *, statuses: tuple[CampaignStatus, ...],
                   request: PageRequest) -> Page[Campaign]:
        """Newest first (id descending)."""
        if request.first == 0:
            return Page(items=[], has_next=False)
        query = select(campaigns)
        if statuses:
            query = query.where(campaigns.c.status.in_([str(s) for s in statuses]))
        if request.after is not None:
            query = query.where(campaigns.c.id < request.after[0])
        rows = (await self.conn.execute(
            query.order_by(campaigns.c.id.desc()).limit(request.first + 1)
        )).all()
        return Page(items=[_campaign(r) for r in rows[:request.first]],
                    has_next=len(rows) > request.first)

    async def set_status(self, campaign_id: int, *, expected: CampaignStatus,
                         to: CampaignStatus, actor: str, now: datetime) -> bool:
        """Compare-and-set the status; False when it was no longer `expected`."""
        result = await self.conn.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id, campaigns.c.status == str(expected))
            .values(status=str(to), updated_at=now)
        )
        if result.rowcount != 1:
            return False
        await self.conn.execute(campaign_status_changes.insert().values(
            campaign_id=campaign_id, from_status=str(expected), to_status=str(to), actor=actor,
            changed_at=now,
        ))
        return True

    async def count(self, *, statuses: tuple[CampaignStatus, ...]) -> int:
        query = select(func.count()).select_from(campaigns)
        if statuses:
            query = query.where(campaigns.c.status.in_([str(s) for s in statuses]))
        return (await self.conn.execute(query)).scalar_one()
