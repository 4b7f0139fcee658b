"""Reading a scenario document: every field checked, every problem recorded by path.

`parse` is `simulation.scenario.parse`; this module holds the field-by-field reading so
the scenario types stay short."""

from __future__ import annotations

import math

from domain import churn
from domain.kpi import daily
from simulation.scenario import (
    MAX_CHANNELS,
    MAX_HORIZON_DAYS,
    MAX_REPLICATES,
    MAX_TIERS,
    TOUCH_CHANNELS,
    Badges,
    Campaign,
    Channel,
    Churn,
    FieldError,
    Initial,
    InvalidScenario,
    Market,
    Referral,
    Scenario,
    Target,
    Tier,
    Touch,
    WinBack,
    channel_keys,
)

# --- reading a document ----------------------------------------------------------------


class _Reader:
    """Reads typed values out of a nested dict, recording every problem by path."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, path: str, code: str, message: str) -> None:
        self.errors.append(FieldError(path, code, message))

    def obj(self, doc: dict, key: str, path: str, *, required: bool = True) -> dict:
        value = doc.get(key)
        if value is None:
            if required:
                self.fail(path, "REQUIRED", f"{path} is required")
            return {}
        if not isinstance(value, dict):
            self.fail(path, "WRONG_TYPE", f"{path} must be an object")
            return {}
        return value

    def items(self, doc: dict, key: str, path: str) -> list:
        value = doc.get(key, [])
        if not isinstance(value, list):
            self.fail(path, "WRONG_TYPE", f"{path} must be a list")
            return []
        return value

    def num(self, doc: dict, key: str, path: str, *, default=None, lo=-math.inf, hi=math.inf,
            integer: bool = False):
        value = doc.get(key, default)
        if value is None:
            self.fail(path, "REQUIRED", f"{path} is required")
            return lo if lo > -math.inf else 0
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                integer and not float(value).is_integer()) or not math.isfinite(value):
            kind = "an integer" if integer else "a number"
            self.fail(path, "WRONG_TYPE", f"{path} must be {kind}, got {value!r}")
            return lo if lo > -math.inf else 0
        if not lo <= value <= hi:
            self.fail(path, "OUT_OF_RANGE", f"{path} must be in [{lo:g}, {hi:g}], got {value}")
        return int(value) if integer else float(value)

    def flag(self, doc: dict, key: str, path: str, *, default: bool) -> bool:
        value = doc.get(key, default)
        if not isinstance(value, bool):
            self.fail(path, "WRONG_TYPE", f"{path} must be true or false")
            return default
        return value

    def text(self, doc: dict, key: str, path: str, *, default: str | None = None) -> str:
        value = doc.get(key, default)
        if not isinstance(value, str) or not value:
            self.fail(path, "REQUIRED", f"{path} must be a non-empty string")
            return ""
        return value


def parse(document: dict) -> Scenario:
    """The validated scenario of a JSON document; raises `InvalidScenario` listing every
    field error."""
    r = _Reader()
    if not isinstance(document, dict):
        raise InvalidScenario([FieldError("", "WRONG_TYPE", "a scenario is a JSON object")])
    horizon = r.num(document, "horizonDays", "horizonDays", lo=1, hi=MAX_HORIZON_DAYS,
                    integer=True)
    tiers = _tiers(r, document)
    keys = [t.key for t in tiers]
    last_day = horizon if 1 <= horizon <= MAX_HORIZON_DAYS else MAX_HORIZON_DAYS
    scenario = Scenario(
        horizon_days=horizon,
        seed=r.num(document, "seed", "seed", default=0, lo=0, hi=2**63 - 1, integer=True),
        replicates=r.num(document, "replicates", "replicates", default=100, lo=1,
                         hi=MAX_REPLICATES, integer=True),
        market=_market(r, document), initial=_initial(r, document), tiers=tiers,
        referral=_referral(r, document), churn=_churn(r, document),
        badges=_badges(r, document),
        retier_every_days=r.num(r.obj(document, "retiering", "retiering", required=False),
                                "everyDays",
                                "retiering.everyDays", default=0, lo=0, hi=3660, integer=True),
        propensity_shape=r.num(document, "propensityShape", "propensityShape", default=2.0,
                               lo=0.05, hi=1e6),
        campaigns=_campaigns(r, document, keys, last_day),
        budget_minor=_budget(r, document),
        targets=_targets(r, document, keys, last_day),
        name=document.get("name", "") if isinstance(document.get("name", ""), str) else "",
        document=document,
    )
    if r.errors:
        raise InvalidScenario(r.errors)
    return scenario


def _market(r: _Reader, doc: dict) -> Market:
    m = r.obj(doc, "market", "market")
    channels = []
    for i, c in enumerate(r.items(m, "channels", "market.channels")):
        path = f"market.channels.{i}"
        c = c if isinstance(c, dict) else {}
        channels.append(Channel(
            key=r.text(c, "key", f"{path}.key"),
            join_rate=r.num(c, "joinRate", f"{path}.joinRate", lo=0, hi=1),
            daily_spend_minor=r.num(c, "dailySpendMinor", f"{path}.dailySpendMinor", lo=0,
                                    integer=True),
            reference_spend_minor=r.num(c, "referenceSpendMinor", f"{path}.referenceSpendMinor",
                                        lo=1, integer=True)))
    _check_channel_keys(r, channels)
    return Market(size=r.num(m, "size", "market.size", lo=0, hi=1e9, integer=True),
                  external_join_rate=r.num(m, "externalJoinRate", "market.externalJoinRate",
                                           lo=0, hi=1),
                  word_of_mouth=r.num(m, "wordOfMouth", "market.wordOfMouth", lo=0, hi=1),
                  channels=tuple(channels))


def _check_channel_keys(r: _Reader, channels: list[Channel]) -> None:
    """Paid channel keys name one KPI series each (`newMembersByChannel.<key>`): unique, and
    none of the simulator's own channels (organic, wordOfMouth, referral)."""
    if len(channels) > MAX_CHANNELS:
        r.fail("market.channels", "OUT_OF_RANGE", f"at most {MAX_CHANNELS} paid channels")
    taken = set(channel_keys([]))
    for i, c in enumerate(channels):
        if c.key and c.key in taken:  # a missing key is reported as REQUIRED
            r.fail(f"market.channels.{i}.key", "DUPLICATE_CHANNEL",
                   f"channel key {c.key!r} is already used (organic, wordOfMouth and "
                   "referral are the simulator's own)")
        taken.add(c.key)


