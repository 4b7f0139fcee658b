"""The funding report over GraphQL: aggregates only (investors may read it)."""

from __future__ import annotations

from datetime import date

import strawberry

from api.types.churn import BgNbdParameters, GammaGammaParameters
from api.types.scalars import MinorUnits
from domain.kpi import report as r
from domain.kpi.records import RefreshResult, StoredTarget
from domain.kpi.targets import TargetStatus as DomainTargetStatus

TargetStatus = strawberry.enum(DomainTargetStatus, name="KpiTargetStatus",
                               description="Where a target stands (see README glossary).")

_SUPPRESSED = "True when the group is smaller than the minimum group size of investor " \
              "outputs: its figures are null."


@strawberry.type(description="Members of one channel or tier.")
class KpiSegment:
    key: str
    members: int | None
    suppressed: bool = strawberry.field(description=_SUPPRESSED)


@strawberry.type(description="Activity rate of one tier: members active in the 30 days to asOf "
                             "/ members of the tier (current tier) joined by asOf.")
class KpiTierActivity:
    tier: str
    members: int | None
    active: int | None
    rate: float | None
    suppressed: bool = strawberry.field(description=_SUPPRESSED)


@strawberry.type(description="One monthly cohort (by month of first activity, or of first "
                             "purchase for purchaseRetention). rates[k]: share of the cohort "
                             "active (purchasing) in the k-th calendar month after its first; "
                             "rates[0] = 1; only complete months: the partly elapsed asOf "
                             "month and later ones are absent (censored).")
class KpiCohort:
    cohort_start: date
    size: int | None
    rates: list[float] | None
    suppressed: bool = strawberry.field(description=_SUPPRESSED)


@strawberry.type(description="One calendar month (up to asOf).")
class KpiMonth:
    month: date
    members: int = strawberry.field(description="Members joined by the month's end.")
    new_members: int
    active: int = strawberry.field(description="MAU of the calendar month.")
    revenue_minor: MinorUnits
    transactions: int = strawberry.field(description="Purchase days.")
    stickiness: float | None = strawberry.field(description="Mean DAU / MAU of the month.")
    arpu_minor: float | None = strawberry.field(description="Revenue / MAU of the month.")
    complete: bool = strawberry.field(description="False for the partly elapsed asOf month.")


@strawberry.type(description="One day of the period.")
class KpiDay:
    date: date
    active: int
    purchasers: int
    revenue_minor: MinorUnits
    content: int = strawberry.field(description="Posts + comments.")


@strawberry.type(description="A daily KPI more than 3 standard deviations (sample std) from "
                             "its trailing 28-day mean.")
class KpiAnomaly:
    date: date
    metric: str = strawberry.field(description="active, purchasers, revenue or content.")
    value: float
    mean: float
    std: float


@strawberry.type(description="CAC of one acquisition channel over the calendar months the "
                             "period touches.")
class KpiChannelCac:
    channel: str
    spend_minor: MinorUnits | None
    acquired: int | None
    cac_minor: float | None
    suppressed: bool = strawberry.field(description=_SUPPRESSED)


@strawberry.type(description="Return of one campaign experiment (variants vs control).")
class KpiCampaignRoi:
    campaign_id: int
    name: str
    responders: int | None
    attributed_revenue_minor: float | None
    cost_minor: MinorUnits | None
    roi: float | None
    suppressed: bool = strawberry.field(description=_SUPPRESSED)


@strawberry.type(description="Referral K-factor of one inviter join-month cohort.")
class KpiReferralCohort:
    cohort: str
    inviters: int | None
    invitations: int | None
    joined: int | None
    k_factor: float | None
    suppressed: bool = strawberry.field(description=_SUPPRESSED)


@strawberry.type(description="Lifetime value: historical (realised) and predictive "
                             "(BG/NBD x Gamma-Gamma, time unit weeks, fitted on buyers' "
                             "purchase days up to asOf).")
class KpiLtv:
    historical: list[float] = strawberry.field(
        description="[a]: cumulative revenue per member by the end of month a after first "
                    "activity (complete months only).")
    historical_at: float | None = strawberry.field(
        description="The LTV used by ltvToCac: historical[historicalMonths - 1].")
    historical_months: int
    predictive: float | None = strawberry.field(
        description="Mean expected revenue per buyer over horizonWeeks, discounted.")
    predictive_total: float | None
    buyers: int
    horizon_weeks: float
    annual_discount_rate: float
    bgnbd: BgNbdParameters | None
    gamma_gamma: GammaGammaParameters | None
    unavailable_reason: str | None = strawberry.field(
        description="Why the predictive LTV is null (model not fittable).")


@strawberry.type(description="A stored KPI target.")
class KpiTarget:
    id: int
    name: str
    metric: str
    baseline: float
    goal: float
    starts_on: date
    deadline: date

    @classmethod
    def from_domain(cls, t: StoredTarget) -> KpiTarget:
        return cls(id=t.id, name=t.name, metric=t.metric, baseline=t.baseline, goal=t.goal,
                   starts_on=t.starts_on, deadline=t.deadline)


@strawberry.type(description="A target as of the report's asOf: projected is the line through "
                             "the baseline on startsOn and the current value, at the deadline.")
