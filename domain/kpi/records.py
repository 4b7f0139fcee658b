"""What the KPI store hands back besides report inputs: stored targets, refresh runs and
stored model fits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.models.bgnbd import BgNbdFit
from domain.models.gamma_gamma import GammaGammaFit


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """What one refresh of the KPI rollups did."""

    full: bool
    days: int  # days recomputed
    members: int  # members recomputed
    events_watermark: int
    latest_day: date | None


@dataclass(frozen=True, slots=True)
class ModelFits:
    """The BG/NBD and Gamma-Gamma fits of the predictive LTV on one data set."""

    bgnbd: BgNbdFit
    gamma_gamma: GammaGammaFit


@dataclass(frozen=True, slots=True)
class StoredTarget:
    """A KPI target as stored: reach `goal` on `metric` by `deadline`, from `baseline`
    on `starts_on`."""

    id: int
    name: str
    metric: str
    baseline: float
    goal: float
    starts_on: date
    deadline: date
