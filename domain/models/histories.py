"""Per-member purchase (or activity) histories: the inputs of BG/NBD and Gamma-Gamma.

A transaction is a *day* with at least one purchase (or one event, for the activity
basis): purchases by one member on one day count as one transaction, as in the
literature. Times are in **weeks** (days / 7), measured from the member's first
transaction day:

- `frequency` x: repeat transactions, i.e. transaction days - 1;
- `recency` t_x: weeks from the first to the last transaction day (0 when x = 0);
- `age` T: weeks from the first transaction day to the as-of day;
- `monetary`: mean revenue (minor units) per *repeat* transaction day, the first day
  excluded as in Fader, Hardie & Lee (2005); 0 where x = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from domain.errors import InvalidValue

DAYS_PER_WEEK = 7.0


@dataclass(frozen=True, eq=False)
class Histories:
    """Column arrays, one entry per member (all the same length)."""

    member_ids: np.ndarray  # int64
    frequency: np.ndarray   # float64, whole numbers >= 0
    recency: np.ndarray     # float64 weeks, 0 <= t_x <= T
    age: np.ndarray         # float64 weeks
    monetary: np.ndarray    # float64 minor units per repeat transaction

    def __len__(self) -> int:
        return len(self.member_ids)


def from_days(*, member_ids, transaction_days, first_to_last_days, first_to_as_of_days,
              repeat_revenue) -> Histories:
    """Histories from day counts: `transaction_days` per member, the days between the
    first and the last transaction day, the days between the first transaction day and
    the as-of day, and the revenue of the repeat days (all but the first)."""
    days = np.asarray(transaction_days, dtype=np.float64)
    frequency = days - 1.0
    revenue = np.asarray(repeat_revenue, dtype=np.float64)
    monetary = np.divide(revenue, frequency, out=np.zeros_like(revenue), where=frequency > 0)
    return Histories(
        member_ids=np.asarray(member_ids, dtype=np.int64),
        frequency=frequency,
        recency=np.asarray(first_to_last_days, dtype=np.float64) / DAYS_PER_WEEK,
        age=np.asarray(first_to_as_of_days, dtype=np.float64) / DAYS_PER_WEEK,
        monetary=monetary,
    )


def checked(frequency, recency, age) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three BG/NBD inputs as float64 arrays of one length, or InvalidValue naming
    the first violated rule (x a whole number >= 0, 0 <= t_x <= T, t_x = 0 when x = 0)."""
    x, t_x, age_ = (np.atleast_1d(np.asarray(v, dtype=np.float64))
                    for v in (frequency, recency, age))
    if not (x.shape == t_x.shape == age_.shape) or x.ndim != 1:
        raise InvalidValue(f"frequency, recency and age differ in shape: "
                           f"{x.shape}, {t_x.shape}, {age_.shape}", field="frequency")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(t_x)) and np.all(np.isfinite(age_))):
        raise InvalidValue("frequency, recency and age must be finite", field="frequency")
    if np.any(x < 0) or np.any(x != np.floor(x)):
        raise InvalidValue("frequency must be whole numbers >= 0", field="frequency")
    if np.any(t_x < 0) or np.any(t_x > age_ * (1 + 1e-12)):
        raise InvalidValue("recency must lie between 0 and age", field="recency")
    if np.any((x == 0) & (t_x != 0)):
        raise InvalidValue("recency must be 0 where frequency is 0", field="recency")
    return x, t_x, age_
