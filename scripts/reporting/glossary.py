"""What every number on the investor report means: the README glossary ("Funding KPIs"),
one entry per figure, so each page can footnote the figures it shows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Entry:
    key: str  # the fundingReport field (or a short name for a derived figure)
    label: str
    definition: str  # numerator / denominator
    window: str  # window and as-of


_ENTRIES = [
    Entry("membersTotal", "Members", "members joined by the end of the as-of day (records "
          "merged into another member excluded)", "as-of"),
    Entry("newMembers", "New members", "members joined in the period", "period"),
    Entry("months.members", "Members at month end", "members joined by each calendar "
          "month's end", "calendar months up to as-of"),
    Entry("months.newMembers", "New members per month", "members joined in the calendar "
          "month", "calendar months up to as-of"),
    Entry("cmgrMembers", "CMGR (members)", "(last / first)^(1/n) - 1 over the complete "
          "calendar months (up to the last 13) of members at month end", "complete months "
          "before as-of"),
    Entry("cmgrActive", "CMGR (MAU)", "the same over the MAU of each complete month",
          "complete months before as-of"),
    Entry("cmgrRevenue", "CMGR (revenue)", "the same over each complete month's revenue",
          "complete months before as-of"),
    Entry("membersByChannel", "Members by channel", "members joined by as-of, by "
          "acquisition channel", "as-of"),
    Entry("dau", "DAU", "distinct members with at least one event on the as-of day",
          "as-of day"),
    Entry("wau", "WAU", "distinct active members in the 7 days ending as-of", "7 days"),
    Entry("mau", "MAU", "distinct active members in the 30 days ending as-of", "30 days"),
    Entry("stickiness", "Stickiness (DAU/MAU)", "mean DAU over the as-of calendar month's "
          "days up to as-of (empty days included) / MAU of those days", "calendar month"),
    Entry("months.stickiness", "Monthly stickiness", "mean DAU over the month's days / MAU "
          "of the month", "calendar month"),
    Entry("months.active", "Monthly active members", "distinct members active in the "
          "calendar month", "calendar month"),
    Entry("daily.active", "Daily active members", "distinct members with an event that UTC "
          "day", "each day of the period"),
    Entry("activityRate", "Activity rate", "members active in the 30 days ending as-of / "
          "members joined by as-of", "30 days, as-of"),
    Entry("activityByTier", "Activity rate per tier", "members of the tier (current tier) "
          "active in the 30 days ending as-of / members of the tier", "30 days, as-of"),
    Entry("membersByTier", "Members per tier", "members joined by as-of, by current tier "
          "(`none` = no tier)", "as-of"),
    Entry("powerUserCurve", "Power-user curve", "members active on exactly d of the 30 days "
          "ending as-of, for d = 1..30 (members with no active day excluded)", "30 days"),
    Entry("funnel", "Funnel", "members -> active in the period -> purchased in the period "
          "(>= 1 purchase day) -> repeat (>= 2 purchase days in the period); each step's "
          "share of the previous (member-level, one window)", "period"),
    Entry("payingShare", "Paying share", "members with a first purchase on or before as-of "
          "/ members", "as-of"),
    Entry("periodConversion", "Period conversion", "members joined before the period with "
          "no purchase before it who made a first purchase in it / those members", "period"),
    Entry("repeatPurchaseRate", "Repeat-purchase rate", "members with >= 2 purchase days in "
          "the period / members with >= 1", "period"),
    Entry("cohortRetention", "Activity retention", "cohort = calendar month of first "
          "activity; cell k = members of the cohort active in the k-th calendar month after "
          "it / cohort size (month 0 = 100 %); the partly elapsed as-of month and later "
          "months censored", "complete months through as-of"),
    Entry("purchaseRetention", "Purchase retention", "cohort = month of first purchase; "
          "cell k = members of the cohort purchasing in month k / cohort size (complete "
          "months only)", "complete months through as-of"),
    Entry("churnRate", "Churn rate", "members active in the w days before (as-of - w) who "
          "are not active in the w days ending as-of / the former (w = churn window)",
          "2w days ending as-of"),
    Entry("revenueMinor", "Revenue", "sum of purchase amounts", "period"),
    Entry("transactions", "Transactions", "purchase days (all purchases by one member on "
          "one UTC day count once)", "period"),
    Entry("arpuMinor", "ARPU", "revenue / members active in the period", "period"),
    Entry("aovMinor", "AOV", "revenue / transactions (purchase days)", "period"),
    Entry("monthlyArpuMinor", "Monthly ARPU", "revenue of the 30 days ending as-of / MAU "
          "(a period ending before as-of: the as-of month to date)", "30 days"),
    Entry("ltv.historical", "Historical LTV", "cumulative revenue per member by the end of "
          "month a after first activity (cohorts that completed month a)", "complete months"),
    Entry("ltv.historicalAt", "LTV (historical, 12 months or oldest age)", "historical LTV "
          "at month 12, or at the oldest complete age", "as-of"),
    Entry("ltv.predictive", "LTV (predictive)", "mean over buyers of BG/NBD expected "
          "purchase days x Gamma-Gamma expected spend over the horizon, discounted; models "
          "fitted on purchase days up to as-of, time unit weeks", "horizon from as-of"),
    Entry("cac", "CAC per channel", "acquisition spend (referral rewards counted once, in "
          "channel `referral`) / members acquired through the channel", "calendar months "
          "the period touches"),
    Entry("cacBlendedMinor", "CAC (blended)", "all acquisition spend / all members "
          "acquired", "calendar months the period touches"),
    Entry("ltvToCac", "LTV / CAC", "historical revenue LTV (12 months or oldest age) / "
          "blended CAC (not margin-adjusted: x gross margin for the margin-based ratio)",
          "as above"),
    Entry("cacPaybackMonths", "CAC payback", "blended CAC / (monthly ARPU x gross margin), "
          "in months", "as above"),
    Entry("referralKFactor", "Referral K-factor", "invitations accepted / inviters, for "
          "invitations sent in the period", "period"),
    Entry("ugcShare", "UGC share", "posts + comments / posts + comments + shares", "period"),
    Entry("targets", "Targets", "current = the metric at as-of; projected = the line "
          "through (start, baseline) and (as-of, current) at the deadline; on track if it "
          "reaches the goal, at risk if >= 80 % of the gap, else off track; met / missed "
          "from the deadline on", "as-of"),
    Entry("anomalies", "Anomalies", "days of the period where active members, purchasers, "
          "revenue or content lies more than 3 sample standard deviations from the mean of "
          "the 28 days before", "period"),
    Entry("scenario", "Simulated projection", "from a simulation result document: per day "
          "after as-of, the median (p50) and the p5-p95 band over replicates; a target's "
          "probability is the share of replicates meeting it by its deadline",
          "days after as-of"),
]

ENTRIES: dict[str, Entry] = {e.key: e for e in _ENTRIES}


def number(key: str) -> int:
    """The footnote number of a glossary entry (its place on the glossary page)."""
    return list(ENTRIES).index(key) + 1


def footnote(key: str) -> str:
    """One line: [n] Label: definition (window)."""
    e = ENTRIES[key]
    return f"[{number(key)}] {e.label}: {e.definition} ({e.window})."
