"""The funding report: every KPI of the investor pack, from `FundingInputs` (and the
fitted customer-base models), through the one definition of each in `domain.kpi`.

Conventions are those of `domain.kpi.inputs` (UTC days, as-of day inclusive, active =
any event, transaction = purchase day, cohort = month of first activity). Ratios with a
zero denominator are None. With `min_group_size` (investor outputs) every cohort or
segment smaller than it is replaced by a row with `suppressed=True` and no figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from domain.kpi import activity, anomalies, content, conversion, growth, hidden, money, retention
from domain.kpi import targets as target_rules
from domain.kpi.inputs import TRAILING_DAYS, WINDOW_DAYS, FundingInputs, month_start, next_month
from domain.kpi.records import ModelFits, StoredTarget
from domain.models import bgnbd, gamma_gamma
from domain.models.errors import ModelNotFittable
from domain.models.histories import Grouped
from domain.referral_kfactor import CohortCounts, KFactor, k_factor

LTV_AGE_MONTHS = 12  # the historical LTV that LTV/CAC uses: revenue per member by month 12
DEFAULT_HORIZON_WEEKS = 52
DEFAULT_DISCOUNT_RATE = 0.10  # per year, for predictive LTV
DAILY_METRICS = ("active", "purchasers", "revenue", "content")


@dataclass(frozen=True, slots=True)
class Options:
    gross_margin: float = 1.0  # share of revenue that is gross profit; 1.0 = revenue
    horizon_weeks: float = DEFAULT_HORIZON_WEEKS
    annual_discount_rate: float = DEFAULT_DISCOUNT_RATE
    min_group_size: int | None = None  # investors: suppress smaller cohorts and segments


@dataclass(frozen=True, slots=True)
class Segment:
    key: str
    members: int | None
    suppressed: bool = False


@dataclass(frozen=True, slots=True)
class TierActivity:
    tier: str
    members: int | None
    active: int | None
    rate: float | None
    suppressed: bool = False


@dataclass(frozen=True, slots=True)
class Cohort:
    cohort_start: date
    size: int | None
    rates: list[float] | None
    suppressed: bool = False


@dataclass(frozen=True, slots=True)
class Month:
    month: date
    members: int
    new_members: int
    active: int
    revenue_minor: int
    transactions: int
    stickiness: float | None
    arpu_minor: float | None
    complete: bool


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    active: int
    purchasers: int
    revenue_minor: int
    content: int


@dataclass(frozen=True, slots=True)
class Flag:
    day: date
    metric: str
    value: float
    mean: float
    std: float


@dataclass(frozen=True, slots=True)
class ChannelCac:
    channel: str
    spend_minor: int | None
    acquired: int | None
    cac_minor: float | None
    suppressed: bool = False


@dataclass(frozen=True, slots=True)
class CampaignReturn:
    campaign_id: int
    name: str
    responders: int | None
    attributed_revenue_minor: float | None
    cost_minor: int | None
    roi: float | None
    suppressed: bool = False


@dataclass(frozen=True, slots=True)
class CampaignCounts:
    """A campaign's experiment results summed over its variant arms: responders, revenue
    attributed beyond the control's revenue per assigned member, rewards cost."""

    campaign_id: int
    name: str
    responders: int
    attributed_revenue_minor: float
    cost_minor: int


@dataclass(frozen=True, slots=True)
class KFactorRow:
    cohort: str
    inviters: int | None
    invitations: int | None
    joined: int | None
    k_factor: float | None
    suppressed: bool = False


@dataclass(frozen=True, slots=True)
class Ltv:
    historical: list[float]  # [a]: cumulative revenue per member by the end of month a
    historical_at: float | None  # the value LTV/CAC uses (month LTV_AGE_MONTHS or oldest)
    historical_months: int  # months that value covers
    predictive: float | None  # mean expected revenue per buyer over the horizon
    predictive_total: float | None
    buyers: int
    horizon_weeks: float
    annual_discount_rate: float
    bgnbd: bgnbd.BgNbdFit | None
    gamma_gamma: gamma_gamma.GammaGammaFit | None
    unavailable_reason: str | None
    # a fingerprint of the data the fits were made on (histories.Grouped.fingerprint),
    # and whether they were given (stored fits of the same data) rather than fitted now
    fitted_on: str | None = None
    fits_reused: bool = False

    @property
    def fits_to_store(self) -> ModelFits | None:
        """Fits made by this report (not reused), to keep for the next one."""
        if self.fitted_on is None or self.fits_reused or self.bgnbd is None:
            return None
        return ModelFits(bgnbd=self.bgnbd, gamma_gamma=self.gamma_gamma)


