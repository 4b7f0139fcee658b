"""Fan chart of a result document: per main KPI, the p5-p95 band, the median and the
mean, with each target's goal and deadline."""

from __future__ import annotations

import math

MAIN_KPIS = ("members", "activityRate", "payingShare", "dau", "cumulativeRevenueMinor",
             "cumulativeCostMinor")
TITLES = {"members": "Members", "activityRate": "Activity rate (active in 30 days)",
          "payingShare": "Paying share", "dau": "Daily active members",
          "cumulativeRevenueMinor": "Revenue to date (minor units)",
          "cumulativeCostMinor": "Cost to date (minor units)"}
SHARES = {"activityRate", "payingShare"}


def _nan(values):
    return [math.nan if v is None else v for v in values]


def _is_share(name: str) -> bool:
    return name in SHARES or name.startswith("activityRateByTier.")


def _label_targets(ax, text: str, median: list) -> None:
    """Target labels in the corner the median leaves free (bottom when it ends high)."""
    low, high = ax.get_ylim()
    last = next((v for v in reversed(median) if v is not None), low)
    ends_high = (last - low) > (high - low) / 2
    ax.text(0.98, 0.04 if ends_high else 0.96, text, transform=ax.transAxes, ha="right",
            va="bottom" if ends_high else "top", fontsize=8, color="tab:red",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 2})


def draw(result: dict, path: str) -> None:
    """Write the fan chart of `result` (a result document) to `path` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    targets = result.get("targets", [])
    names = list(MAIN_KPIS) + [t["metric"] for t in targets if t["metric"] not in MAIN_KPIS]
    columns = 3
    rows = math.ceil(len(names) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 3.6 * rows),
                                squeeze=False, constrained_layout=True)
    days = result["days"]
    for ax, name in zip(axes.flat, names, strict=False):
        kpi = result["kpis"][name]
        ax.fill_between(days, _nan(kpi["p5"]), _nan(kpi["p95"]), color="tab:blue", alpha=0.2,
                        linewidth=0, label="p5-p95")
        ax.plot(days, _nan(kpi["p50"]), color="tab:blue", linewidth=1.8, label="median")
        ax.plot(days, _nan(kpi["mean"]), color="tab:blue", linewidth=0.8, linestyle=":",
                label="mean")
        labels = []
        for target in (t for t in targets if t["metric"] == name):
            ax.axhline(target["goal"], color="tab:red", linewidth=1, linestyle="--")
            ax.axvline(target["deadlineDay"], color="tab:red", linewidth=1, linestyle=":")
            goal = (f"{target['goal']:.0%}" if _is_share(name) else f"{target['goal']:,.0f}")
            labels.append(f"goal {goal} by day {target['deadlineDay']}: "
                          f"P(met) = {target['probability']:.0%}")
        if labels:
            ax.margins(y=0.12)
            _label_targets(ax, "\n".join(labels), kpi["p50"])
        title = TITLES.get(name) or name.replace("activityRateByTier.",
                                                 "Activity rate, tier ")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("day", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        if _is_share(name):
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        else:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.set_xlim(days[0], days[-1])
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8, loc="lower right")
    name = result["scenario"].get("name") or "scenario"
    figure.suptitle(f"{name}: {result['replicates']} replicates", fontsize=11)
    figure.savefig(path, dpi=110)
    plt.close(figure)