class KpiTargetAssessment:
    id: int
    name: str
    metric: str
    baseline: float
    goal: float
    starts_on: date
    deadline: date
    current: float | None
    projected: float | None
    status: TargetStatus


@strawberry.type(description="What one refreshKpiRollups run did.")
class KpiRefresh:
    full: bool
    days: int
    members: int
    events_watermark: int
    latest_day: date | None

    @classmethod
    def from_domain(cls, x: RefreshResult) -> KpiRefresh:
        return cls(full=x.full, days=x.days, members=x.members,
                   events_watermark=x.events_watermark, latest_day=x.latest_day)


def _rows(kind, items):
    return [kind(**{f: getattr(i, f) for f in kind.__annotations__ if hasattr(i, f)},
                 **({"date": i.day} if kind in (KpiDay, KpiAnomaly) else {})) for i in items]


@strawberry.type(description="Every funding KPI as of asOf; see the README's KPI glossary for "
                             "each numerator, denominator and window.")
class FundingReport:
    as_of: date
    from_: date = strawberry.field(name="from")
    to: date
    gross_margin: float
    min_group_size: int | None
    members_total: int
    new_members: int
    members_by_channel: list[KpiSegment]
    members_by_tier: list[KpiSegment]
    new_members_by_channel: list[KpiSegment]
    dau: int
    wau: int
    mau: int
    stickiness: float | None
    activity_rate: float | None
    activity_by_tier: list[KpiTierActivity]
    power_user_curve: list[int]
    payers: int
    paying_share: float | None
    non_paying_at_start: int
    converted: int
    period_conversion: float | None
    purchasers: int
    repeaters: int
    repeat_purchase_rate: float | None
    funnel_steps: list[int]
    funnel: list[float | None]
    cohort_retention: list[KpiCohort]
    purchase_retention: list[KpiCohort]
    retention_curve: list[float]
    churn_window_days: int
    churn_at_start: int
    churn_lost: int
    churn_rate: float | None
    revenue_minor: MinorUnits
    transactions: int
    period_active: int
    arpu_minor: float | None
    aov_minor: float | None
    monthly_arpu_minor: float | None
    months: list[KpiMonth]
    cmgr_members: float | None
    cmgr_active: float | None
    cmgr_revenue: float | None
    ltv: KpiLtv
    cac: list[KpiChannelCac]
    cac_blended_minor: float | None
    ltv_to_cac: float | None
    cac_payback_months: float | None
    campaigns: list[KpiCampaignRoi]
    referral_k_factor: float | None
    referral_cohorts: list[KpiReferralCohort]
    member_content: int
    all_content: int
    ugc_share: float | None
    daily: list[KpiDay]
    anomalies: list[KpiAnomaly]
    targets: list[KpiTargetAssessment]

    @classmethod
    def from_domain(cls, x: r.FundingReport) -> FundingReport:
        plain = {f: getattr(x, f) for f in (
            "as_of", "to", "gross_margin", "min_group_size", "members_total", "new_members",
            "dau", "wau", "mau", "stickiness", "activity_rate", "power_user_curve", "payers",
            "paying_share", "non_paying_at_start", "converted", "period_conversion",
            "purchasers", "repeaters", "repeat_purchase_rate", "funnel_steps", "funnel",
            "retention_curve", "churn_window_days", "churn_at_start", "churn_lost",
            "churn_rate", "revenue_minor", "transactions", "period_active", "arpu_minor",
            "aov_minor", "monthly_arpu_minor", "cmgr_members", "cmgr_active", "cmgr_revenue",
            "cac_blended_minor", "ltv_to_cac", "cac_payback_months", "referral_k_factor",
            "member_content", "all_content", "ugc_share") if f != "to"}
        ltv = x.ltv
        return cls(
            **plain, from_=x.start, to=x.end,
            members_by_channel=_rows(KpiSegment, x.members_by_channel),
            members_by_tier=_rows(KpiSegment, x.members_by_tier),
            new_members_by_channel=_rows(KpiSegment, x.new_by_channel),
            activity_by_tier=_rows(KpiTierActivity, x.activity_by_tier),
            cohort_retention=_rows(KpiCohort, x.cohort_retention),
            purchase_retention=_rows(KpiCohort, x.purchase_retention),
            months=_rows(KpiMonth, x.months),
            ltv=KpiLtv(historical=ltv.historical, historical_at=ltv.historical_at,
                       historical_months=ltv.historical_months, predictive=ltv.predictive,
                       predictive_total=ltv.predictive_total, buyers=ltv.buyers,
                       horizon_weeks=ltv.horizon_weeks,
                       annual_discount_rate=ltv.annual_discount_rate,
                       bgnbd=BgNbdParameters.from_domain(ltv.bgnbd) if ltv.bgnbd else None,
                       gamma_gamma=(GammaGammaParameters.from_domain(ltv.gamma_gamma)
                                    if ltv.gamma_gamma else None),
                       unavailable_reason=ltv.unavailable_reason),
            cac=_rows(KpiChannelCac, x.cac), campaigns=_rows(KpiCampaignRoi, x.campaigns),
            referral_cohorts=_rows(KpiReferralCohort, x.referral_cohorts),
            daily=_rows(KpiDay, x.daily), anomalies=_rows(KpiAnomaly, x.anomalies),
            targets=_rows(KpiTargetAssessment, x.targets),
        )