# A target is assessed as stored: reach `goal` on `metric` by `deadline`, from `baseline`.
TargetInput = StoredTarget


@dataclass(frozen=True, slots=True)
class TargetResult:
    id: int
    name: str
    metric: str
    baseline: float
    goal: float
    starts_on: date
    deadline: date
    current: float | None
    projected: float | None
    status: target_rules.TargetStatus


@dataclass(frozen=True)
class FundingReport:
    as_of: date
    start: date
    end: date
    gross_margin: float
    min_group_size: int | None
    # members
    members_total: int
    new_members: int
    members_by_channel: list[Segment]
    members_by_tier: list[Segment]
    new_by_channel: list[Segment]
    # activity
    dau: int
    wau: int
    mau: int
    stickiness: float | None  # the as-of calendar month
    activity_rate: float | None
    activity_by_tier: list[TierActivity]
    power_user_curve: list[int]
    # conversion
    payers: int
    paying_share: float | None
    non_paying_at_start: int
    converted: int
    period_conversion: float | None
    purchasers: int
    repeaters: int
    repeat_purchase_rate: float | None
    funnel_steps: list[int]  # members, active (30 days), payers, repeat buyers (period)
    funnel: list[float | None]
    # retention and churn
    cohort_retention: list[Cohort]
    purchase_retention: list[Cohort]
    retention_curve: list[float]
    churn_window_days: int
    churn_at_start: int
    churn_lost: int
    churn_rate: float | None
    # money
    revenue_minor: int
    transactions: int
    period_active: int
    arpu_minor: float | None
    aov_minor: float | None
    monthly_arpu_minor: float | None  # revenue of the 30 days to as-of / MAU
    months: list[Month]
    cmgr_members: float | None
    cmgr_active: float | None
    cmgr_revenue: float | None
    ltv: Ltv
    cac: list[ChannelCac]
    cac_blended_minor: float | None
    ltv_to_cac: float | None
    cac_payback_months: float | None
    campaigns: list[CampaignReturn]
    referral_k_factor: float | None
    referral_cohorts: list[KFactorRow]
    member_content: int
    all_content: int
    ugc_share: float | None
    daily: list[Day]
    anomalies: list[Flag]
    targets: list[TargetResult] = field(default_factory=list)


def _segments(counts: dict[str, int], k: int | None) -> list[Segment]:
    return [Segment(key=key, members=None, suppressed=True) if hidden(n, k)
            else Segment(key=key, members=n) for key, n in sorted(counts.items())]


def _cohorts(matrix, as_of: date, k: int | None) -> tuple[list[Cohort], list[float]]:
    active = np.zeros((len(matrix.cohorts), max((len(r) for r in matrix.active), default=0)),
                      dtype=np.int64)
    for c, row in enumerate(matrix.active):
        active[c, :len(row)] = row
    observable = np.array([len(r) for r in matrix.active], dtype=np.int64)
    rows = retention.cohort_retention(active, observable=observable)
    out = [Cohort(cohort_start=matrix.cohorts[r.cohort], size=None, rates=None, suppressed=True)
           if hidden(r.size, k) else
           Cohort(cohort_start=matrix.cohorts[r.cohort], size=r.size, rates=r.rates)
           for r in rows]
    return out, retention.retention_curve(rows)


def _month_complete(month: date, as_of: date) -> bool:
    return next_month(month) - timedelta(days=1) <= as_of


def historical_ltv(inputs: FundingInputs) -> tuple[list[float], float | None, int]:
    """Cumulative revenue per member by months since first activity (complete months
    only), and the value at LTV_AGE_MONTHS (or the oldest complete age) with its age."""
    m = inputs.activity_cohorts
    complete = [sum(_month_complete(month, inputs.as_of)
                    for month in _span(cohort, len(row)))
                for cohort, row in zip(m.cohorts, m.active, strict=True)]
    revenue, members = money.revenue_by_age(m.revenue, [r[0] for r in m.active],
                                            complete=complete)
    curve = money.historical_ltv(revenue, members_by_age=members)
    if not curve:
        return [], None, 0
    months = min(LTV_AGE_MONTHS, len(curve))
    return curve, curve[months - 1], months


