"""The funding report: every KPI of the investor pack, from `FundingInputs` (and the
fitted customer-base models), through the one definition of each in `domain.kpi`.

Conventions are those of `domain.kpi.inputs` (UTC days, as-of day inclusive, active =
any event, transaction = purchase day, cohort = month of first activity). Ratios with a
zero denominator are None. With `min_group_size` (investor outputs) every cohort or
segment smaller than it is replaced by a row with `suppressed=True` and no figures.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import numpy as np

from domain.kpi import activity, anomalies, content, conversion, growth, hidden, money, retention
from domain.kpi import targets as target_rules
from domain.kpi.inputs import TRAILING_DAYS, WINDOW_DAYS, FundingInputs, month_start, next_month
from domain.kpi.records import ModelFits
from domain.kpi.report_values import (  # noqa: F401 (re-exported)
    DEFAULT_DISCOUNT_RATE,
    DEFAULT_HORIZON_WEEKS,
    CampaignCounts,
    CampaignReturn,
    ChannelCac,
    Cohort,
    Day,
    Flag,
    FundingReport,
    KFactorRow,
    Ltv,
    Month,
    Options,
    Segment,
    TargetInput,
    TargetResult,
    TierActivity,
)
from domain.models import bgnbd, gamma_gamma
from domain.models.errors import ModelNotFittable
from domain.models.histories import Grouped
from domain.referral_kfactor import CohortCounts, KFactor, k_factor

LTV_AGE_MONTHS = 12  # the historical LTV that LTV/CAC uses: revenue per member by month 12
DAILY_METRICS = ("active", "purchasers", "revenue", "content")


def _segments(counts: dict[str, int], k: int | None) -> list[Segment]:
    return [Segment(key=key, members=None, suppressed=True) if hidden(n, k)
            else Segment(key=key, members=n) for key, n in sorted(counts.items())]


def _cohorts(matrix, as_of: date, k: int | None) -> tuple[list[Cohort], list[float]]:
    active = np.zeros((len(matrix.cohorts), max((len(r) for r in matrix.active), default=0)),
                      dtype=np.int64)
    for c, row in enumerate(matrix.active):
        active[c, :len(row)] = row
    # complete months only (a partly elapsed as-of month is censored, not a low rate);
    # the as-of month's own cohort keeps its month 0 (100 % by construction)
    observable = np.array([max(1, _complete_months(cohort, len(row), as_of))
                           for cohort, row in zip(matrix.cohorts, matrix.active, strict=True)],
                          dtype=np.int64)
    rows = retention.cohort_retention(active, observable=observable)
    out = [Cohort(cohort_start=matrix.cohorts[r.cohort], size=None, rates=None, suppressed=True)
           if hidden(r.size, k) else
           Cohort(cohort_start=matrix.cohorts[r.cohort], size=r.size, rates=r.rates)
           for r in rows]
    return out, retention.retention_curve(rows)


def _month_complete(month: date, as_of: date) -> bool:
    return next_month(month) - timedelta(days=1) <= as_of


def _complete_months(cohort: date, n: int, as_of: date) -> int:
    """How many of a cohort's first n months have ended by the end of the as-of day."""
    return sum(_month_complete(month, as_of) for month in _span(cohort, n))


