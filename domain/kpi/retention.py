"""Cohort retention and churn.

Cohorts are keyed by the calendar month of a member's *first activity* (first UTC day
with any event), not by sign-up: members enrolled long before they ever showed up would
otherwise read as early churn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from domain.kpi import share


@dataclass(frozen=True, slots=True)
class CohortRow:
    cohort: int  # index of the cohort's first month in the caller's month list
    size: int
    rates: list[float]  # rates[k]: share active in the k-th month after the first; [0] == 1


def cohort_retention(active: np.ndarray, *, observable: np.ndarray) -> list[CohortRow]:
    """Monthly retention table.

    `active[c, k]` counts cohort c's members active in the k-th calendar month after
    their first (so `active[c, 0]` is the cohort's size); `observable[c]` is how many
    months of cohort c are observed by the as-of date (the report passes its complete
    months, and 1 for the as-of month's own cohort: a partly elapsed month is censored,
    not read as a low rate). Rate = active[c, k] / active[c, 0] for k < observable[c];
    later months are censored and absent, never zero. Empty cohorts are left out.
    """
    active = np.asarray(active, dtype=np.int64)
    rows = []
    for c, seen in enumerate(np.asarray(observable, dtype=np.int64)):
        size = int(active[c, 0]) if active.shape[1] else 0
        if size == 0 or seen <= 0:
            continue
        rows.append(CohortRow(cohort=c, size=size,
                              rates=(active[c, :seen] / size).tolist()))
    return rows


def retention_curve(rows: list[CohortRow]) -> list[float]:
    """Pooled retention by months since first activity: for each k, members active in
    month k / members of the cohorts observable at k. Cohorts too young for month k are
    left out of both (right censoring), so unequal rows are not averaged as if equal."""
    longest = max((len(r.rates) for r in rows), default=0)
    curve = []
    for k in range(longest):
        seen = [r for r in rows if len(r.rates) > k]
        curve.append(sum(r.rates[k] * r.size for r in seen) / sum(r.size for r in seen))
    return curve


def churn_rate(*, lost: int, at_start: int) -> float | None:
    """Members lost in the period / members counted at its start.

    A member counts at the start when active in the inactivity window before the
    period's start; they are lost when they have no activity in the inactivity window
    ending on the period's end (the window and as-of date are the caller's, and are
    reported next to the figure)."""
    return share(lost, at_start)