def _span(cohort: date, n: int) -> list[date]:
    out, month = [], cohort
    for _ in range(n):
        out.append(month)
        month = next_month(month)
    return out


def predictive_ltv(history: Grouped | None, options: Options, *,
                   unavailable: str | None = None, fits: ModelFits | None = None,
                   start: ModelFits | None = None) -> tuple:
    """BG/NBD (transactions) x Gamma-Gamma (value) fitted on buyers' purchase days up to
    the as-of day, time unit weeks: each buyer's expected revenue over the next
    `horizon_weeks`, discounted at `annual_discount_rate`. Returns (mean per buyer,
    total, fits, reason when not fittable).

    The buyers come grouped by (x, t_x, T) (`histories.Grouped`): each triple's value is
    its count times the value of a buyer with the triple's mean spend (expected spend is
    affine in the mean), so the sum equals the per-buyer sum. `fits` are fits already
    made on these data (skipped here); otherwise the optimisers start from `start`."""
    if history is None or len(history) == 0:
        return None, None, None, None, unavailable or "no member has a purchase by asOf"
    try:
        if fits is not None:
            fit, spend_fit = fits.bgnbd, fits.gamma_gamma
        else:
            fit = bgnbd.fit(history.frequency, history.recency, history.age,
                            weights=history.count, start=start.bgnbd.params if start else None)
            spend_fit = gamma_gamma.fit(history.spend_frequency, history.spend_monetary,
                                        start=start.gamma_gamma.params if start else None)
        values = gamma_gamma.predictive_ltv(
            fit.params, spend_fit.params, frequency=history.frequency,
            recency=history.recency, age=history.age, monetary=history.monetary,
            horizon_weeks=options.horizon_weeks,
            annual_discount_rate=options.annual_discount_rate)
    except ModelNotFittable as error:
        return None, None, None, None, error.message
    total = bgnbd.dot(history.count, values)
    return total / len(history), total, fit, spend_fit, None


def assess_target(target: TargetInput, current: float | None, as_of: date) -> TargetResult:
    """Status of a stored target: the projection is the straight line through the
    baseline on `starts_on` and the current value on the as-of day, evaluated on the
    deadline (targets.assess decides on track / at risk / off track, met / missed).
    Churn is better lower; every other metric higher."""
    if current is None:
        assessment = target_rules.Assessment(current=None, projected=None,
                                             status=target_rules.TargetStatus.NO_DATA)
    else:
        elapsed = (as_of - target.starts_on).days
        days, values = ([0, elapsed], [target.baseline, current]) if elapsed > 0 else (
            [0], [current])
        assessment = target_rules.assess(
            baseline=target.baseline, goal=target.goal, days=np.array(days),
            values=np.array(values), as_of_day=elapsed,
            deadline_day=(target.deadline - target.starts_on).days,
            higher_is_better=not target.metric.startswith("churn_rate"))
    return TargetResult(id=target.id, name=target.name, metric=target.metric,
                        baseline=target.baseline, goal=target.goal, starts_on=target.starts_on,
                        deadline=target.deadline, current=assessment.current,
                        projected=assessment.projected, status=assessment.status)


def metric_value(report: FundingReport, metric: str) -> float | None:
    """The current value of a target metric: activity_rate, activity_rate:<tier key>,
    paying_share, period_conversion, repeat_purchase_rate, stickiness, churn_rate,
    ugc_share."""
    if metric.startswith("activity_rate:"):
        tier = metric.split(":", 1)[1]
        return next((t.rate for t in report.activity_by_tier if t.tier == tier), None)
    return getattr(report, metric)


TARGET_METRICS = ("activity_rate", "paying_share", "period_conversion", "repeat_purchase_rate",
                  "stickiness", "churn_rate", "ugc_share")