def _initial(r: _Reader, doc: dict) -> Initial:
    i = r.obj(doc, "initial", "initial")
    warm_up = r.num(i, "warmUpDays", "initial.warmUpDays", default=0, lo=0, hi=365,
                    integer=True)
    if r.flag(i, "fromDatabase", "initial.fromDatabase", default=False):
        return Initial(from_database=True, warm_up_days=warm_up)
    return Initial(members=r.num(i, "members", "initial.members", lo=0, hi=1e8, integer=True),
                   paying_share=r.num(i, "payingShare", "initial.payingShare", default=0.0,
                                      lo=0, hi=1), warm_up_days=warm_up)


def _tiers(r: _Reader, doc: dict) -> tuple[Tier, ...]:
    raw = r.items(doc, "tiers", "tiers")
    if not raw:
        r.fail("tiers", "REQUIRED", "at least one tier is required")
    tiers = []
    for i, t in enumerate(raw):
        p = f"tiers.{i}"
        t = t if isinstance(t, dict) else {}
        touch = r.obj(t, "touch", f"{p}.touch", required=False)
        tiers.append(Tier(
            key=r.text(t, "key", f"{p}.key"),
            share=r.num(t, "share", f"{p}.share", lo=0, hi=1),
            activity=r.num(t, "activity", f"{p}.activity", lo=0, hi=1),
            conversion_hazard=r.num(t, "conversionHazard", f"{p}.conversionHazard", lo=0, hi=1),
            churn_hazard=r.num(t, "churnHazard", f"{p}.churnHazard", lo=0, hi=1),
            invite_rate=r.num(t, "inviteRate", f"{p}.inviteRate", default=0.0, lo=0, hi=100),
            revenue_per_active_day_minor=r.num(t, "revenuePerActiveDayMinor",
                                               f"{p}.revenuePerActiveDayMinor", default=0,
                                               lo=0, integer=True),
            touch=Touch(
                channel=str(touch.get("channel", "app")),
                every_days=r.num(touch, "everyDays", f"{p}.touch.everyDays", default=0, lo=0,
                                 hi=3660, integer=True),
                cost_minor=r.num(touch, "costMinor", f"{p}.touch.costMinor", default=0, lo=0,
                                 integer=True),
                lift=r.num(touch, "lift", f"{p}.touch.lift", default=1.0, lo=0, hi=100))))
        if touch.get("channel", "app") not in TOUCH_CHANNELS:
            r.fail(f"{p}.touch.channel", "UNKNOWN_CHANNEL",
                   f"touch channel must be one of {', '.join(TOUCH_CHANNELS)}")
    if len(tiers) > MAX_TIERS:
        r.fail("tiers", "OUT_OF_RANGE", f"at most {MAX_TIERS} tiers")
    keys = [t.key for t in tiers]
    for i, key in enumerate(keys):
        if key in keys[:i]:
            r.fail(f"tiers.{i}.key", "DUPLICATE_TIER", f"tier key {key!r} appears twice")
    if tiers and abs(sum(t.share for t in tiers) - 1.0) > 1e-6:
        r.fail("tiers", "SHARES_NOT_1", f"tier shares add up to "
               f"{sum(t.share for t in tiers):g}, not 1")
    return tuple(tiers)


