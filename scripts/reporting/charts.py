"""The report's charts: each `draw_*` draws one chart into a matplotlib Axes from the
fundingReport answer (and, where it matches, a simulation result's projection band)."""

from __future__ import annotations

from datetime import date, timedelta

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter  # noqa: E402

from scripts.reporting import fmt  # noqa: E402

NAVY, TEAL, SAND, CORAL, GREY, LIGHT = "#1f3a5f", "#2a9d8f", "#e9c46a", "#e76f51", "#9aa5b1", \
    "#eef1f4"
MUTED = "#5b6773"
BAND = "#2a9d8f"
HEAT = LinearSegmentedColormap.from_list("retention", ["#f7fbff", "#9ecae1", "#1f3a5f"])

STYLE = {
    "font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 11,
    "axes.titleweight": "bold", "axes.titlelocation": "left", "axes.titlepad": 10,
    "axes.spines.top": False, "axes.spines.right": False, "axes.edgecolor": "#6b7785",
    "axes.labelcolor": "#333d47", "xtick.color": "#4a5560", "ytick.color": "#4a5560",
    "axes.grid": True, "grid.color": "#e3e7eb", "grid.linewidth": 0.7, "axes.axisbelow": True,
    "legend.frameon": False, "legend.fontsize": 8, "svg.fonttype": "none",
    "pdf.fonttype": 42, "hatch.color": "#9aa5b1",
}


def _d(value: str) -> date:
    return date.fromisoformat(value)


def _month_end(first: date) -> date:
    nxt = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return nxt - timedelta(days=1)


def _date_axis(ax) -> None:
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=8))
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))


def _thousands(ax, axis: str = "y") -> None:
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))


def projection(scenario: dict | None, kpi: str, as_of: date):
    """(dates, p5, p50, p95) of a scenario KPI after as-of, or None when absent."""
    if not scenario or kpi not in scenario.get("kpis", {}):
        return None
    band = scenario["kpis"][kpi]
    dates = [as_of + timedelta(days=int(d)) for d in scenario["days"]]

    def arr(name):
        return np.array([np.nan if v is None else float(v) for v in band[name]])

    return dates, arr("p5"), arr("p50"), arr("p95")


def draw_band(ax, scenario: dict | None, kpi: str, as_of: date, *, scale: float = 1.0) -> bool:
    """Shade the p5-p95 band and draw the median of `kpi` after as-of; True when drawn."""
    found = projection(scenario, kpi, as_of)
    if found is None:
        return False
    dates, p5, p50, p95 = found
    ax.fill_between(dates, p5 * scale, p95 * scale, color=BAND, alpha=0.18, linewidth=0,
                    label="simulated p5-p95")
    ax.plot(dates, p50 * scale, color=BAND, linestyle="--", linewidth=1.4,
            label="simulated median")
    ax.axvline(as_of, color=GREY, linewidth=0.8, linestyle=":")
    return True


def draw_growth(ax, r: dict, scenario: dict | None = None) -> None:
    """Members at each month end (line) and new members per month (bars)."""
    months = r["months"]
    ends = [min(_month_end(_d(m["month"])), _d(r["asOf"])) for m in months]
    firsts = [_d(m["month"]) for m in months]
    new = [m["newMembers"] for m in months]
    bars = ax.bar([f + timedelta(days=14) for f in firsts], new, width=20, color=SAND,
                  label="new members in the month", zorder=2)
    for bar, m in zip(bars, months, strict=True):
        if not m["complete"]:
            bar.set_hatch("///")
            bar.set_alpha(0.7)
    ax.plot(ends, [m["members"] for m in months], color=NAVY, marker="o", markersize=4,
            linewidth=2, label="members at month end", zorder=3)
    if months:
        ax.annotate(fmt.count(months[-1]["members"]), (ends[-1], months[-1]["members"]),
                    textcoords="offset points", xytext=(6, 0), va="center", fontsize=8,
                    color=NAVY, fontweight="bold")
    draw_band(ax, scenario, "members", _d(r["asOf"]))
    _date_axis(ax)
    _thousands(ax)
    ax.set_ylim(bottom=0)
    cmgr = r.get("cmgrMembers")
    ax.set_title(f"Growth  ·  CMGR {fmt.pct(cmgr)} (members)")
    ax.legend(loc="upper left")


