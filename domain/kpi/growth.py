"""Growth: member counts and compounded monthly growth."""

from __future__ import annotations

from collections.abc import Sequence


def cmgr(monthly: Sequence[float]) -> float | None:
    """Compounded monthly growth rate = (last / first) ^ (1 / n) - 1.

    `monthly` is one value per calendar month, oldest first, n = len(monthly) - 1
    months apart (members at month end, or a monthly flow such as revenue). Not the
    mean of month-on-month rates. None with fewer than two months or a first value of
    zero (growth from nothing has no rate)."""
    if len(monthly) < 2 or monthly[0] <= 0 or monthly[-1] < 0:
        return None
    return (monthly[-1] / monthly[0]) ** (1 / (len(monthly) - 1)) - 1