def _referral(r: _Reader, doc: dict) -> Referral:
    d = r.obj(doc, "referral", "referral", required=False)
    curve = r.obj(d, "responseCurve", "referral.responseCurve", required=False)
    return Referral(
        enabled=r.flag(d, "enabled", "referral.enabled", default=False),
        reward_minor=r.num(d, "rewardMinor", "referral.rewardMinor", default=0, lo=0,
                           integer=True),
        acceptance_rate=r.num(d, "acceptanceRate", "referral.acceptanceRate", default=0.0,
                              lo=0, hi=1),
        max_uplift=r.num(curve, "maxUplift", "referral.responseCurve.maxUplift", default=0.0,
                         lo=0, hi=100),
        half_saturation_minor=r.num(curve, "halfSaturationMinor",
                                    "referral.responseCurve.halfSaturationMinor", default=1,
                                    lo=1, integer=True),
        invitee_activity_factor=r.num(d, "inviteeActivityFactor",
                                      "referral.inviteeActivityFactor", default=1.0, lo=0,
                                      hi=100))


def _churn(r: _Reader, doc: dict) -> Churn:
    d = r.obj(doc, "churn", "churn", required=False)
    levels = d.get("warningLevels", list(churn.DEFAULT_WARNING_AFTER_DAYS))
    if not isinstance(levels, list) or not all(isinstance(v, int) for v in levels):
        r.fail("churn.warningLevels", "WRONG_TYPE", "warningLevels must be a list of integers")
        levels = list(churn.DEFAULT_WARNING_AFTER_DAYS)
    try:  # the product's own rules for warning levels
        churn.validate_policy(churn.build_policy(tier_keys=(), warning_after_days=tuple(levels)),
                              tier_keys=())
    except churn.ChurnError as error:
        r.fail((error.field or "").replace("churn.warningAfterDays", "churn.warningLevels"),
               error.code, error.message)
    win_back = []
    for i, w in enumerate(r.items(d, "winBack", "churn.winBack")):
        w = w if isinstance(w, dict) else {}
        win_back.append(WinBack(
            cost_minor=r.num(w, "costMinor", f"churn.winBack.{i}.costMinor", lo=0, integer=True),
            effect=r.num(w, "effect", f"churn.winBack.{i}.effect", lo=0, hi=1)))
    if win_back and len(win_back) != len(levels):
        r.fail("churn.winBack", "ACTIONS_DO_NOT_MATCH_LEVELS",
               f"{len(win_back)} win-back actions for {len(levels)} warning levels")
    return Churn(enabled=r.flag(d, "enabled", "churn.enabled", default=True),
                 streak_growth=r.num(d, "streakGrowth", "churn.streakGrowth", default=0.0, lo=0,
                                     hi=100),
                 warning_levels=tuple(levels), win_back=tuple(win_back))


