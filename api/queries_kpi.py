"""fundingReport: every funding KPI as of a day (aggregates only; investors may read it)."""

from __future__ import annotations

import os
from datetime import date
from typing import Annotated

import strawberry

from api.types.kpi import FundingReport, KpiTarget
from domain import kpi_reports
from domain.access import Permission, Role
from domain.clock import utcnow
from domain.errors import InvalidValue
from domain.kpi import DEFAULT_MIN_GROUP_SIZE
from domain.kpi import report as kpi_report


def min_group_size() -> int:
    """TIERWISE_MIN_GROUP_SIZE (default 10): investor outputs hide smaller groups."""
    raw = os.environ.get("TIERWISE_MIN_GROUP_SIZE", "").strip()
    if not raw:
        return DEFAULT_MIN_GROUP_SIZE
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidValue(f"TIERWISE_MIN_GROUP_SIZE must be a whole number >= 1, got {raw!r}")
    return int(raw)


async def refresh_if_behind(context) -> None:
    """Refresh the KPI rollups first when events arrived since the last refresh (cheap
    when little changed)."""
    async with context.db.unit_of_work(write=False) as uow:
        behind = await kpi_reports.rollups_behind(uow)
    if behind:
        async with context.db.unit_of_work() as uow:
            await kpi_reports.refresh_kpi_rollups(uow=uow, actor=context.actor, now=utcnow())


@strawberry.type
class KpiQueries:
    @strawberry.field(description="Every funding KPI as of the end of asOf (UTC day, not after "
                                  "today), flows over the period [from, to] (default: the 30 "
                                  "days ending asOf; to <= asOf, at most 366 days). Investors "
                                  "get groups smaller than TIERWISE_MIN_GROUP_SIZE (default "
                                  "10) suppressed. Errors: AS_OF_IN_FUTURE, INVALID_PERIOD, "
                                  "INVALID_VALUE.")
    async def funding_report(
        self, info: strawberry.Info, as_of: date,
        from_: Annotated[date | None, strawberry.argument(name="from")] = None,
        to: date | None = None,
        gross_margin: Annotated[float, strawberry.argument(
            description="Share of revenue that is gross profit, in (0, 1]; 1.0 uses revenue "
                        "for payback and ROI.")] = 1.0,
        churn_window_days: Annotated[int, strawberry.argument(
            description="Inactivity window of churnRate, 7-90 days.")] = 30,
        ltv_horizon_weeks: Annotated[float, strawberry.argument(
            description="Horizon of the predictive LTV, in weeks.")] = (
            kpi_report.DEFAULT_HORIZON_WEEKS),
    ) -> FundingReport:
        context = info.context
        context.require(Permission.READ_COMMUNITY)
        today = utcnow().date()
        kpi_reports.check_period(as_of=as_of, start=from_, end=to, today=today)
        investor = context.principal.role == Role.INVESTOR
        options = kpi_report.Options(gross_margin=gross_margin,
                                     horizon_weeks=ltv_horizon_weeks,
                                     min_group_size=min_group_size() if investor else None)
        kpi_reports.check_options(gross_margin=gross_margin, horizon_weeks=ltv_horizon_weeks,
                                  churn_window_days=churn_window_days)
        await refresh_if_behind(context)
        async with context.db.unit_of_work(write=False) as uow:
            report = await kpi_reports.funding_report(
                uow=uow, as_of=as_of, start=from_, end=to, today=today, options=options,
                churn_window_days=churn_window_days)
        if report.ltv.fits_to_store is not None:  # keep the model fits for the next report
            async with context.db.unit_of_work() as uow:
                await kpi_reports.remember_model_fits(uow=uow, report=report, now=utcnow())
        return FundingReport.from_domain(report)

    @strawberry.field(description="The stored KPI targets (assessed in fundingReport.targets).")
    async def kpi_targets(self, info: strawberry.Info) -> list[KpiTarget]:
        info.context.require(Permission.READ_COMMUNITY)
        async with info.context.db.unit_of_work(write=False) as uow:
            return [KpiTarget.from_domain(t) for t in await uow.kpi.targets()]
