"""Scenarios as data: a validated, JSON-shaped description of a strategy to simulate.

`parse(document)` checks a JSON document (dict) field by field and returns a frozen
`Scenario`; every problem found is reported at once in `InvalidScenario.errors` as
`FieldError(path, code, message)` with paths like `tiers.0.share`. `Scenario.to_dict()`
gives the document back (camelCase), so scenarios travel as JSON and pickle cleanly.
The schema is documented in the README ("Simulation sandbox").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from domain import churn, errors

MAX_HORIZON_DAYS = 3660
MAX_REPLICATES = 10_000
MAX_TIERS = 64  # member tiers are int8 (the daily count keys them as 2 x tier + 1)
MAX_CHANNELS = 100  # paid channels; acquisition channels are int8
TOUCH_CHANNELS = ("wechat", "douyin", "xiaohongshu", "offline", "app", "sms", "email")


@dataclass(frozen=True, slots=True)
class FieldError:
    path: str
    code: str
    message: str


class InvalidScenario(errors.DomainError):
    """A scenario document with one or more invalid fields (all listed in `errors`)."""

    code = "INVALID_SCENARIO"

    def __init__(self, field_errors: list[FieldError]) -> None:
        first = field_errors[0]
        summary = "; ".join(f"{e.path}: {e.message}" for e in field_errors)
        super().__init__(f"invalid scenario: {summary}", field=first.path)
        self.errors = field_errors


@dataclass(frozen=True, slots=True)
class Channel:
    """A paid channel: adds joinRate x sqrt(dailySpend / referenceSpend) to p each day."""

    key: str
    join_rate: float
    daily_spend_minor: int
    reference_spend_minor: int


@dataclass(frozen=True, slots=True)
class Market:
    size: int
    external_join_rate: float  # organic p
    word_of_mouth: float  # q
    channels: tuple[Channel, ...] = ()


@dataclass(frozen=True, slots=True)
class InitialPopulation:
    """Explicit starting members (what calibration fills): per member its tier index,
    whether it has paid, its days since last activity and its activity propensity."""

    tier: np.ndarray
    paying: np.ndarray
    days_inactive: np.ndarray
    propensity: np.ndarray


@dataclass(frozen=True, slots=True)
class Initial:
    members: int = 0
    paying_share: float = 0.0
    warm_up_days: int = 0
    from_database: bool = False
    population: InitialPopulation | None = None


@dataclass(frozen=True, slots=True)
class Touch:
    channel: str
    every_days: int
    cost_minor: int  # per member touched
    lift: float  # activity multiplier on touch days


@dataclass(frozen=True, slots=True)
class Tier:
    key: str
    share: float  # quota, 0-1, top tier first
    activity: float  # daily probability of any activity (before propensity and lifts)
    conversion_hazard: float  # daily probability of a first purchase on an active day
    churn_hazard: float  # daily base probability of leaving
    invite_rate: float  # invitations per active member-day before the reward response
    revenue_per_active_day_minor: int  # paying members, per active day
    touch: Touch


@dataclass(frozen=True, slots=True)
class Referral:
    enabled: bool = False
    reward_minor: int = 0
    acceptance_rate: float = 0.0
    max_uplift: float = 0.0  # k in rate0 * (1 + k * reward / (reward + half))
    half_saturation_minor: int = 1
    invitee_activity_factor: float = 1.0

    def invite_multiplier(self) -> float:
        """The response curve: 1 + k x reward / (reward + half); saturates at 1 + k."""
        r = self.reward_minor
        return 1.0 + self.max_uplift * r / (r + self.half_saturation_minor)


@dataclass(frozen=True, slots=True)
class WinBack:
    cost_minor: int
    effect: float  # added to the next day's activity probability


@dataclass(frozen=True, slots=True)
class Churn:
    enabled: bool = True
    streak_growth: float = 0.0  # hazard x (1 + streak_growth x days inactive)
    warning_levels: tuple[int, ...] = churn.DEFAULT_WARNING_AFTER_DAYS
    win_back: tuple[WinBack, ...] = ()


@dataclass(frozen=True, slots=True)
class Badges:
    enabled: bool = False
    streak_days: int = 7
    activity_lift: float = 1.0


@dataclass(frozen=True, slots=True)
class Campaign:
    name: str
    start_day: int
    end_day: int
    tiers: tuple[str, ...]
    conversion_uplift: float  # hazard x (1 + uplift) while running
    cost_minor: int  # charged on the start day


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    metric: str
    goal: float
    deadline_day: int


@dataclass(frozen=True, slots=True)
class Scenario:
    horizon_days: int
    seed: int
    replicates: int
    market: Market
    initial: Initial
    tiers: tuple[Tier, ...]
    referral: Referral = Referral()
    churn: Churn = Churn()
    badges: Badges = Badges()
    retier_every_days: int = 0
    propensity_shape: float = 2.0
    campaigns: tuple[Campaign, ...] = ()
    budget_minor: int | None = None
    targets: tuple[Target, ...] = ()
    name: str = ""
    document: dict = field(default_factory=dict, compare=False, repr=False)

    def tier_keys(self) -> list[str]:
        return [t.key for t in self.tiers]

    def to_dict(self) -> dict:
        """The scenario document (as validated)."""
        return self.document


def channel_keys(paid: list[str]) -> list[str]:
    """Acquisition channels of a scenario, in the simulator's order: organic, the paid
    channels, word of mouth, referral."""
    return ["organic", *paid, "wordOfMouth", "referral"]


def parse(document: dict) -> Scenario:
    """The validated scenario of a JSON document; raises `InvalidScenario` listing every
    field error (see `simulation.scenario_reader`)."""
    from simulation import scenario_reader  # the reader builds these types

    return scenario_reader.parse(document)
