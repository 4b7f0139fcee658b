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

import hashlib
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


@dataclass(frozen=True, eq=False)
class Grouped:
    """Buyers grouped by their (x, t_x, T) triple, with how many share each (`count`)
    and their mean repeat-transaction value (`monetary`: the triple's repeat revenue /
    (count x), 0 where x = 0); plus x and the mean repeat value of every member with
    x >= 1 (`spend_frequency`, `spend_monetary`: the Gamma-Gamma inputs). BG/NBD needs
    only the weighted triples, and a buyer's expected spend is affine in its mean value
    for a given x, so sums of predicted value over buyers need only the triple means.
    Whole-day data has a few tens of thousands of triples for hundreds of thousands of
    buyers."""

    frequency: np.ndarray   # float64 per triple
    recency: np.ndarray     # float64 weeks
    age: np.ndarray         # float64 weeks
    count: np.ndarray       # float64 members per triple
    monetary: np.ndarray    # float64 mean repeat value of the triple's members
    spend_frequency: np.ndarray  # float64 per member with x >= 1
    spend_monetary: np.ndarray   # float64

    def __len__(self) -> int:
        """The number of buyers."""
        return int(round(float(self.count.sum())))

    def fingerprint(self) -> str:
        """A digest of what the fits see (the weighted triples and the repeat buyers'
        (x, mean)), independent of row order."""
        triples = np.lexsort((self.age, self.recency, self.frequency))
        spend = np.lexsort((self.spend_monetary, self.spend_frequency))
        digest = hashlib.sha256()
        for column in (self.frequency[triples], self.recency[triples], self.age[triples],
                       self.count[triples], self.spend_frequency[spend],
                       self.spend_monetary[spend]):
            digest.update(np.ascontiguousarray(column, dtype=np.float64).tobytes())
        return digest.hexdigest()


def grouped_from_days(*, transaction_days, first_to_last_days, first_to_as_of_days, count,
                      repeat_revenue, spend_transaction_days, spend_repeat_revenue) -> Grouped:
    """`Grouped` from day counts per triple (transaction days, days first to last and
    first to as-of, members, their summed repeat revenue) and per repeat buyer
    (transaction days, repeat revenue)."""
    days = np.asarray(transaction_days, dtype=np.float64)
    frequency = days - 1.0
    n = np.asarray(count, dtype=np.float64)
    revenue = np.asarray(repeat_revenue, dtype=np.float64)
    spend_x = np.asarray(spend_transaction_days, dtype=np.float64) - 1.0
    spend_revenue = np.asarray(spend_repeat_revenue, dtype=np.float64)
    return Grouped(
        frequency=frequency,
        recency=np.asarray(first_to_last_days, dtype=np.float64) / DAYS_PER_WEEK,
        age=np.asarray(first_to_as_of_days, dtype=np.float64) / DAYS_PER_WEEK,
        count=n,
        monetary=np.divide(revenue, n * frequency, out=np.zeros_like(revenue),
                           where=frequency > 0),
        spend_frequency=spend_x,
        spend_monetary=np.divide(spend_revenue, spend_x, out=np.zeros_like(spend_revenue),
                                 where=spend_x > 0),
    )


def group(histories: Histories) -> Grouped:
    """Per-member histories grouped by (x, t_x, T) (see `Grouped`)."""
    h = histories
    if len(h) == 0:
        empty = np.zeros(0)
        return Grouped(empty, empty, empty, empty, empty, empty, empty)
    triples, index = np.unique(np.stack([h.frequency, h.recency, h.age]), axis=1,
                               return_inverse=True)
    index = np.ravel(index)
    count = np.bincount(index, minlength=triples.shape[1]).astype(np.float64)
    monetary = np.bincount(index, weights=h.monetary, minlength=triples.shape[1]) / count
    repeat = h.frequency > 0
    return Grouped(frequency=triples[0], recency=triples[1], age=triples[2], count=count,
                   monetary=monetary, spend_frequency=h.frequency[repeat],
                   spend_monetary=h.monetary[repeat])


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
