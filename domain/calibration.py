"""Calibration: estimate a community's behaviour parameters from its own history.

The store (`uow.calibration`) reduces the `member_days` rollup to one summary row per
member (`MemberSummaries`); the pure estimators here turn those into per-tier rates with
standard errors and the state of every current member. The simulation reads this output
(`simulation.calibration` fills a scenario with it); the estimators live in `domain`
because `domain` must not import `simulation`, and they need nothing from it.

Definitions (all days are UTC days; the window is the `window_days` days ending at
`as_of`; the churn window `churn_days` defaults to 30):
- churned: no activity for `churn_days` days, i.e. last active day <= as_of - churn_days
  (churn is only ever seen as silence). The last `churn_days` days of the window are not
  yet settled, so activity and churn are estimated on the settled part
  [start, as_of - churn_days];
- activity (per tier): active days / observed days on the settled part, a join day not
  counted (joining is an event) and, for churned members, days from their last active
  day on not counted (given the churn day, the days before the last active day are
  ordinary days; the last one is active by definition);
- conversion hazard: first purchases in the window / active days of members who had not
  paid before that day (the purchase day included);
- churn hazard: churned members whose last active day is in the settled part / their
  member-days at risk (from the window start or join day to the last active day, or to
  the settled end, plus for each churned member the expected silent days before the
  unseen churn day, (1 - activity) / activity); the growth of the hazard with the
  inactivity streak is not identifiable from activity alone (the churn day itself is
  never observed) and is kept from the base scenario;
- invite rate: invitations sent / active member-days; acceptance: members joined by
  referral in the window / invitations sent in it;
- channel mix: shares of joins per channel in the window;
- market: with the market size N of the base scenario, daily external (non-referral)
  joins J_t = (N - C_t)(p + q M_t / N) give p and q by least squares of
  J_t / (N - C_t) on M_t / N (C_t: members joined so far, M_t: current members);
- per member: tier, paying (a purchase by as_of), days inactive at as_of, and a
  propensity (own activity relative to the tier's) shrunk towards 1 with a Gamma prior
  of shape `PRIOR_SHAPE`.
Standard errors are binomial sqrt(r (1 - r) / n) for probabilities, sqrt(k) / n for
Poisson rates, and the least-squares ones for p and q.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from domain import errors

DEFAULT_WINDOW_DAYS = 90
DEFAULT_CHURN_DAYS = 30
PRIOR_SHAPE = 2.0
MIN_MEMBERS = 20


class CalibrationError(errors.DomainError):
    code = "CALIBRATION_FAILED"


class NotEnoughData(CalibrationError):
    """Too few members or member-days to estimate anything."""

    code = "NOT_ENOUGH_DATA"


class AsOfInFuture(CalibrationError):
    """Calibration as of a day that has not ended."""

    code = "AS_OF_IN_FUTURE"


class TiersDoNotMatch(CalibrationError):
    """Members sit in tiers the scenario does not describe."""

    code = "TIERS_DO_NOT_MATCH"


def _day(value) -> int:
    """A date (or ISO string, as SQLite returns computed days) as a day number; -1 for
    none."""
    if value is None:
        return -1
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return value.toordinal()


@dataclass(frozen=True)
class MemberSummaries:
    """One entry per member (see `CalibrationRepository.member_summaries`); days are
    ordinals (`date.toordinal`), -1 when absent."""

    member_id: np.ndarray
    tier_id: np.ndarray  # -1 when the member has no tier
    channel: np.ndarray  # object (str)
    joined_day: np.ndarray
    last_active: np.ndarray
    first_purchase: np.ndarray
    active_days: np.ndarray
    unpaid_active_days: np.ndarray
    invites: np.ndarray
    paying_active_days: np.ndarray
    revenue_minor: np.ndarray
    settled_active_days: np.ndarray

    @classmethod
    def of_rows(cls, rows) -> MemberSummaries:
        def ints(values):
            return np.array(list(values), dtype=np.int64)

        return cls(
            member_id=ints(r.id for r in rows),
            tier_id=ints(-1 if r.tier_id is None else r.tier_id for r in rows),
            channel=np.array([r.channel for r in rows], dtype=object),
            joined_day=ints(_day(r.joined_day) for r in rows),
            last_active=ints(_day(r.last_active) for r in rows),
            first_purchase=ints(_day(r.first_purchase) for r in rows),
            active_days=ints(r.active_days for r in rows),
            unpaid_active_days=ints(r.unpaid_active_days for r in rows),
            invites=ints(r.invites for r in rows),
            paying_active_days=ints(r.paying_active_days for r in rows),
            revenue_minor=ints(r.revenue_minor for r in rows),
            settled_active_days=ints(r.settled_active_days for r in rows))

    def __len__(self) -> int:
        return len(self.member_id)


@dataclass(frozen=True, slots=True)
class Estimate:
    """A parameter estimate, its standard error and the sample it rests on (member-days,
    invitations, joins, or days for the market)."""

    value: float
    se: float
    n: int


@dataclass(frozen=True)
class Window:
    as_of: date
    window_days: int = DEFAULT_WINDOW_DAYS
    churn_days: int = DEFAULT_CHURN_DAYS

    @property
    def start(self) -> date:
        return self.as_of - timedelta(days=self.window_days - 1)

    @property
    def settled_end(self) -> date:
        return self.as_of - timedelta(days=self.churn_days)


@dataclass(frozen=True)
class InitialState:
    """Current members at `as_of` (in member id order): tier index (into the tier keys,
    top first), paying flag, days inactive and estimated propensity."""

    member_id: np.ndarray
    tier: np.ndarray
    paying: np.ndarray
    days_inactive: np.ndarray
    propensity: np.ndarray


@dataclass(frozen=True)
class Calibration:
    """Estimates keyed by scenario path (e.g. `tiers.core.activity`,
    `referral.acceptanceRate`, `market.wordOfMouth`, `channels.wechat`)."""

    window: Window
    tier_keys: tuple[str, ...]
    estimates: dict[str, Estimate]
    initial: InitialState
    notes: list[str] = field(default_factory=list)


def binomial(events: int, trials: int) -> Estimate:
    """events / trials with the binomial standard error (0 trials: value 0, se inf)."""
    if trials <= 0:
        return Estimate(0.0, math.inf, 0)
    r = events / trials
    return Estimate(r, math.sqrt(max(r * (1 - r), 0.25 / trials) / trials)
                    if r in (0.0, 1.0) else math.sqrt(r * (1 - r) / trials), int(trials))


def poisson_rate(count: int, exposure: int) -> Estimate:
    """count / exposure with the Poisson standard error sqrt(count) / exposure."""
    if exposure <= 0:
        return Estimate(0.0, math.inf, 0)
    return Estimate(count / exposure, math.sqrt(max(count, 1)) / exposure, int(exposure))


def bass_fit(joins: np.ndarray, members_before: np.ndarray, joined_before: np.ndarray,
             market_size: int) -> tuple[Estimate, Estimate] | None:
    """p and q of the Bass hazard from daily external joins: least squares of
    joins_t / (N - C_t) on M_t / N (M_t members at the start of day t, C_t everyone who
    joined before it); None when the days or the spread of M_t do not allow it."""
    remaining = market_size - joined_before
    ok = remaining > 0
    if market_size <= 0 or ok.sum() < 5:
        return None
    y = joins[ok] / remaining[ok]
    x = members_before[ok] / market_size
    design = np.column_stack([np.ones_like(x), x])
    gram = design.T @ design
    if np.linalg.cond(gram) > 1e12:
        return None
    beta = np.linalg.solve(gram, design.T @ y)
    # heteroscedastic (binomial) errors: Var(y_t) = h_t (1 - h_t) / remaining_t
    h = np.clip(design @ beta, 1e-12, 1.0)
    weights = h * (1 - h) / remaining[ok]
    inverse = np.linalg.inv(gram)
    cov = inverse @ (design.T * weights) @ design @ inverse
    n = int(ok.sum())
    return (Estimate(float(beta[0]), float(math.sqrt(cov[0, 0])), n),
            Estimate(float(beta[1]), float(math.sqrt(cov[1, 1])), n))


def estimate(s: MemberSummaries, *, window: Window, tier_ids: list[int | None],
             tier_keys: list[str], market_size: int | None = None,
             min_members: int = MIN_MEMBERS) -> Calibration:
    """The calibration of a community from its member summaries. `tier_ids[i]` is the
    database id of scenario tier `tier_keys[i]` (top first); members without a tier count
    in the last (lowest) tier. Raises `NotEnoughData` when fewer than `min_members`
    members were in the community during the window, `TiersDoNotMatch` when members sit
    in a tier the scenario lacks."""
    start, settled_end, as_of = (window.start.toordinal(), window.settled_end.toordinal(),
                                 window.as_of.toordinal())
    # members in the community at some point of the window: not churned before it
    present = (s.last_active >= start - window.churn_days) | (s.joined_day >= start)
    if int(present.sum()) < min_members:
        raise NotEnoughData(f"{int(present.sum())} members were active in the "
                            f"{window.window_days} days to {window.as_of}; calibration needs "
                            f"at least {min_members}", field="asOf")
    index = {tid: i for i, tid in enumerate(tier_ids) if tid is not None}
    lowest = len(tier_keys) - 1
    unknown = sorted({int(t) for t in s.tier_id[present] if t >= 0 and int(t) not in index})
    if unknown:
        raise TiersDoNotMatch(f"members are in tiers {unknown} that the scenario has no tier "
                              f"for (tier keys: {', '.join(tier_keys)})", field="scenario.tiers")
    tier = np.array([index.get(int(t), lowest) if t >= 0 else lowest for t in s.tier_id],
                    dtype=np.int64)

    churned = present & (s.last_active <= settled_end)
    first_observed = np.maximum(start, s.joined_day + 1)
    # activity: settled days after the join day, up to the day before the last active day
    # for the churned (their last active day and the silence after it not counted)
    last_observed = np.where(churned, s.last_active - 1, settled_end)
    activity_days = np.where(present, np.maximum(last_observed - first_observed + 1, 0), 0)
    # churn: member-days at risk from the window start (or join day) on
    at_risk = np.where(present, np.maximum(
        np.minimum(np.where(churned, s.last_active, settled_end), settled_end)
        - np.maximum(start, s.joined_day) + 1, 0), 0)
    churn_events = churned & (s.last_active >= start)

    est: dict[str, Estimate] = {}
    notes: list[str] = []
    rate = np.zeros(len(tier_keys))
    for i, key in enumerate(tier_keys):
        m = present & (tier == i)
        activity = binomial(int(s.settled_active_days[m].sum()), int(activity_days[m].sum()))
        rate[i] = activity.value
        est[f"tiers.{key}.activity"] = activity
        unpaid = m & ((s.first_purchase < 0) | (s.first_purchase >= start))
        conversions = int((unpaid & (s.first_purchase >= start)
                           & (s.first_purchase <= as_of)).sum())
        est[f"tiers.{key}.conversionHazard"] = binomial(
            conversions, int(s.unpaid_active_days[unpaid].sum()))
        # a churned member was still at risk on the silent days between the last active
        # day and the (unseen) churn day: (1 - p) / p of them on average
        events = int((churn_events & m).sum())
        gap = (1 - activity.value) / activity.value if activity.value > 0 else 0.0
        est[f"tiers.{key}.churnHazard"] = binomial(events,
                                                   int(round(at_risk[m].sum() + events * gap)))
        est[f"tiers.{key}.inviteRate"] = poisson_rate(int(s.invites[m].sum()),
                                                      int(s.active_days[m].sum()))
        paying_days = int(s.paying_active_days[m].sum())
        if paying_days:
            revenue = s.revenue_minor[m] / np.maximum(s.paying_active_days[m], 1)
            per_day = float(s.revenue_minor[m].sum()) / paying_days
            spread = float(np.std(revenue[s.paying_active_days[m] > 0]))
            est[f"tiers.{key}.revenuePerActiveDayMinor"] = Estimate(
                per_day, spread / math.sqrt(max(int((s.paying_active_days[m] > 0).sum()), 1)),
                paying_days)

    joined = (s.joined_day >= start) & (s.joined_day <= as_of)
    referred = joined & (s.channel == "referral")
    invites = int(s.invites[present].sum())
    est["referral.acceptanceRate"] = binomial(int(referred.sum()), invites)
    total_joins = int(joined.sum())
    for channel in sorted(set(s.channel[joined].tolist())):
        est[f"channels.{channel}"] = binomial(int((joined & (s.channel == channel)).sum()),
                                              total_joins)
    if market_size:
        fit = _market(s, window, market_size)
        if fit is None:
            notes.append("market p and q are not identified from the window's joins; kept "
                         "from the scenario")
        else:
            est["market.externalJoinRate"], est["market.wordOfMouth"] = fit
    notes.append("churn.streakGrowth is not identifiable from activity (the churn day is "
                 "never observed); kept from the scenario")
    return Calibration(window=window, tier_keys=tuple(tier_keys), estimates=est,
                       initial=_initial(s, window, tier, rate), notes=notes)


def _market(s: MemberSummaries, window: Window, market_size: int
            ) -> tuple[Estimate, Estimate] | None:
    start, as_of = window.start.toordinal(), window.as_of.toordinal()
    days = np.arange(start, as_of + 1)
    external = s.channel != "referral"
    joins = np.bincount(s.joined_day[external & (s.joined_day >= start)
                                     & (s.joined_day <= as_of)] - start,
                        minlength=len(days))[: len(days)]
    order = np.sort(s.joined_day)
    joined_before = np.searchsorted(order, days, side="left")
    # current members at the start of day t: joined before t, not churned before t
    # (a churned member counts until the day after the last active day)
    gone_after = np.sort(np.where(s.last_active >= 0, s.last_active, s.joined_day))
    churned_before = np.searchsorted(gone_after, days - window.churn_days, side="left")
    members_before = joined_before - churned_before
    return bass_fit(joins.astype(float), members_before.astype(float),
                    joined_before.astype(float), market_size)


def _initial(s: MemberSummaries, window: Window, tier: np.ndarray,
             rate: np.ndarray) -> InitialState:
    """Current members (not churned at `as_of`) with their estimated propensity: (own
    settled active days + shape) / (tier rate x own observed days + shape)."""
    as_of = window.as_of.toordinal()
    current = (s.last_active > as_of - window.churn_days) & (s.joined_day <= as_of)
    start, settled_end = window.start.toordinal(), window.settled_end.toordinal()
    observed = np.maximum(settled_end - np.maximum(start, s.joined_day + 1) + 1, 0)
    expected = rate[tier] * observed
    propensity = (s.settled_active_days + PRIOR_SHAPE) / (expected + PRIOR_SHAPE)
    return InitialState(member_id=s.member_id[current], tier=tier[current],
                        paying=(s.first_purchase[current] >= 0),
                        days_inactive=(as_of - s.last_active[current]),
                        propensity=propensity[current].astype(np.float32))


async def calibrate(uow, *, as_of: date, tier_keys: list[str], market_size: int | None = None,
                    window_days: int = DEFAULT_WINDOW_DAYS,
                    churn_days: int = DEFAULT_CHURN_DAYS, today: date | None = None
                    ) -> Calibration:
    """Read the member summaries as of `as_of` and estimate (see `estimate`). Tiers are
    matched by key. `as_of` may not be after `today` (when given)."""
    if today is not None and as_of > today:
        raise AsOfInFuture(f"asOf {as_of} is after today ({today})", field="asOf")
    if window_days <= churn_days:
        raise errors.InvalidValue(f"windowDays ({window_days}) must exceed the churn window "
                                  f"({churn_days})", field="windowDays")
    window = Window(as_of=as_of, window_days=window_days, churn_days=churn_days)
    ids_by_key = {key: tid for tid, key in (await uow.calibration.tier_keys()).items()}
    summaries = await uow.calibration.member_summaries(
        start=window.start, settled_end=window.settled_end, as_of=as_of)
    return estimate(summaries, window=window, tier_ids=[ids_by_key.get(k) for k in tier_keys],
                    tier_keys=tier_keys, market_size=market_size)
