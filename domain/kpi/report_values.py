"""The values a funding report is made of: the report (`FundingReport`), its rows
(segments, tiers, cohorts, months, days, anomaly flags, CAC per channel, campaign returns,
referral K-factor cohorts, LTV, assessed targets) and the assembly's options. A row of an
investor output that `min_group_size` hides carries `suppressed=True` and no figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from domain.kpi import targets as target_rules
from domain.kpi.records import ModelFits, StoredTarget
from domain.models import bgnbd, gamma_gamma

DEFAULT_HORIZON_WEEKS = 52
DEFAULT_DISCOUNT_RATE = 0.10  # per year, for predictive LTV

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
    historical_at: float | None  # the value LTV/CAC uses (month report.LTV_AGE_MONTHS or oldest)
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
    funnel_steps: list[int]  # members, then active / purchasers / repeaters in the period
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
