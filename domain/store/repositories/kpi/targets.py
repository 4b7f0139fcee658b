"""KPI targets and recorded acquisition spend.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import delete, select, update

from domain.kpi.records import StoredTarget
from domain.store.days import as_date
from domain.store.repositories.kpi.base import KpiBase
from domain.store.tables import acquisition_spend, kpi_targets


class TargetsMixin(KpiBase):
    """KPI targets and acquisition spend."""

    # --- targets and spend ---------------------------------------------------------------

    async def add_target(self, *, name: str, metric: str, baseline: float, goal: float,
                         starts_on: date, deadline: date, now: datetime) -> StoredTarget:
        result = await self.conn.execute(kpi_targets.insert().values(
            name=name, metric=metric, baseline=baseline, goal=goal, starts_on=starts_on,
            deadline=deadline, created_at=now, updated_at=now).returning(kpi_targets.c.id))
        return StoredTarget(id=result.scalar_one(), name=name, metric=metric,
                            baseline=baseline, goal=goal, starts_on=starts_on,
                            deadline=deadline)

    async def get_target(self, target_id: int) -> StoredTarget | None:
        row = (await self.conn.execute(select(kpi_targets)
                                       .where(kpi_targets.c.id == target_id))).first()
        return _target(row) if row else None

    async def targets(self) -> list[StoredTarget]:
        rows = await self.conn.execute(select(kpi_targets).order_by(kpi_targets.c.id))
        return [_target(r) for r in rows]

    async def update_target(self, target: StoredTarget, *, now: datetime) -> None:
        await self.conn.execute(update(kpi_targets).where(kpi_targets.c.id == target.id).values(
            name=target.name, metric=target.metric, baseline=target.baseline, goal=target.goal,
            starts_on=target.starts_on, deadline=target.deadline, updated_at=now))

    async def delete_target(self, target_id: int) -> None:
        await self.conn.execute(delete(kpi_targets).where(kpi_targets.c.id == target_id))

    async def record_spend(self, *, channel: str, month: date, amount_minor: int,
                           now: datetime) -> None:
        """Set (not add to) the channel's acquisition spend for the month."""
        values = dict(amount_minor=amount_minor, updated_at=now)
        statement = self._insert(acquisition_spend).values(channel=channel, month=month,
                                                            **values)
        await self.conn.execute(statement.on_conflict_do_update(
            index_elements=["channel", "month"], set_=values))



def _target(row) -> StoredTarget:
    return StoredTarget(id=row.id, name=row.name, metric=row.metric, baseline=row.baseline,
                        goal=row.goal, starts_on=as_date(row.starts_on),
                        deadline=as_date(row.deadline))
