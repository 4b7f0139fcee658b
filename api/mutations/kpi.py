"""KPI mutations: refresh the rollups, keep targets and acquisition spend."""

from __future__ import annotations

from datetime import date

import strawberry

from api.errors import UserError
from api.mutations.common import error_codes, run
from api.types.kpi import KpiRefresh, KpiTarget
from api.types.scalars import MinorUnits
from domain import kpi_reports
from domain.access import Permission
from domain.clock import utcnow

KpiErrorCode = error_codes("KpiErrorCode", "AS_OF_IN_FUTURE")


@strawberry.type
class KpiUserError(UserError):
    code: KpiErrorCode


@strawberry.input
class RefreshKpiRollupsInput:
    full: bool = strawberry.field(default=False,
                                  description="Rebuild everything instead of the changed days.")


@strawberry.type
class RefreshKpiRollupsPayload:
    refresh: KpiRefresh | None
    user_errors: list[KpiUserError]


@strawberry.input
class CreateKpiTargetInput:
    name: str
    metric: str = strawberry.field(description="activity_rate, activity_rate:<tier key>, "
                                               "paying_share, period_conversion, "
                                               "repeat_purchase_rate, stickiness, churn_rate, "
                                               "ugc_share.")
    baseline: float = strawberry.field(description="The metric's value on startsOn.")
    goal: float
    starts_on: date
    deadline: date


@strawberry.input
class UpdateKpiTargetInput:
    id: int
    name: str | None = None
    metric: str | None = None
    baseline: float | None = None
    goal: float | None = None
    starts_on: date | None = None
    deadline: date | None = None


@strawberry.input
class DeleteKpiTargetInput:
    id: int


@strawberry.input
class InstallDefaultKpiTargetsInput:
    starts_on: date | None = strawberry.field(default=None, description="Default: today.")


@strawberry.type
class KpiTargetPayload:
    target: KpiTarget | None
    user_errors: list[KpiUserError]


@strawberry.type
class DeleteKpiTargetPayload:
    deleted_id: int | None
    user_errors: list[KpiUserError]


@strawberry.type
class InstallDefaultKpiTargetsPayload:
    targets: list[KpiTarget]
    user_errors: list[KpiUserError]


@strawberry.input
class RecordAcquisitionSpendInput:
    channel: str = strawberry.field(description="wechat, douyin, xiaohongshu, offline, app or "
                                                "referral (referral money rewards are counted "
                                                "automatically; do not record them again).")
    month: date = strawberry.field(description="Any day of the calendar month.")
    amount_minor: MinorUnits = strawberry.field(description="Replaces the month's amount.")


@strawberry.type
class AcquisitionSpend:
    channel: str
    month: date
    amount_minor: MinorUnits


@strawberry.type
class RecordAcquisitionSpendPayload:
    spend: AcquisitionSpend | None
    user_errors: list[KpiUserError]


async def _run(info, use_case):
    return await run(info, permission=Permission.WRITE_COMMUNITY, error_type=KpiUserError,
                     codes=KpiErrorCode, use_case=use_case)


@strawberry.type
class KpiMutations:
    @strawberry.mutation(description="Bring the KPI rollups up to date (incremental: only the "
                                     "days changed since the last run).")
    async def refresh_kpi_rollups(self, info: strawberry.Info, input: RefreshKpiRollupsInput
                                  ) -> RefreshKpiRollupsPayload:
        result, errors = await _run(info, lambda uow: kpi_reports.refresh_kpi_rollups(
            uow=uow, actor=info.context.actor, now=utcnow(), full=input.full))
        return RefreshKpiRollupsPayload(
            refresh=KpiRefresh.from_domain(result) if result else None, user_errors=errors)

    @strawberry.mutation(description="Store a KPI target.")
    async def create_kpi_target(self, info: strawberry.Info, input: CreateKpiTargetInput
                                ) -> KpiTargetPayload:
        target, errors = await _run(info, lambda uow: kpi_reports.create_target(
            uow=uow, name=input.name, metric=input.metric, baseline=input.baseline,
            goal=input.goal, starts_on=input.starts_on, deadline=input.deadline,
            actor=info.context.actor, now=utcnow()))
        return KpiTargetPayload(target=KpiTarget.from_domain(target) if target else None,
                                user_errors=errors)

    @strawberry.mutation(description="Change a KPI target (omitted fields keep their value).")
    async def update_kpi_target(self, info: strawberry.Info, input: UpdateKpiTargetInput
                                ) -> KpiTargetPayload:
        changes = dict(name=input.name, metric=input.metric, baseline=input.baseline,
                       goal=input.goal, starts_on=input.starts_on, deadline=input.deadline)
        target, errors = await _run(info, lambda uow: kpi_reports.update_target(
            uow=uow, target_id=input.id, changes=changes, actor=info.context.actor,
            now=utcnow()))
        return KpiTargetPayload(target=KpiTarget.from_domain(target) if target else None,
                                user_errors=errors)

    @strawberry.mutation(description="Delete a KPI target.")
    async def delete_kpi_target(self, info: strawberry.Info, input: DeleteKpiTargetInput
                                ) -> DeleteKpiTargetPayload:
        deleted, errors = await _run(info, lambda uow: kpi_reports.delete_target(
            uow=uow, target_id=input.id, actor=info.context.actor))
        return DeleteKpiTargetPayload(deleted_id=deleted, user_errors=errors)

    @strawberry.mutation(description="Install DOMAIN.md's targets: core-tier activity rate 30% "
                                     "within 3 months; paying share 5% -> 12% within 6 months.")
    async def install_default_kpi_targets(self, info: strawberry.Info,
                                          input: InstallDefaultKpiTargetsInput
                                          ) -> InstallDefaultKpiTargetsPayload:
        today = utcnow().date()
        created, errors = await _run(info, lambda uow: kpi_reports.install_default_targets(
            uow=uow, starts_on=input.starts_on or today, today=today,
            actor=info.context.actor, now=utcnow()))
        return InstallDefaultKpiTargetsPayload(
            targets=[KpiTarget.from_domain(t) for t in created or []], user_errors=errors)

    @strawberry.mutation(description="Set a channel's acquisition spend for a calendar month "
                                     "(the CAC numerator).")
    async def record_acquisition_spend(self, info: strawberry.Info,
                                       input: RecordAcquisitionSpendInput
                                       ) -> RecordAcquisitionSpendPayload:
        result, errors = await _run(info, lambda uow: kpi_reports.record_acquisition_spend(
            uow=uow, channel=input.channel, month=input.month,
            amount_minor=input.amount_minor, actor=info.context.actor, now=utcnow()))
        spend = (AcquisitionSpend(channel=result[0], month=result[1], amount_minor=result[2])
                 if result else None)
        return RecordAcquisitionSpendPayload(spend=spend, user_errors=errors)