def assemble(inputs: FundingInputs, *, options: Options, history: Grouped | None = None,
             history_unavailable: str | None = None, fits: ModelFits | None = None,
             fit_start: ModelFits | None = None, fitted_on: str | None = None,
             campaigns: list[CampaignCounts] = (), referral_counts: list[CohortCounts] = (),
             targets: list[TargetInput] = ()) -> FundingReport:
    """Every KPI of the report from its inputs (see the module docstring)."""
    k = options.min_group_size
    i = inputs
    # activity by tier
    by_tier = []
    for tier, n in sorted(i.members_by_tier.items()):
        active = i.active_by_tier.get(tier, 0)
        by_tier.append(TierActivity(tier=tier, members=None, active=None, rate=None,
                                    suppressed=True) if hidden(n, k) else
                       TierActivity(tier=tier, members=n, active=active,
                                    rate=activity.activity_rate(active=active, members=n)))
    # months
    months = []
    for idx, m in enumerate(i.months):
        months.append(Month(
            month=m, members=i.month_members[idx], new_members=i.month_new[idx],
            active=i.month_active[idx], revenue_minor=i.month_revenue[idx],
            transactions=i.month_transactions[idx],
            stickiness=activity.stickiness_from_totals(
                dau_sum=i.month_dau_sum[idx], days=i.month_days[idx],
                monthly_active=i.month_active[idx]),
            arpu_minor=money.arpu(revenue_minor=i.month_revenue[idx],
                                  active_members=i.month_active[idx]),
            complete=_month_complete(m, i.as_of)))
    complete = [m for m in months if m.complete][-(LTV_AGE_MONTHS + 1):]
    as_of_month = next((m for m in months if m.month == month_start(i.as_of)), None)
    # cohorts
    cohorts, curve = _cohorts(i.activity_cohorts, i.as_of, k)
    purchase_cohorts, _ = _cohorts(i.purchase_cohorts, i.as_of, k)
    # LTV
    hist_curve, hist_at, hist_months = historical_ltv(i)
    mean_ltv, total_ltv, fit, spend_fit, reason = predictive_ltv(
        history, options, unavailable=history_unavailable, fits=fits, start=fit_start)
    ltv = Ltv(historical=hist_curve, historical_at=hist_at, historical_months=hist_months,
              predictive=mean_ltv, predictive_total=total_ltv,
              buyers=len(history) if history is not None else 0,
              horizon_weeks=options.horizon_weeks,
              annual_discount_rate=options.annual_discount_rate, bgnbd=fit,
              gamma_gamma=spend_fit, unavailable_reason=reason,
              fitted_on=fitted_on if fit is not None else None,
              fits_reused=fits is not None and fit is not None)
    # CAC
    cac = money.cac(acquisition_cost_minor=i.spend_by_channel,
                    new_members=i.acquired_by_channel)
    cac_rows = []
    for channel in sorted(set(i.spend_by_channel) | set(i.acquired_by_channel)):
        acquired = i.acquired_by_channel.get(channel, 0)
        cac_rows.append(ChannelCac(channel=channel, spend_minor=None, acquired=None,
                                   cac_minor=None, suppressed=True) if hidden(acquired, k)
                        else ChannelCac(channel=channel,
                                        spend_minor=i.spend_by_channel.get(channel, 0),
                                        acquired=acquired, cac_minor=cac[channel]))
    window_revenue = int(sum(i.daily_revenue[-WINDOW_DAYS:])) if i.end == i.as_of else None
    monthly_arpu = (money.arpu(revenue_minor=window_revenue, active_members=i.mau)
                    if window_revenue is not None else
                    (as_of_month.arpu_minor if as_of_month else None))
    # campaigns
    campaign_rows = []
    for c in campaigns:
        if hidden(c.responders, k):
            campaign_rows.append(CampaignReturn(c.campaign_id, c.name, None, None, None, None,
                                                suppressed=True))
            continue
        roi = (money.campaign_roi(attributed_revenue_minor=c.attributed_revenue_minor,
                                  gross_margin=options.gross_margin, cost_minor=c.cost_minor))
        campaign_rows.append(CampaignReturn(c.campaign_id, c.name, c.responders,
                                            c.attributed_revenue_minor, c.cost_minor, roi))
    # referral
    kf_rows = []
    for counts in referral_counts:
        row: KFactor = k_factor(counts)
        kf_rows.append(KFactorRow(row.cohort, None, None, None, None, suppressed=True)
                       if hidden(counts.inviters, k) else
                       KFactorRow(row.cohort, row.inviters, row.invitations, row.joined,
                                  row.k_factor))
    overall = k_factor(CohortCounts(
        cohort="all", inviters=sum(c.inviters for c in referral_counts),
        invitations=sum(c.invitations for c in referral_counts),
        joined=sum(c.joined for c in referral_counts),
        converted=sum(c.converted for c in referral_counts)))
    # daily + anomalies
    series = {"active": i.daily_active, "purchasers": i.daily_purchasers,
              "revenue": i.daily_revenue, "content": i.daily_content}
    flags = []
    for metric in DAILY_METRICS:
        for a in anomalies.three_sigma(np.array(series[metric])):
            if a.index >= TRAILING_DAYS:
                flags.append(Flag(day=i.days[a.index], metric=metric, value=a.value,
                                  mean=a.trailing_mean, std=a.trailing_std))
    flags.sort(key=lambda f: (f.day, f.metric))
    daily = [Day(day=i.days[n], active=i.daily_active[n], purchasers=i.daily_purchasers[n],
                 revenue_minor=i.daily_revenue[n], content=i.daily_content[n])
             for n in range(TRAILING_DAYS, len(i.days))]
    historical_cac = cac.get("all")
    funnel_steps = [i.members_total, i.mau, i.payers, i.period_repeaters]
    report = FundingReport(
        as_of=i.as_of, start=i.start, end=i.end, gross_margin=options.gross_margin,
        min_group_size=k, members_total=i.members_total, new_members=i.new_members,
        members_by_channel=_segments(i.members_by_channel, k),
        members_by_tier=_segments(i.members_by_tier, k),
        new_by_channel=_segments(i.new_by_channel, k),
        dau=i.dau, wau=i.wau, mau=i.mau,
        stickiness=as_of_month.stickiness if as_of_month else None,
        activity_rate=activity.activity_rate(active=i.mau, members=i.members_total),
        activity_by_tier=by_tier, power_user_curve=activity.power_user_curve(
            np.repeat(np.arange(1, WINDOW_DAYS + 1), i.power_curve), window_days=WINDOW_DAYS),
        payers=i.payers,
        paying_share=conversion.paying_share(payers=i.payers, members=i.members_total),
        non_paying_at_start=i.non_paying_at_start, converted=i.converted,
        period_conversion=conversion.period_conversion(
            converted=i.converted, non_paying_at_start=i.non_paying_at_start),
        purchasers=i.period_purchasers, repeaters=i.period_repeaters,
        repeat_purchase_rate=conversion.repeat_purchase_rate(
            repeaters=i.period_repeaters, purchasers=i.period_purchasers),
        funnel_steps=funnel_steps, funnel=conversion.funnel(funnel_steps),
        cohort_retention=cohorts, purchase_retention=purchase_cohorts, retention_curve=curve,
        churn_window_days=i.churn_window_days, churn_at_start=i.churn_at_start,
        churn_lost=i.churn_lost,
        churn_rate=retention.churn_rate(lost=i.churn_lost, at_start=i.churn_at_start),
        revenue_minor=i.period_revenue, transactions=i.period_transactions,
        period_active=i.period_active,
        arpu_minor=money.arpu(revenue_minor=i.period_revenue, active_members=i.period_active),
        aov_minor=money.aov(revenue_minor=i.period_revenue, transactions=i.period_transactions),
        monthly_arpu_minor=monthly_arpu, months=months,
        cmgr_members=growth.cmgr([m.members for m in complete]),
        cmgr_active=growth.cmgr([m.active for m in complete]),
        cmgr_revenue=growth.cmgr([m.revenue_minor for m in complete]),
        ltv=ltv, cac=cac_rows, cac_blended_minor=historical_cac,
        ltv_to_cac=money.ltv_to_cac(ltv_minor=hist_at, cac_minor=historical_cac),
        cac_payback_months=money.cac_payback_months(
            cac_minor=historical_cac, monthly_arpu_minor=monthly_arpu,
            gross_margin=options.gross_margin),
        campaigns=campaign_rows, referral_k_factor=overall.k_factor, referral_cohorts=kf_rows,
        member_content=i.member_content, all_content=i.all_content,
        ugc_share=content.ugc_share(member_content=i.member_content, all_content=i.all_content),
        daily=daily, anomalies=flags)
    results = [assess_target(t, metric_value(report, t.metric), i.as_of) for t in targets]
    return FundingReport(**{**{f: getattr(report, f) for f in report.__dataclass_fields__},
                            "targets": results})
