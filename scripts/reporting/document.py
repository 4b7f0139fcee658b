"""The report's content, independent of the output format: headline figures and
sections (charts, tables, the glossary keys of every figure shown). `html` and `pdf`
lay the same document out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from scripts.reporting import charts, fmt


@dataclass(frozen=True, slots=True)
class Figure:
    label: str
    value: str
    key: str  # glossary entry


@dataclass(frozen=True, slots=True)
class Chart:
    draw: Callable  # draw(ax)
    wide: bool = False  # spans both columns
    height: float = 1.0  # relative height in its row
    left: float = 0.55  # room for the y tick labels, inches


@dataclass(frozen=True, slots=True)
class Table:
    columns: list[str]
    rows: list[list[str]]
    colours: list[str | None] = field(default_factory=list)  # of the last cell, per row


@dataclass(frozen=True, slots=True)
class Section:
    anchor: str
    title: str
    lead: str  # one or two sentences: what the page shows
    charts: list[Chart] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)  # key figures of the page
    tables: list[tuple[str, Table]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # glossary keys footnoted here


@dataclass(frozen=True, slots=True)
class Document:
    report: dict
    source: str
    headline: list[Figure]
    sections: list[Section]
    scenario_name: str | None


def _metric_value(metric: str, value: float | None) -> str:
    if value is None:
        return fmt.NOT_DEFINED
    name = metric.lower()
    if "rate" in name or "share" in name or "conversion" in name:
        return fmt.pct(value)
    if "minor" in name:
        return fmt.money(value)
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


def headline(r: dict) -> list[Figure]:
    return [
        Figure("Members", fmt.count(r["membersTotal"]), "membersTotal"),
        Figure("New members (period)", fmt.count(r["newMembers"]), "newMembers"),
        Figure("Monthly growth (CMGR)", fmt.pct(r["cmgrMembers"]), "cmgrMembers"),
        Figure("MAU", fmt.count(r["mau"]), "mau"),
        Figure("Stickiness DAU/MAU", fmt.pct(r["stickiness"]), "stickiness"),
        Figure("Activity rate", fmt.pct(r["activityRate"]), "activityRate"),
        Figure("Paying share", fmt.pct(r["payingShare"]), "payingShare"),
        Figure("Revenue (period)", fmt.money(r["revenueMinor"]), "revenueMinor"),
        Figure("ARPU (period)", fmt.money(r["arpuMinor"], cents=True), "arpuMinor"),
        Figure("LTV / CAC", fmt.ratio(r["ltvToCac"]), "ltvToCac"),
    ]


def _segments(rows: list[dict], k: int, key: str = "key") -> Table:
    return Table(["segment", "members"],
                 [[s[key], f"< {k} (suppressed)" if s["suppressed"] else fmt.count(s["members"])]
                  for s in rows])


def build(r: dict, *, source: str, scenario: dict | None = None,
          scenario_name: str | None = None) -> Document:
    """The whole report from a fundingReport answer (and an optional simulation result)."""
    k = r["minGroupSize"]
    band_note = ["scenario"] if scenario else []
    sections = [
        Section(
            "growth", "Growth",
            "Members at each month end and new members per month (the hatched bar is the "
            "month still running)" + ("; the shaded band is the simulated p5-p95 range "
                                      "after the as-of day." if charts.projection(
                                          scenario, "members", _as_of(r)) else "."),
            charts=[Chart(partial(charts.draw_growth, r=r, scenario=scenario), wide=True,
                          height=1.3)],
            figures=[Figure("Members", fmt.count(r["membersTotal"]), "membersTotal"),
                     Figure("New members", fmt.count(r["newMembers"]), "newMembers"),
                     Figure("CMGR members", fmt.pct(r["cmgrMembers"]), "cmgrMembers"),
                     Figure("CMGR MAU", fmt.pct(r["cmgrActive"]), "cmgrActive"),
                     Figure("CMGR revenue", fmt.pct(r["cmgrRevenue"]), "cmgrRevenue")],
            tables=[("New members by channel (period)", _segments(r["newMembersByChannel"], k))],
            notes=["months.members", "months.newMembers", "membersTotal", "newMembers",
                   "cmgrMembers", "cmgrActive", "cmgrRevenue", "membersByChannel", *band_note]),
        Section(
            "activity", "Activity and stickiness",
            "How many members come back, and how often: monthly active members with the "
            "DAU/MAU ratio, the last 30 days day by day (circles: anomalies) and how many "
            "days of the last 30 members were active.",
            charts=[Chart(partial(charts.draw_activity, r=r)),
                    Chart(partial(charts.draw_power_users, r=r)),
                    Chart(partial(charts.draw_daily, r=r, scenario=scenario), wide=True)],
            figures=[Figure("DAU", fmt.count(r["dau"]), "dau"),
                     Figure("WAU", fmt.count(r["wau"]), "wau"),
                     Figure("MAU", fmt.count(r["mau"]), "mau"),
                     Figure("Stickiness", fmt.pct(r["stickiness"]), "stickiness"),
                     Figure("Activity rate", fmt.pct(r["activityRate"]), "activityRate"),
                     Figure("Churn rate", fmt.pct(r["churnRate"]), "churnRate")],
            notes=["months.active", "months.stickiness", "stickiness", "daily.active", "dau",
                   "wau", "mau", "activityRate", "churnRate", "powerUserCurve", "anomalies",
                   *band_note]),
        Section(
            "tiers", "Tier pyramid and funnel",
            "Members per tier (smallest tier on top) with the share of each tier active in "
            "the last 30 days, and the path from member to repeat buyer.",
            charts=[Chart(partial(charts.draw_tier_pyramid, r=r)),
                    Chart(partial(charts.draw_funnel, r=r))],
            figures=[Figure("Paying share", fmt.pct(r["payingShare"]), "payingShare"),
                     Figure("Period conversion", fmt.pct(r["periodConversion"]),
                            "periodConversion"),
                     Figure("Repeat-purchase rate", fmt.pct(r["repeatPurchaseRate"]),
                            "repeatPurchaseRate")],
            tables=[("Activity by tier", Table(
                ["tier", "members", "active (30 d)", "activity rate"],
                [[t["tier"], f"< {k}", "suppressed", "suppressed"] if t["suppressed"] else
                 [t["tier"], fmt.count(t["members"]), fmt.count(t["active"]),
                  fmt.pct(t["rate"])] for t in r["activityByTier"]]))],
            notes=["membersByTier", "activityByTier", "funnel", "payingShare",
                   "periodConversion", "repeatPurchaseRate"]),
        Section(
            "cohorts", "Cohort retention",
            f"Each row is the members whose first activity (left) or first purchase (right) "
            f"fell in that month; each cell the share of them active (purchasing) k months "
            f"later. Cohorts smaller than {k} members are hatched and not shown, so no "
            f"individual can be singled out.",
            charts=[Chart(partial(charts.draw_cohorts, cohorts=r["cohortRetention"], k=k,
                                  title="Activity retention by first-activity month"),
                          left=1.1),
                    Chart(partial(charts.draw_cohorts, cohorts=r["purchaseRetention"], k=k,
                                  title="Purchase retention by first-purchase month"),
                          left=1.1)],
            notes=["cohortRetention", "purchaseRetention"]),
        Section(
            "economics", "Unit economics",
            "What a member is worth and what one costs to acquire.",
            charts=[Chart(partial(charts.draw_ltv, r=r)),
                    Chart(partial(charts.draw_cac, r=r), left=0.95)],
            tables=[("Unit economics", _economics(r))],
            notes=["arpuMinor", "monthlyArpuMinor", "aovMinor", "transactions", "revenueMinor",
                   "ltv.historical", "ltv.historicalAt", "ltv.predictive", "cac",
                   "cacBlendedMinor", "ltvToCac", "cacPaybackMonths", "referralKFactor",
                   "ugcShare"]),
        _targets(r, scenario),
    ]
    return Document(report=r, source=source, headline=headline(r), sections=sections,
                    scenario_name=scenario_name)


def _as_of(r: dict):
    from datetime import date

    return date.fromisoformat(r["asOf"])


def _economics(r: dict) -> Table:
    ltv = r["ltv"]
    predictive = fmt.money(ltv["predictive"], cents=True)
    if ltv["predictive"] is None and ltv["unavailableReason"]:
        predictive += " (model not fittable)"
    rows = [
        ["Revenue (period)", fmt.money(r["revenueMinor"])],
        ["Transactions (purchase days)", fmt.count(r["transactions"])],
        ["ARPU (period)", fmt.money(r["arpuMinor"], cents=True)],
        ["Monthly ARPU", fmt.money(r["monthlyArpuMinor"], cents=True)],
        ["AOV", fmt.money(r["aovMinor"], cents=True)],
        [f"LTV historical ({ltv['historicalMonths']} months)",
         fmt.money(ltv["historicalAt"], cents=True)],
        [f"LTV predictive ({ltv['horizonWeeks']:.0f} weeks, {ltv['buyers']:,} buyers)",
         predictive],
        ["CAC blended", fmt.money(r["cacBlendedMinor"], cents=True)],
        ["LTV / CAC", fmt.ratio(r["ltvToCac"])],
        ["CAC payback", fmt.months(r["cacPaybackMonths"])],
        ["Referral K-factor", fmt.ratio(r["referralKFactor"], "")],
        ["UGC share", fmt.pct(r["ugcShare"])],
    ]
    if ltv["bgnbd"]:
        b = ltv["bgnbd"]
        rows.append(["BG/NBD fit (r, alpha, a, b)",
                     f"{b['r']:.3f}, {b['alpha']:.3f}, {b['a']:.3f}, {b['b']:.3f}"])
    if ltv["gammaGamma"]:
        g = ltv["gammaGamma"]
        rows.append(["Gamma-Gamma fit (p, q, gamma)", f"{g['p']:.3f}, {g['q']:.3f}, "
                                                      f"{g['gamma']:.3f}"])
    return Table(["figure", "value"], rows)


def _targets(r: dict, scenario: dict | None) -> Section:
    targets = r["targets"]
    table = Table(["target", "metric", "goal", "deadline", "current", "projected", "status"],
                  [[t["name"], t["metric"], _metric_value(t["metric"], t["goal"]),
                    fmt.day(t["deadline"]), _metric_value(t["metric"], t["current"]),
                    _metric_value(t["metric"], t["projected"]), fmt.status(t["status"])]
                   for t in targets],
                  [fmt.STATUS_COLOURS.get(t["status"], fmt.STATUS_COLOURS["NO_DATA"])
                   for t in targets])
    tables = [("Targets", table)]
    if scenario and scenario.get("targets"):
        tables.append(("Simulated chance of meeting each target", Table(
            ["target", "metric", "goal", "day", "chance"],
            [[t.get("name", ""), t.get("metric", ""),
              _metric_value(t.get("metric", ""), t.get("goal")),
              str(t.get("deadlineDay", "")), fmt.pct(t.get("probability"), 0)]
             for t in scenario["targets"]])))
    anomalies = Table(["date", "metric", "value", "trailing mean", "sd"],
                      [[fmt.day(a["date"]), a["metric"],
                        fmt.money(a["value"]) if a["metric"] == "revenue" else
                        f"{a['value']:,.0f}",
                        fmt.money(a["mean"]) if a["metric"] == "revenue" else
                        f"{a['mean']:,.1f}",
                        fmt.money(a["std"]) if a["metric"] == "revenue" else f"{a['std']:,.1f}"]
                       for a in r["anomalies"]])
    tables.append(("Anomalies in the period", anomalies))
    chart_list = []
    for kpi, title, field_name, unit in charts.projections(scenario):
        chart_list.append(Chart(partial(
            charts.draw_projection, r=r, scenario=scenario, kpi=kpi, label=title,
            current=r.get(field_name) if field_name else None, percent=unit == "percent",
            money=unit == "money")))
    lead = ("Stored targets with where they stand at the as-of day (green on track or met, "
            "amber at risk, red off track or missed), and the days of the period whose "
            "activity, purchases, revenue or content stood out.")
    if chart_list:
        lead += " The charts show the simulated range of the scenario after the as-of day."
    return Section("targets", "Targets, projections and anomalies", lead, charts=chart_list,
                   tables=tables, notes=["targets", "anomalies",
                                         *(["scenario"] if scenario else [])])
