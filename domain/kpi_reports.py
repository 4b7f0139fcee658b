"""Use cases of the KPI engine: refresh the rollups, build the funding report, keep
targets and acquisition spend. The KPI definitions live in `domain.kpi`."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta

from domain import errors
from domain.experiment_runs import results_of
from domain.experiments import CONTROL
from domain.kpi import report as kpi_report
from domain.kpi.inputs import WINDOW_DAYS, month_start, next_month
from domain.members import Channel
from domain.models import histories as model_histories
from domain.referral_kfactor import KFactorWindow

MAX_PERIOD_DAYS = 366
MIN_CHURN_WINDOW, MAX_CHURN_WINDOW = 7, 90


class KpiError(errors.DomainError):
    """Base of KPI failures."""


class AsOfInFuture(KpiError):
    """The as-of day is after today (UTC): nothing is known about it yet."""

    code = "AS_OF_IN_FUTURE"


class InvalidPeriod(KpiError):
    """from after to, to after asOf, or a period longer than MAX_PERIOD_DAYS."""

    code = "INVALID_PERIOD"


class InvalidTarget(KpiError, errors.InvalidValue):
    """An unknown metric, an empty name, a deadline not after the start."""


class TargetNotFound(KpiError, errors.NotFound):
    """A target id that names no stored target."""


def check_period(*, as_of: date, start: date | None, end: date | None, today: date
                 ) -> tuple[date, date]:
    """The period [start, end]: default end = as_of, start = end - 29 days."""
    if as_of > today:
        raise AsOfInFuture(f"asOf {as_of} is after today ({today}, UTC)", field="asOf")
    end = end or as_of
    start = start or end - timedelta(days=WINDOW_DAYS - 1)
    if start > end:
        raise InvalidPeriod(f"from {start} is after to {end}", field="from")
    if end > as_of:
        raise InvalidPeriod(f"to {end} is after asOf {as_of}", field="to")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidPeriod(f"the period {start}..{end} is longer than {MAX_PERIOD_DAYS} days",
                            field="from")
    return start, end


def check_options(*, gross_margin: float, horizon_weeks: float, churn_window_days: int) -> None:
    if not (math.isfinite(gross_margin) and 0 < gross_margin <= 1):
        raise errors.InvalidValue(f"grossMargin must be in (0, 1], got {gross_margin}",
                                  field="grossMargin")
    if not (math.isfinite(horizon_weeks) and 0 < horizon_weeks <= 520):
        raise errors.InvalidValue(f"ltvHorizonWeeks must be in (0, 520], got {horizon_weeks}",
                                  field="ltvHorizonWeeks")
    if not MIN_CHURN_WINDOW <= churn_window_days <= MAX_CHURN_WINDOW:
        raise errors.InvalidValue(f"churnWindowDays must be {MIN_CHURN_WINDOW}-"
                                  f"{MAX_CHURN_WINDOW}, got {churn_window_days}",
                                  field="churnWindowDays")


async def rollups_behind(uow) -> bool:
    """Have events been added, days or members marked dirty (merges), members added or
    tiers assigned since the last refresh?"""
    state = await uow.kpi.state()
    if state is None:
        return True
    return (await uow.kpi.max_event_id() > state.events_watermark
            or await uow.kpi.has_dirty() or await uow.kpi.members_behind())


async def refresh_kpi_rollups(*, uow, actor: str, now: datetime, full: bool = False):
    """Bring the KPI rollups up to date with member_days (incrementally unless `full`)."""
    result = await uow.kpi.refresh(now=now, full=full)
    await uow.audit.record(actor=actor, action="kpi.refresh", subject="kpi_rollups", detail={
        "full": result.full, "days": result.days, "members": result.members,
        "eventsWatermark": result.events_watermark})
    await uow.commit()
    return result


async def campaign_counts(uow) -> list[kpi_report.CampaignCounts]:
    """Experiment results of every started campaign experiment, summed over variants:
    attributed revenue = each variant's responder revenue minus the control's revenue
    per assigned member times the variant's size (domain.experiments.roi's baseline)."""
    names = await uow.kpi.experiment_campaigns()
    results = await results_of(uow=uow, campaign_ids=list(names))
    out = []
    for cid, arms in sorted(results.items()):
        control = next((a for a in arms if a.arm == CONTROL), None)
        per_member = (control.revenue_minor / control.n) if control and control.n else 0.0
        variants = [a for a in arms if a.arm != CONTROL]
        out.append(kpi_report.CampaignCounts(
            campaign_id=cid, name=names[cid],
            responders=sum(a.responders for a in variants),
            attributed_revenue_minor=sum(a.revenue_minor - a.n * per_member for a in variants),
            cost_minor=sum(a.cost_minor for a in variants)))
    return out


async def funding_report(*, uow, as_of: date, start: date | None = None,
                         end: date | None = None, today: date,
                         options: kpi_report.Options = kpi_report.Options(),
                         churn_window_days: int = WINDOW_DAYS) -> kpi_report.FundingReport:
    """The funding report as of `as_of` over the period [start, end] (read only; refresh
    the rollups first when `rollups_behind`)."""
    start, end = check_period(as_of=as_of, start=start, end=end, today=today)
    check_options(gross_margin=options.gross_margin, horizon_weeks=options.horizon_weeks,
                  churn_window_days=churn_window_days)
    inputs = await uow.kpi.funding_inputs(as_of=as_of, start=start, end=end,
                                          churn_window_days=churn_window_days)
    history = await uow.kpi.purchase_groups(as_of)
    if history is None:  # the rollups hold later days: read member_days up to as_of
        history = model_histories.group(await uow.histories.as_of(as_of, basis="purchases"))
    fitted_on = history.fingerprint() if len(history) else None
    fits = await uow.kpi.model_fits(fitted_on) if fitted_on else None
    fit_start = None if fits or not fitted_on else await uow.kpi.latest_model_fits()
    as_of_time = datetime.combine(as_of + timedelta(days=1), time(), tzinfo=UTC)
    referral = await uow.referrals.cohort_counts(KFactorWindow(
        start=start, end=end + timedelta(days=1), as_of=as_of_time - timedelta(microseconds=1)))
    targets = await uow.kpi.targets()
    return kpi_report.assemble(inputs, options=options, history=history, fits=fits,
                               fit_start=fit_start, fitted_on=fitted_on,
                               campaigns=await campaign_counts(uow), referral_counts=referral,
                               targets=targets)


async def remember_model_fits(*, uow, report: kpi_report.FundingReport, now: datetime) -> bool:
    """Store the model fits a funding report made (keyed by the fingerprint of the data
    they were fitted on) so the next report over the same data reuses them and one over
    changed data starts from them. False (nothing written) when the report reused fits
    or made none."""
    fits = report.ltv.fits_to_store
    if fits is None:
        return False
    await uow.kpi.store_model_fits(fits, fingerprint=report.ltv.fitted_on,
                                   as_of=report.as_of, buyers=report.ltv.buyers, now=now)
    await uow.commit()
    return True


# --- targets ---------------------------------------------------------------------------

async def _check_target(uow, *, name: str, metric: str, baseline: float, goal: float,
                        starts_on: date, deadline: date) -> str:
    if not name.strip():
        raise InvalidTarget("name must not be empty", field="name")
    tier = metric.split(":", 1)[1] if metric.startswith("activity_rate:") else None
    if tier is not None:
        if tier not in await uow.kpi.tier_keys():
            raise InvalidTarget(f"unknown tier {tier!r} in metric {metric!r}", field="metric")
    elif metric not in kpi_report.TARGET_METRICS:
        raise InvalidTarget(f"unknown metric {metric!r}; use one of "
                            f"{', '.join(kpi_report.TARGET_METRICS)} or "
                            "activity_rate:<tier key>", field="metric")
    for label, value in (("baseline", baseline), ("goal", goal)):
        if not math.isfinite(value):
            raise InvalidTarget(f"{label} must be a finite number", field=label)
    if deadline <= starts_on:
        raise InvalidTarget(f"deadline {deadline} must be after startsOn {starts_on}",
                            field="deadline")
    return name.strip()


async def create_target(*, uow, name: str, metric: str, baseline: float, goal: float,
                        starts_on: date, deadline: date, actor: str, now: datetime):
    name = await _check_target(uow, name=name, metric=metric, baseline=baseline, goal=goal,
                               starts_on=starts_on, deadline=deadline)
    target = await uow.kpi.add_target(name=name, metric=metric, baseline=baseline, goal=goal,
                                      starts_on=starts_on, deadline=deadline, now=now)
    await uow.audit.record(actor=actor, action="kpi.target.create",
                           subject=f"kpi_target:{target.id}",
                           detail={"metric": metric, "goal": goal,
                                   "deadline": deadline.isoformat()})
    await uow.commit()
    return target


async def update_target(*, uow, target_id: int, changes: dict, actor: str, now: datetime):
    target = await uow.kpi.get_target(target_id)
    if target is None:
        raise TargetNotFound(f"no KPI target {target_id}", field="id")
    values = {f: getattr(target, f) for f in ("name", "metric", "baseline", "goal",
                                               "starts_on", "deadline")}
    values.update({k: v for k, v in changes.items() if v is not None})
    values["name"] = await _check_target(uow, **values)
    updated = type(target)(id=target.id, **values)
    await uow.kpi.update_target(updated, now=now)
    await uow.audit.record(actor=actor, action="kpi.target.update",
                           subject=f"kpi_target:{target.id}",
                           detail={k: str(v) for k, v in changes.items() if v is not None})
    await uow.commit()
    return updated


async def delete_target(*, uow, target_id: int, actor: str) -> int:
    target = await uow.kpi.get_target(target_id)
    if target is None:
        raise TargetNotFound(f"no KPI target {target_id}", field="id")
    await uow.kpi.delete_target(target_id)
    await uow.audit.record(actor=actor, action="kpi.target.delete",
                           subject=f"kpi_target:{target_id}", detail={"name": target.name})
    await uow.commit()
    return target_id


def _months_later(day: date, months: int) -> date:
    month = month_start(day)
    for _ in range(months):
        month = next_month(month)
    return month.replace(day=1) + timedelta(days=min(day.day, 28) - 1)


async def install_default_targets(*, uow, starts_on: date, today: date, actor: str,
                                  now: datetime) -> list:
    """DOMAIN.md's plan: core-tier activity rate to 30% within 3 months (baseline: the
    core tier's 30-day activity rate on `starts_on`, or 0 without data); paying share
    from 5% to 12% within 6 months. Existing targets of the same name are left alone."""
    if starts_on > today:
        raise AsOfInFuture(f"startsOn {starts_on} is after today ({today}, UTC)",
                           field="startsOn")
    existing = {t.name for t in await uow.kpi.targets()}
    plan = []
    if "core" in await uow.kpi.tier_keys():
        inputs = await uow.kpi.funding_inputs(as_of=starts_on, start=starts_on, end=starts_on)
        members = inputs.members_by_tier.get("core", 0)
        core_rate = inputs.active_by_tier.get("core", 0) / members if members else 0.0
        plan.append(("Core activity rate 30% within 3 months", "activity_rate:core",
                     core_rate, 0.30, _months_later(starts_on, 3)))
    plan.append(("Conversion 5% -> 12% within 6 months", "paying_share", 0.05, 0.12,
                 _months_later(starts_on, 6)))
    created = []
    for name, metric, baseline, goal, deadline in plan:
        if name in existing:
            continue
        created.append(await uow.kpi.add_target(name=name, metric=metric, baseline=baseline,
                                                goal=goal, starts_on=starts_on,
                                                deadline=deadline, now=now))
    await uow.audit.record(actor=actor, action="kpi.target.install_defaults",
                           subject="kpi_targets", detail={"created": [t.id for t in created]})
    await uow.commit()
    return created


# --- acquisition spend -------------------------------------------------------------------

async def record_acquisition_spend(*, uow, channel: str, month: date, amount_minor: int,
                                   actor: str, now: datetime) -> tuple[str, date, int]:
    """Set a channel's acquisition spend for a calendar month (any day of it). Referral
    money rewards are counted automatically; spend recorded for 'referral' is extra
    (e.g. campaign material), not the rewards again."""
    if channel not in {c.value for c in Channel}:
        raise errors.InvalidValue(f"unknown channel {channel!r}", field="channel")
    if amount_minor < 0:
        raise errors.InvalidValue(f"amountMinor must be >= 0, got {amount_minor}",
                                  field="amountMinor")
    month = month_start(month)
    await uow.kpi.record_spend(channel=channel, month=month, amount_minor=amount_minor, now=now)
    await uow.audit.record(actor=actor, action="kpi.spend", subject=f"acquisition:{channel}",
                           detail={"month": month.isoformat(), "amountMinor": amount_minor})
    await uow.commit()
    return channel, month, amount_minor
