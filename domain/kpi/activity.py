"""Activity: DAU/WAU/MAU, stickiness, activity rate and the power-user curve.

An *active member* on a day is a member with at least one event of any type that day
(UTC day); every event type qualifies (logins, content, reactions, check-ins, purchases,
referrals...). Windows are calendar windows ending on the as-of date, and days without
any activity still count in every denominator.
"""

from __future__ import annotations

import numpy as np

from domain.kpi import share


def stickiness(*, daily_active: np.ndarray, monthly_active: int) -> float | None:
    """Mean DAU over the calendar month / MAU of that month.

    `daily_active` holds one DAU per day of the month (all of its days, zeros
    included; for the month of the as-of date, its days up to the as-of date);
    `monthly_active` counts distinct members active on any day of those days.
    """
    days = np.asarray(daily_active, dtype=float)
    if days.size == 0:
        return None
    return share(float(days.mean()), monthly_active)


def activity_rate(*, active: int, members: int) -> float | None:
    """Members active in the window / members who had joined by the window's end.

    Window: the 30 days ending on the as-of date, unless the caller says otherwise;
    used overall and per tier (tier as of the as-of date)."""
    return share(active, members)


def power_user_curve(active_days: np.ndarray, *, window_days: int = 30) -> list[int]:
    """How many members were active on exactly d days of the window, for d = 1..window.

    `active_days` holds, per member active at least once in the window, the number of
    distinct days they were active (1..window_days). Members with no active day are not
    part of the curve (a16z's L30 convention)."""
    values = np.asarray(active_days, dtype=np.int64)
    if values.size and (values.min() < 1 or values.max() > window_days):
        raise ValueError(f"active days must lie in 1..{window_days}")
    return np.bincount(values, minlength=window_days + 1)[1:].tolist()


def stickiness_from_totals(*, dau_sum: int, days: int, monthly_active: int) -> float | None:
    """Stickiness of one calendar month from totals: (sum of DAU over the month's days /
    those days) / MAU of the month. `days` counts every day of the month up to the as-of
    day, days without activity included; None for no days or no active member."""
    if days <= 0:
        return None
    return share(dau_sum / days, monthly_active)
