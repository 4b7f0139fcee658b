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
