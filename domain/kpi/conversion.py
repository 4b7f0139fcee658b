"""Conversion and repeat purchase.

The unit of transaction is the *purchase day*: all purchases by one member on one UTC
day are one transaction (the BG/NBD literature's convention), zero-amount purchases
included. Conversion is member-level, never session-level.
"""

from __future__ import annotations

from domain.kpi import share


def paying_share(*, payers: int, members: int) -> float | None:
    """Members with at least one purchase up to the as-of date / members who had joined
    by then."""
    return share(payers, members)


def period_conversion(*, converted: int, non_paying_at_start: int) -> float | None:
    """Of the members who had joined before the window's first day and had not purchased
    before it (denominator), the share whose first purchase falls inside the window
    (numerator; first and last day inclusive; the report's window is the period
    [start, end], end <= as-of, so purchases after `end` do not count even when on or
    before the as-of day)."""
    return share(converted, non_paying_at_start)


def repeat_purchase_rate(*, repeaters: int, purchasers: int) -> float | None:
    """Members with >= 2 transactions (purchase days) in the window / members with >= 1
    in the same window."""
    return share(repeaters, purchasers)


def funnel(steps: list[int]) -> list[float | None]:
    """Step-to-step conversion: members reaching step k+1 / members reaching step k, for
    one cohort and window (member-level). One value per step after the first."""
    return [share(later, earlier) for earlier, later in zip(steps, steps[1:], strict=False)]