def draw_activity(ax, r: dict) -> None:
    """MAU per calendar month (bars) and stickiness DAU/MAU (line, right axis)."""
    months = r["months"]
    labels = [fmt.month(m["month"]) + ("*" if not m["complete"] else "") for m in months]
    x = np.arange(len(months))
    ax.bar(x, [m["active"] for m in months], color=NAVY, width=0.6, label="MAU (month)")
    ax.set_xticks(x, labels)
    _thousands(ax)
    ax.set_ylabel("active members in the month")
    right = ax.twinx()
    right.grid(False)
    right.spines["right"].set_visible(True)
    stick = [np.nan if m["stickiness"] is None else m["stickiness"] for m in months]
    right.plot(x, stick, color=CORAL, marker="o", linewidth=2, label="stickiness DAU/MAU")
    for xi, s in zip(x, stick, strict=True):
        if not np.isnan(s):
            right.annotate(fmt.pct(s, 0), (xi, s), textcoords="offset points", xytext=(0, 7),
                           ha="center", fontsize=8, color=CORAL)
    top = np.nanmax(stick) if np.isfinite(np.nanmax(stick + [0])) else 0.1
    right.set_ylim(0, max(0.1, top * 1.4))
    right.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_title(f"Activity and stickiness  ·  stickiness {fmt.pct(r['stickiness'])}")
    handles = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left")


def draw_daily(ax, r: dict, scenario: dict | None = None) -> None:
    """Daily active members over the period, anomalies marked; DAU band after as-of."""
    days = [_d(d["date"]) for d in r["daily"]]
    active = [d["active"] for d in r["daily"]]
    ax.plot(days, active, color=NAVY, linewidth=1.6, label="daily active members")
    ax.fill_between(days, active, color=NAVY, alpha=0.08, linewidth=0)
    flagged = [a for a in r["anomalies"] if a["metric"] == "active"]
    if flagged:
        ax.scatter([_d(a["date"]) for a in flagged], [a["value"] for a in flagged], s=40,
                   facecolor="white", edgecolor=CORAL, linewidth=1.6, zorder=4,
                   label="anomaly (> 3 sd)")
    draw_band(ax, scenario, "dau", _d(r["asOf"]))
    _date_axis(ax)
    ax.set_ylim(bottom=0)
    ax.set_title(f"Daily active members  ·  DAU {fmt.count(r['dau'])}, "
                 f"WAU {fmt.count(r['wau'])}, MAU {fmt.count(r['mau'])}")
    ax.legend(loc="upper left")


def draw_power_users(ax, r: dict) -> None:
    """How many members were active on exactly d of the last 30 days."""
    curve = r["powerUserCurve"]
    d = np.arange(1, len(curve) + 1)
    ax.bar(d, curve, color=TEAL, width=0.8)
    ax.set_xlabel("active days out of the last 30")
    ax.set_ylabel("members")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Power-user curve")


def _pyramid_order(r: dict) -> list[dict]:
    """Tiers from the smallest (top of the pyramid) to the largest; suppressed first."""
    return sorted(r["membersByTier"], key=lambda s: (not s["suppressed"], s["members"] or 0))


def draw_tier_pyramid(ax, r: dict) -> None:
    """Members per tier as centred bars (smallest tier on top), activity rate per tier."""
    tiers = _pyramid_order(r)
    rates = {t["tier"]: t for t in r["activityByTier"]}
    widest = max([t["members"] or 0 for t in tiers] + [1])
    k = r["minGroupSize"]
    for row, tier in enumerate(tiers):
        y = len(tiers) - 1 - row
        if tier["suppressed"]:
            width = widest * 0.15
            ax.barh(y, width, left=-width / 2, color="white", edgecolor=GREY, hatch="///",
                    height=0.7)
            text = f"{tier['key']}: < {k} members (suppressed)"
            ax.text(width / 2 + widest * 0.03, y, text, va="center", fontsize=8, color=GREY)
            continue
        n = tier["members"]
        colour = [NAVY, TEAL, SAND, CORAL, GREY][row % 5]
        ax.barh(y, n, left=-n / 2, color=colour, height=0.7)
        rate = rates.get(tier["key"])
        detail = f"{fmt.pct(rate['rate'], 0)} active" if rate and rate["rate"] is not \
            None else ""
        ax.text(n / 2 + widest * 0.04, y + 0.1, f"{tier['key']}  {fmt.count(n)}",
                va="bottom", fontsize=9, color="#222", fontweight="bold")
        ax.text(n / 2 + widest * 0.04, y - 0.05, detail, va="top", fontsize=8, color=MUTED)
    ax.set_xlim(-widest * 0.55, widest * 1.05)
    ax.set_ylim(-0.6, len(tiers) - 0.4)
    ax.axis("off")
    ax.set_title("Tier pyramid")


