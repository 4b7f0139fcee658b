"""Member state of the fast model: a structure of numpy arrays, one row per member who
ever joined (join order), grown by doubling. Churned members keep their row (flagged,
with a propensity of 0 so they are never active) until `compact` drops them."""

from __future__ import annotations

import numpy as np

GONE = 2**30  # days_inactive of a churned member: never equal to a warning level

# name -> dtype of every per-member column
COLUMNS = {
    "tier": np.int8,  # index into scenario.tiers (0 = top tier)
    "alive": np.bool_,
    "paying": np.bool_,
    "active": np.bool_,  # active today (yesterday, before today's activity step)
    "days_inactive": np.int32,  # days since the last active day (0 = active today)
    "active_streak": np.int16,  # consecutive active days up to today
    "badge": np.bool_,  # earned the streak badge
    "propensity": np.float32,  # the member's own activity multiplier (mean 1)
    "p_active": np.float32,  # tier activity x propensity x badge lift (0 when gone)
    "churn_base": np.float32,  # the tier's churn hazard (0 when gone, so never again)
    "boost": np.float32,  # win-back effect added to the next day's activity probability
    "window_active_days": np.int16,  # active days since the last re-tiering
    "window_spend_minor": np.int64,  # spend since the last re-tiering
    "channel": np.int8,  # acquisition channel index (see Model.channel_keys)
}


class Population:
    """Rows 0..n-1 hold members; `alive` counts current members."""

    def __init__(self, capacity: int = 1024) -> None:
        self.n = 0
        self.alive_count = 0
        self.boosted = np.zeros(0, dtype=np.intp)  # rows with a win-back boost for tomorrow
        self._scratch = np.empty(0, dtype=np.float32)
        self.max_days_inactive = 0  # an upper bound on current members' days inactive
        self._arrays = {name: np.zeros(max(capacity, 16), dtype=dtype)
                        for name, dtype in COLUMNS.items()}
        self._bind()

    def _bind(self) -> None:
        for name, array in self._arrays.items():
            setattr(self, name, array[: self.n])

    def append(self, count: int, **values) -> slice:
        """Add `count` members; `values` fills columns (scalars or arrays), the rest are 0.
        Returns the slice of the new rows."""
        if self.n + count > len(self._arrays["tier"]):
            size = max(2 * len(self._arrays["tier"]), self.n + count)
            for name, array in self._arrays.items():
                grown = np.zeros(size, dtype=array.dtype)
                grown[: self.n] = array[: self.n]
                self._arrays[name] = grown
        rows = slice(self.n, self.n + count)
        for name, array in self._arrays.items():  # rows freed by `compact` hold old values
            array[rows] = values.get(name, 0)
        if count:
            self.max_days_inactive = max(self.max_days_inactive,
                                         int(np.max(values.get("days_inactive", 0))))
        self._arrays["alive"][rows] = True
        self.n += count
        self.alive_count += count
        self._bind()
        return rows

    def scratch(self) -> np.ndarray:
        """A float32 work array of length n, reused from day to day (saves allocating and
        faulting in a fresh array for every vectorised step)."""
        if len(self._scratch) < self.n:
            self._scratch = np.empty(len(self._arrays["tier"]), dtype=np.float32)
        return self._scratch[: self.n]

    def compact(self) -> None:
        """Drop churned members' rows (keeps join order)."""
        keep = self.alive.copy()
        for array in self._arrays.values():
            kept = array[: self.n][keep]
            array[: len(kept)] = kept
        self.n = int(keep.sum())
        self.boosted = np.flatnonzero(self.boost[: self.n])
        self._bind()
