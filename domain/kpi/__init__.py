"""Funding-ready KPIs: one definition each, over compact aggregate inputs.

Every function here takes numbers or numpy arrays (daily series, cohort x period
counts, per-member summaries) and returns numbers; nothing reads the database. The
store (`domain/store/`) fills the inputs with SQL over the rollups, the simulator fills
them from its state, so a report over real data and a projection share every formula.

Each docstring states the numerator, the denominator, the window and the as-of date.
A ratio whose denominator is zero is `None` ("not defined"), never a division error.
"""

from __future__ import annotations


def share(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is zero."""
    return None if not denominator else numerator / denominator


DEFAULT_MIN_GROUP_SIZE = 10  # investor outputs hide cohorts and segments smaller than this


def hidden(size: int, min_group_size: int | None) -> bool:
    """Whether a cohort or segment of `size` members is suppressed from an output with
    a minimum group size (None: nothing is suppressed). Empty groups are not hidden:
    "nobody" singles no one out."""
    return min_group_size is not None and 0 < size < min_group_size