def draw_funnel(ax, r: dict) -> None:
    """members -> active -> purchased -> repeat (all in the period), with step conversion."""
    names = ["members", "active (period)", "purchased (period)", "repeat (period)"]
    steps, shares = r["funnelSteps"], r["funnel"]
    top = max(steps + [1])
    colours = [NAVY, TEAL, SAND, CORAL]
    for i, (name, n) in enumerate(zip(names, steps, strict=False)):
        y = len(steps) - 1 - i
        width = max(n / top, 0.004)
        ax.barh(y, width, left=(1 - width) / 2, color=colours[i], height=0.72)
        inside = width > 0.45
        ax.text(0.5 if inside else (1 + width) / 2 + 0.02, y, f"{name}: {fmt.count(n)}",
                ha="center" if inside else "left", va="center", fontsize=9,
                color="white" if inside and i in (0, 1) else "#222", fontweight="bold")
        if i > 0:
            ax.text(0.02, y + 0.5, f"↓ {fmt.pct(shares[i - 1])} of the step above",
                    va="center", fontsize=8, color=MUTED)
    ax.set_xlim(0, 1.1)
    ax.set_ylim(-0.6, len(steps) - 0.4)
    ax.axis("off")
    ax.set_title("Funnel")


def draw_cohorts(ax, cohorts: list[dict], *, k: int, title: str) -> None:
    """Retention heat map: one row per monthly cohort, one column per month since;
    suppressed cohorts hatched and labelled `< k`."""
    if not cohorts:
        ax.text(0.5, 0.5, "no cohorts yet", ha="center", va="center", color=GREY)
        ax.axis("off")
        ax.set_title(title)
        return
    width = max([len(c["rates"]) for c in cohorts if c["rates"]] + [1])
    grid = np.full((len(cohorts), width), np.nan)
    for i, c in enumerate(cohorts):
        if c["rates"]:
            grid[i, :len(c["rates"])] = c["rates"]
    ax.imshow(grid, cmap=HEAT, vmin=0, vmax=1, aspect="auto")
    for i, c in enumerate(cohorts):
        if c["suppressed"]:
            ax.add_patch(Rectangle((-0.5, i - 0.5), width, 1, facecolor="white",
                                   edgecolor=GREY, hatch="///", linewidth=0.5))
            ax.text((width - 1) / 2, i, f"< {k} members: suppressed", ha="center",
                    va="center", fontsize=8, color="#4a5560",
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
            continue
        for j, v in enumerate(c["rates"]):
            ax.text(j, i, f"{v * 100:.0f}%", ha="center", va="center", fontsize=8,
                    color="white" if v > 0.55 else "#1b2733")
    sizes = [f"< {k}" if c["suppressed"] else f"= {fmt.count(c['size'])}" for c in cohorts]
    ax.set_yticks(range(len(cohorts)), [f"{fmt.month(c['cohortStart'])}\n(n {n})"
                                        for c, n in zip(cohorts, sizes, strict=True)])
    ax.set_xticks(range(width), [f"M{j}" for j in range(width)])
    ax.tick_params(length=0)
    ax.grid(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel("months since the cohort's first month")
    ax.set_title(title)


def draw_cac(ax, r: dict) -> None:
    """CAC per acquisition channel (suppressed channels hatched)."""
    rows = r["cac"]
    k = r["minGroupSize"]
    if not rows:
        ax.text(0.5, 0.5, "no acquisition channels", ha="center", va="center", color=GREY)
        ax.axis("off")
        ax.set_title("CAC per channel")
        return
    if not any(c["spendMinor"] for c in rows if not c["suppressed"]):
        ax.text(0.5, 0.5, "No acquisition spend recorded for these months\n"
                "(recordAcquisitionSpend); CAC is 0 for every channel.", ha="center",
                va="center", color=MUTED, transform=ax.transAxes)
        ax.axis("off")
        ax.set_title("CAC per channel")
        return
    y = np.arange(len(rows))[::-1]
    top = max([c["cacMinor"] or 0 for c in rows] + [1]) / 100
    for yi, c in zip(y, rows, strict=True):
        if c["suppressed"]:
            ax.barh(yi, top * 0.2, color="white", edgecolor=GREY, hatch="///", height=0.6)
            ax.text(top * 0.22, yi, f"< {k} acquired: suppressed", va="center", fontsize=8,
                    color=GREY)
            continue
        value = (c["cacMinor"] or 0) / 100
        ax.barh(yi, value, color=NAVY, height=0.6)
        note = f"{fmt.money(c['cacMinor'], cents=True)}  ({fmt.count(c['acquired'])} acquired, " \
               f"spend {fmt.money(c['spendMinor'])})"
        ax.text(value + top * 0.02, yi, note, va="center", fontsize=8, color="#333d47")
    ax.set_yticks(y, [c["channel"] for c in rows])
    ax.set_xlim(0, top * 1.9)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{fmt.CURRENCY}{v:,.0f}"))
    ax.set_title("CAC per channel")


def draw_ltv(ax, r: dict) -> None:
    """Historical LTV by month since first activity, predictive LTV as a reference line."""
    ltv = r["ltv"]
    hist = [v / 100 for v in ltv["historical"]]
    if hist:
        ax.plot(range(len(hist)), hist, color=NAVY, marker="o", linewidth=2,
                label="historical LTV (cumulative revenue per member)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if ltv["predictive"] is not None:
        ax.axhline(ltv["predictive"] / 100, color=CORAL, linestyle="--",
                   label=f"predictive LTV per buyer, {ltv['horizonWeeks']:.0f} weeks")
    if r["cacBlendedMinor"]:
        ax.axhline(r["cacBlendedMinor"] / 100, color=GREY, linestyle=":", label="blended CAC")
    if not hist and ltv["predictive"] is None:
        ax.text(0.5, 0.5, "no complete month yet", ha="center", va="center", color=GREY,
                transform=ax.transAxes)
    ax.set_xlabel("months since first activity")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{fmt.CURRENCY}{v:,.0f}"))
    ax.set_ylim(bottom=0)
    ax.set_title("Lifetime value")
    ax.legend(loc="lower right")


def draw_projection(ax, r: dict, scenario: dict, kpi: str, label: str, *,
                    current: float | None, percent: bool = False, money: bool = False) -> None:
    """One simulated KPI after as-of: band, median, today's value and any scenario target."""
    as_of = _d(r["asOf"])
    scale = 1 / 100 if money else 1.0
    draw_band(ax, scenario, kpi, as_of, scale=scale)
    if current is not None:
        ax.scatter([as_of], [current * scale], color=NAVY, zorder=4, s=30, label="as-of value")
    for t in scenario.get("targets", []):
        if t.get("metric") == kpi:
            ax.axhline(t["goal"] * scale, color=CORAL, linewidth=1, linestyle="-.",
                       label=f"goal {t['name']}")
            if "deadlineDay" in t:
                ax.axvline(as_of + timedelta(days=int(t["deadlineDay"])), color=CORAL,
                           linewidth=0.8, linestyle=":")
    _date_axis(ax)
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    elif money:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{fmt.CURRENCY}{v:,.0f}"))
    else:
        _thousands(ax)
    ax.set_title(label)
    ax.legend(loc="best", fontsize=7)


PROJECTIONS = (  # scenario KPI, title, fundingReport field of today's value, unit
    ("members", "Members (simulated)", "membersTotal", "count"),
    ("activityRate", "Activity rate (simulated)", "activityRate", "percent"),
    ("payingShare", "Paying share (simulated)", "payingShare", "percent"),
    ("revenueMinor", "Daily revenue (simulated)", None, "money"),
    ("dau", "DAU (simulated)", "dau", "count"),
)


def projections(scenario: dict | None) -> list[tuple[str, str, str | None, str]]:
    """The PROJECTIONS the scenario has data for (at most four)."""
    if not scenario:
        return []
    return [p for p in PROJECTIONS if p[0] in scenario.get("kpis", {})][:4]
