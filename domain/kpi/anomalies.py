"""Anomaly flags on daily KPIs (the 3-sigma rule)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TRAILING_DAYS = 28
SIGMAS = 3.0


@dataclass(frozen=True, slots=True)
class Anomaly:
    index: int  # position in the series (the caller maps it to a date)
    value: float
    trailing_mean: float
    trailing_std: float


def three_sigma(series: np.ndarray, *, trailing: int = TRAILING_DAYS,
                sigmas: float = SIGMAS) -> list[Anomaly]:
    """Days whose value lies more than `sigmas` standard deviations (sample standard
    deviation, ddof=1) from the mean of the `trailing` days before it. The first
    `trailing` days have no full history and are never flagged; a flat history (zero
    deviation) flags any change."""
    values = np.asarray(series, dtype=float)
    if values.size <= trailing:
        return []
    windows = np.lib.stride_tricks.sliding_window_view(values[:-1], trailing)
    means, stds = windows.mean(axis=1), windows.std(axis=1, ddof=1)
    current = values[trailing:]
    flagged = np.abs(current - means) > sigmas * stds
    flagged &= ~((stds == 0) & (current == means))
    return [Anomaly(index=int(i) + trailing, value=float(current[i]),
                    trailing_mean=float(means[i]), trailing_std=float(stds[i]))
            for i in np.flatnonzero(flagged)]