def _badges(r: _Reader, doc: dict) -> Badges:
    d = r.obj(doc, "badges", "badges", required=False)
    return Badges(enabled=r.flag(d, "enabled", "badges.enabled", default=False),
                  streak_days=r.num(d, "streakDays", "badges.streakDays", default=7, lo=1,
                                    hi=365, integer=True),
                  activity_lift=r.num(d, "activityLift", "badges.activityLift", default=1.0,
                                      lo=0, hi=100))


def _campaigns(r: _Reader, doc: dict, keys: list[str], horizon: int) -> tuple[Campaign, ...]:
    out = []
    for i, c in enumerate(r.items(doc, "campaigns", "campaigns")):
        p = f"campaigns.{i}"
        c = c if isinstance(c, dict) else {}
        start = r.num(c, "startDay", f"{p}.startDay", lo=1, hi=horizon, integer=True)
        end = r.num(c, "endDay", f"{p}.endDay", lo=1, hi=horizon, integer=True)
        if end < start:
            r.fail(f"{p}.endDay", "ENDS_BEFORE_START", f"endDay {end} is before startDay {start}")
        tiers = c.get("tiers", keys)
        if not isinstance(tiers, list):
            r.fail(f"{p}.tiers", "WRONG_TYPE", "tiers must be a list of tier keys")
            tiers = []
        for j, key in enumerate(tiers):
            if key not in keys:
                r.fail(f"{p}.tiers.{j}", "UNKNOWN_TIER", f"no tier has key {key!r}")
        out.append(Campaign(
            name=str(c.get("name", f"campaign {i + 1}")), start_day=start, end_day=end,
            tiers=tuple(tiers),
            conversion_uplift=r.num(c, "conversionUplift", f"{p}.conversionUplift", default=0.0,
                                    lo=0, hi=100),
            cost_minor=r.num(c, "costMinor", f"{p}.costMinor", default=0, lo=0, integer=True)))
    return tuple(out)


def _budget(r: _Reader, doc: dict) -> int | None:
    d = r.obj(doc, "budget", "budget", required=False)
    if "totalMinor" not in d:
        return None
    return r.num(d, "totalMinor", "budget.totalMinor", lo=0, integer=True)


def _targets(r: _Reader, doc: dict, keys: list[str], horizon: int) -> tuple[Target, ...]:
    market = doc.get("market") if isinstance(doc.get("market"), dict) else {}
    listed = market.get("channels", [])
    paid = [c.get("key") for c in listed if isinstance(c, dict)] if isinstance(
        listed, list) else []
    known = set(daily.names(keys, channel_keys(paid)))
    out = []
    for i, t in enumerate(r.items(doc, "targets", "targets")):
        p = f"targets.{i}"
        t = t if isinstance(t, dict) else {}
        metric = r.text(t, "metric", f"{p}.metric")
        if metric and metric not in known:
            r.fail(f"{p}.metric", "UNKNOWN_METRIC", f"unknown metric {metric!r}; known: "
                   f"{', '.join(sorted(known))}")
        out.append(Target(name=str(t.get("name", metric)), metric=metric,
                          goal=r.num(t, "goal", f"{p}.goal"),
                          deadline_day=r.num(t, "deadlineDay", f"{p}.deadlineDay", lo=1,
                                             hi=horizon, integer=True)))
    return tuple(out)
