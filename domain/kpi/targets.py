"""Targets: is a KPI on its way to its goal by the deadline?

A target names a metric, a goal and a deadline, and starts from the metric's value when
it was set (the baseline). Status:
- before the deadline the metric is projected to the deadline by a least-squares line
  through its recent observations; the projection closes at least the whole gap from
  baseline to goal -> ON_TRACK, at least AT_RISK_SHARE of it -> AT_RISK, else
  OFF_TRACK;
- from the deadline on, the latest value decides: MET or MISSED.
For metrics where lower is better (churn, CAC) the same holds with the gap reversed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

AT_RISK_SHARE = 0.8


class TargetStatus(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"
    MET = "met"
    MISSED = "missed"
    NO_DATA = "no_data"


@dataclass(frozen=True, slots=True)
class Assessment:
    current: float | None
    projected: float | None
    status: TargetStatus


def linear_projection(days: np.ndarray, values: np.ndarray, *, at_day: float) -> float | None:
    """The least-squares line through (days, values), evaluated at `at_day`; with one
    observation, that value (no trend can be seen)."""
    days, values = np.asarray(days, dtype=float), np.asarray(values, dtype=float)
    if values.size == 0:
        return None
    if values.size == 1 or np.ptp(days) == 0:
        return float(values[-1])
    slope, intercept = np.polyfit(days, values, 1)
    return float(slope * at_day + intercept)


def assess(*, baseline: float, goal: float, days: np.ndarray, values: np.ndarray,
           as_of_day: float, deadline_day: float, higher_is_better: bool = True) -> Assessment:
    """Status of one target. `days` are observation days (any origin, the same as
    `as_of_day` and `deadline_day`), `values` the metric on those days, oldest first."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return Assessment(current=None, projected=None, status=TargetStatus.NO_DATA)
    current = float(values[-1])
    sign = 1.0 if higher_is_better else -1.0
    if as_of_day >= deadline_day:
        met = sign * (current - goal) >= 0
        return Assessment(current=current, projected=current,
                          status=TargetStatus.MET if met else TargetStatus.MISSED)
    projected = linear_projection(days, values, at_day=deadline_day)
    gap = sign * (goal - baseline)
    closed = sign * (projected - baseline)
    if closed >= gap:
        status = TargetStatus.ON_TRACK
    elif gap > 0 and closed >= AT_RISK_SHARE * gap:
        status = TargetStatus.AT_RISK
    else:
        status = TargetStatus.OFF_TRACK
    return Assessment(current=current, projected=projected, status=status)
