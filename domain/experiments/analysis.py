"""Experiment results: the response window, and per arm the conversion, the uplift over
the control with its 95% interval and p-value, and the return on the rewards granted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from domain.experiments.design import CONTROL, ExperimentSpec

CONFIDENCE = 0.95
# scipy.stats.norm.ppf(0.975), written out: importing scipy costs the API a second at start,
# so it is imported only where a p-value is computed (a unit test checks the constant).
Z_95 = 1.959963984540054


# --- the response window ---

@dataclass(frozen=True, slots=True)
class Window:
    """[start, end) in UTC; `days` is set when both ends are UTC midnights, so the
    member-day rollup answers exactly (end day exclusive)."""

    start: datetime
    end: datetime

    @property
    def days(self) -> tuple[date, date] | None:
        start, end = self.start.astimezone(UTC), self.end.astimezone(UTC)
        if start.time() == time(0) and end.time() == time(0):
            return start.date(), end.date()
        return None


def response_window(*, starts_at: datetime, ends_at: datetime,
                    as_of: datetime | None = None) -> Window:
    """The campaign window [starts_at, ends_at), cut at `as_of` when that is earlier."""
    end = ends_at if as_of is None else max(starts_at, min(ends_at, as_of))
    return Window(start=starts_at, end=end)


# --- results ---

@dataclass(frozen=True, slots=True)
class ArmCounts:
    """What the store counts per arm over the response window."""

    arm: str
    n: int  # members assigned to the arm
    responders: int  # of them, members with at least one conversion event in the window
    revenue_minor: int  # purchase revenue of those responders in the window
    cost_minor: int  # rewards granted to the arm, budget cost


@dataclass(frozen=True, slots=True)
class ArmResult:
    arm: str
    n: int
    responders: int
    conversion_rate: float | None  # responders / n; None when n == 0
    uplift: float | None  # conversion rate minus the control's (absolute)
    relative_uplift: float | None  # uplift / control rate
    ci_low: float | None  # 95% Newcombe interval of the uplift
    ci_high: float | None
    p_value: float | None  # two-sided, two-proportion z-test against the control
    revenue_minor: int
    cost_minor: int
    roi: float | None


def wilson_interval(successes: int, n: int, *, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion successes / n (n > 0)."""
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """95% interval of p1 - p2 by Newcombe's hybrid score method (1998, method 10).

    With Wilson intervals (l1, u1) of p1 and (l2, u2) of p2 and d = p1 - p2:
    low = d - sqrt((p1 - l1)^2 + (u2 - p2)^2), high = d + sqrt((u1 - p1)^2 + (p2 - l2)^2).
    Chosen over the Wald interval because it stays inside [-1, 1] and keeps its
    coverage with few responders or rates near 0 (typical: 1-3% conversion).
    """
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1)
    l2, u2 = wilson_interval(x2, n2)
    d = p1 - p2
    return (d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
            d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


def two_proportion_p_value(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided p-value of H0: p1 = p2 by the pooled two-proportion z-test.

    z = (p1 - p2) / sqrt(p (1 - p) (1/n1 + 1/n2)) with p = (x1 + x2) / (n1 + n2);
    p-value = 2 P(Z > |z|). When nobody or everybody responded in both arms the
    difference is exactly 0 and the p-value is 1.
    """
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance == 0:
        return 1.0
    from scipy import stats

    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return float(2 * stats.norm.sf(abs(z)))


def roi(*, arm: ArmCounts, control: ArmCounts | None) -> float | None:
    """Return on the rewards granted to an arm, or None when nothing was spent.

    ROI = (attributable revenue - cost) / cost, where cost is the budget cost of the
    rewards granted to the arm and attributable revenue is the purchase revenue of the
    arm's responders in the campaign window minus what the arm would have earned at the
    control's revenue per assigned member: R_arm - n_arm * R_control / n_control (all of
    R_arm when there is no control or the control is empty). Revenue in minor units.
    """
    if arm.cost_minor == 0:
        return None
    baseline = 0.0
    if control is not None and control.n > 0:
        baseline = arm.n * control.revenue_minor / control.n
    return (arm.revenue_minor - baseline - arm.cost_minor) / arm.cost_minor


def arm_result(arm: ArmCounts, control: ArmCounts | None) -> ArmResult:
    """One arm's conversion, and (for variants, with a non-empty control) its uplift over
    the control, the 95% Newcombe interval of that uplift and the z-test p-value."""
    rate = arm.responders / arm.n if arm.n else None
    uplift = relative = low = high = p_value = None
    if arm.arm != CONTROL and rate is not None and control is not None and control.n:
        control_rate = control.responders / control.n
        uplift = rate - control_rate
        relative = uplift / control_rate if control_rate else None
        low, high = newcombe_interval(arm.responders, arm.n, control.responders, control.n)
        p_value = two_proportion_p_value(arm.responders, arm.n, control.responders, control.n)
    return ArmResult(arm=arm.arm, n=arm.n, responders=arm.responders, conversion_rate=rate,
                     uplift=uplift, relative_uplift=relative, ci_low=low, ci_high=high,
                     p_value=p_value, revenue_minor=arm.revenue_minor,
                     cost_minor=arm.cost_minor,
                     roi=roi(arm=arm, control=control) if arm.arm != CONTROL else None)


def results(spec: ExperimentSpec, counts: Iterable[ArmCounts]) -> list[ArmResult]:
    """Results for every arm, variants in configured order then the control (arms with
    no assigned member appear with n = 0 when they are configured)."""
    found = {c.arm: c for c in counts}
    arms = [v.key for v in spec.variants] + ([CONTROL] if spec.control_share > 0
                                              or CONTROL in found else [])
    empty = {a: ArmCounts(arm=a, n=0, responders=0, revenue_minor=0, cost_minor=0) for a in arms}
    control = found.get(CONTROL)
    return [arm_result(found.get(a, empty[a]), control) for a in arms]
