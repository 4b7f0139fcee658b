"""Simulation runs: one row per run (tables.simulation_runs)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.simulation_runs import ACTIVE, RunProgress, RunStatus, SimulationRun
from domain.store.tables import simulation_runs as runs

_ACTIVE = [str(s) for s in ACTIVE]


def _run(row) -> SimulationRun:
    return SimulationRun(
        id=row.id, status=RunStatus(row.status), scenario=row.scenario, progress=row.progress,
        result=row.result, error=row.error, created_by=row.created_by,
        created_at=row.created_at, started_at=row.started_at, finished_at=row.finished_at,
        cancel_requested_at=row.cancel_requested_at, worker=row.worker,
        heartbeat_at=row.heartbeat_at)


class SimulationRunRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, *, scenario: dict, actor: str, now: datetime) -> int:
        result = await self.conn.execute(runs.insert().values(
            status=str(RunStatus.QUEUED), scenario=scenario, progress=0.0,
            created_by=actor, created_at=now).returning(runs.c.id))
        return result.scalar_one()

    async def get(self, run_id: int, *, for_update: bool = False) -> SimulationRun | None:
        statement = select(runs).where(runs.c.id == run_id)
        if for_update:
            statement = statement.with_for_update()
        row = (await self.conn.execute(statement)).first()
        return _run(row) if row else None

    async def progress_of(self, run_id: int) -> RunProgress | None:
        """Status, progress and error without the scenario and result documents: what the
        progress feed polls several times a second."""
        row = (await self.conn.execute(select(runs.c.status, runs.c.progress, runs.c.error)
                                       .where(runs.c.id == run_id))).first()
        return RunProgress(RunStatus(row.status), row.progress, row.error) if row else None

    async def claim(self, run_id: int, *, worker: str, now: datetime) -> dict | None:
        row = (await self.conn.execute(
            update(runs).where(runs.c.id == run_id, runs.c.status == str(RunStatus.QUEUED))
            .values(status=str(RunStatus.RUNNING), started_at=now, worker=worker,
                    heartbeat_at=now)
            .returning(runs.c.scenario))).first()
        return row.scenario if row else None

    async def progress(self, run_id: int, progress: float, *, now: datetime) -> bool:
        row = (await self.conn.execute(
            update(runs).where(runs.c.id == run_id, runs.c.status == str(RunStatus.RUNNING))
            .values(progress=progress, heartbeat_at=now)
            .returning(runs.c.cancel_requested_at))).first()
        return row is None or row.cancel_requested_at is not None

    async def request_cancel(self, run_id: int, *, now: datetime) -> None:
        await self.conn.execute(update(runs).where(runs.c.id == run_id)
                                .values(cancel_requested_at=now))

    async def finish(self, run_id: int, status: RunStatus, *, now: datetime,
                     result: dict | None = None, error: str | None = None) -> bool:
        values = dict(status=str(status), finished_at=now, result=result, error=error)
        if status == RunStatus.SUCCEEDED:
            values["progress"] = 1.0
        done = await self.conn.execute(
            update(runs).where(runs.c.id == run_id, runs.c.status.in_(_ACTIVE))
            .values(**values))
        return done.rowcount == 1

    async def fail_active(self, reason: str, *, now: datetime) -> list[int]:
        rows = await self.conn.execute(
            update(runs).where(runs.c.status.in_(_ACTIVE))
            .values(status=str(RunStatus.FAILED), error=reason, finished_at=now)
            .returning(runs.c.id))
        return sorted(r.id for r in rows)