def historical_ltv(inputs: FundingInputs) -> tuple[list[float], float | None, int]:
    """Cumulative revenue per member by months since first activity (complete months
    only), and the value at LTV_AGE_MONTHS (or the oldest complete age) with its age."""
    m = inputs.activity_cohorts
    complete = [_complete_months(cohort, len(row), inputs.as_of)
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
    months = _months(i)
    complete = [m for m in months if m.complete][-(LTV_AGE_MONTHS + 1):]
    as_of_month = next((m for m in months if m.month == month_start(i.as_of)), None)
    cohorts, curve = _cohorts(i.activity_cohorts, i.as_of, k)
    purchase_cohorts, _ = _cohorts(i.purchase_cohorts, i.as_of, k)
    ltv = _ltv(i, options, history=history, unavailable=history_unavailable, fits=fits,
               fit_start=fit_start, fitted_on=fitted_on)
    cac = money.cac(acquisition_cost_minor=i.spend_by_channel,
                    new_members=i.acquired_by_channel)
    window_revenue = int(sum(i.daily_revenue[-WINDOW_DAYS:])) if i.end == i.as_of else None
    monthly_arpu = (money.arpu(revenue_minor=window_revenue, active_members=i.mau)
                    if window_revenue is not None else
                    (as_of_month.arpu_minor if as_of_month else None))
    referral_cohorts, overall = _referrals(referral_counts, k)
    historical_cac = cac.get("all")
    # one cohort (members joined by as-of), one window (the period), member-level
    funnel_steps = [i.members_total, i.period_active, i.period_purchasers, i.period_repeaters]
    report = FundingReport(
        as_of=i.as_of, start=i.start, end=i.end, gross_margin=options.gross_margin,
        min_group_size=k, members_total=i.members_total, new_members=i.new_members,
        members_by_channel=_segments(i.members_by_channel, k),
        members_by_tier=_segments(i.members_by_tier, k),
        new_by_channel=_segments(i.new_by_channel, k),
        dau=i.dau, wau=i.wau, mau=i.mau,
        stickiness=as_of_month.stickiness if as_of_month else None,
        activity_rate=activity.activity_rate(active=i.mau, members=i.members_total),
        activity_by_tier=_tier_activity(i, k), power_user_curve=activity.power_user_curve(
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
        ltv=ltv, cac=_cac_rows(i, cac, k), cac_blended_minor=historical_cac,
        ltv_to_cac=money.ltv_to_cac(ltv_minor=ltv.historical_at, cac_minor=historical_cac),
        cac_payback_months=money.cac_payback_months(
            cac_minor=historical_cac, monthly_arpu_minor=monthly_arpu,
            gross_margin=options.gross_margin),
        campaigns=_campaign_rows(campaigns, options.gross_margin, k),
        referral_k_factor=overall.k_factor, referral_cohorts=referral_cohorts,
        member_content=i.member_content, all_content=i.all_content,
        ugc_share=content.ugc_share(member_content=i.member_content, all_content=i.all_content),
        daily=_daily(i), anomalies=_anomalies(i))
    return replace(report, targets=[assess_target(t, metric_value(report, t.metric), i.as_of)
                                    for t in targets])


def _tier_activity(i: FundingInputs, k: int | None) -> list[TierActivity]:
    """Activity rate per tier (members active in the 30 days to as-of / the tier's
    members), tiers smaller than k suppressed."""
    out = []
    for tier, n in sorted(i.members_by_tier.items()):
        active = i.active_by_tier.get(tier, 0)
        out.append(TierActivity(tier=tier, members=None, active=None, rate=None,
                                suppressed=True) if hidden(n, k) else
                   TierActivity(tier=tier, members=n, active=active,
                                rate=activity.activity_rate(active=active, members=n)))
    return out


def _months(i: FundingInputs) -> list[Month]:
    """One row per calendar month of the inputs, with stickiness and ARPU."""
    return [Month(month=m, members=i.month_members[idx], new_members=i.month_new[idx],
                  active=i.month_active[idx], revenue_minor=i.month_revenue[idx],
                  transactions=i.month_transactions[idx],
                  stickiness=activity.stickiness_from_totals(
                      dau_sum=i.month_dau_sum[idx], days=i.month_days[idx],
                      monthly_active=i.month_active[idx]),
                  arpu_minor=money.arpu(revenue_minor=i.month_revenue[idx],
                                        active_members=i.month_active[idx]),
                  complete=_month_complete(m, i.as_of))
            for idx, m in enumerate(i.months)]


def _ltv(i: FundingInputs, options: Options, *, history: Grouped | None,
         unavailable: str | None, fits: ModelFits | None, fit_start: ModelFits | None,
         fitted_on: str | None) -> Ltv:
    """Historical LTV (cohort revenue per member by age) and predictive LTV (BG/NBD x
    Gamma-Gamma on the buyers' histories)."""
    curve, at, months = historical_ltv(i)
    mean, total, fit, spend_fit, reason = predictive_ltv(
        history, options, unavailable=unavailable, fits=fits, start=fit_start)
    return Ltv(historical=curve, historical_at=at, historical_months=months,
               predictive=mean, predictive_total=total,
               buyers=len(history) if history is not None else 0,
               horizon_weeks=options.horizon_weeks,
               annual_discount_rate=options.annual_discount_rate, bgnbd=fit,
               gamma_gamma=spend_fit, unavailable_reason=reason,
               fitted_on=fitted_on if fit is not None else None,
               fits_reused=fits is not None and fit is not None)


def _cac_rows(i: FundingInputs, cac: dict[str, float | None], k: int | None
              ) -> list[ChannelCac]:
    """CAC per acquisition channel, channels that acquired fewer than k suppressed."""
    out = []
    for channel in sorted(set(i.spend_by_channel) | set(i.acquired_by_channel)):
        acquired = i.acquired_by_channel.get(channel, 0)
        out.append(ChannelCac(channel=channel, spend_minor=None, acquired=None,
                              cac_minor=None, suppressed=True) if hidden(acquired, k)
                   else ChannelCac(channel=channel,
                                   spend_minor=i.spend_by_channel.get(channel, 0),
                                   acquired=acquired, cac_minor=cac[channel]))
    return out


def _campaign_rows(campaigns: list[CampaignCounts], gross_margin: float, k: int | None
                   ) -> list[CampaignReturn]:
    """ROI per campaign, campaigns with fewer than k responders suppressed."""
    out = []
    for c in campaigns:
        if hidden(c.responders, k):
            out.append(CampaignReturn(c.campaign_id, c.name, None, None, None, None,
                                      suppressed=True))
            continue
        roi = money.campaign_roi(attributed_revenue_minor=c.attributed_revenue_minor,
                                 gross_margin=gross_margin, cost_minor=c.cost_minor)
        out.append(CampaignReturn(c.campaign_id, c.name, c.responders,
                                  c.attributed_revenue_minor, c.cost_minor, roi))
    return out


def _referrals(referral_counts: list[CohortCounts], k: int | None
               ) -> tuple[list[KFactorRow], KFactor]:
    """K-factor per inviter cohort (cohorts with fewer than k inviters suppressed) and
    over all cohorts."""
    rows = []
    for counts in referral_counts:
        row: KFactor = k_factor(counts)
        rows.append(KFactorRow(row.cohort, None, None, None, None, suppressed=True)
                    if hidden(counts.inviters, k) else
                    KFactorRow(row.cohort, row.inviters, row.invitations, row.joined,
                               row.k_factor))
    overall = k_factor(CohortCounts(
        cohort="all", inviters=sum(c.inviters for c in referral_counts),
        invitations=sum(c.invitations for c in referral_counts),
        joined=sum(c.joined for c in referral_counts),
        converted=sum(c.converted for c in referral_counts)))
    return rows, overall


def _daily(i: FundingInputs) -> list[Day]:
    """The daily series from the period's first day (the trailing days before it only
    feed the anomaly means)."""
    return [Day(day=i.days[n], active=i.daily_active[n], purchasers=i.daily_purchasers[n],
                revenue_minor=i.daily_revenue[n], content=i.daily_content[n])
            for n in range(TRAILING_DAYS, len(i.days))]


def _anomalies(i: FundingInputs) -> list[Flag]:
    """Days of the period whose value of a daily metric is more than 3 standard
    deviations from its trailing 28-day mean, by day and metric."""
    series = {"active": i.daily_active, "purchasers": i.daily_purchasers,
              "revenue": i.daily_revenue, "content": i.daily_content}
    flags = [Flag(day=i.days[a.index], metric=metric, value=a.value, mean=a.trailing_mean,
                  std=a.trailing_std)
             for metric in DAILY_METRICS for a in anomalies.three_sigma(np.array(series[metric]))
             if a.index >= TRAILING_DAYS]
    flags.sort(key=lambda f: (f.day, f.metric))
    return flags
