"""Behaviour events: sessions with logins, check-ins and interactions, purchases, referrals.

Rates are heavy-tailed through the latent engagement `z` (see population):
the daily activity probability and the interactions per active day are both
log-normal in z, which puts about 80% of interactions on the top 20% of
members (calibrated; tests/unit/test_demo.py checks it).
"""

from __future__ import annotations

import numpy as np

from domain.demo.community import DAY, Events, channel_code, type_code
from domain.demo.population import Population
from domain.events import EventType
from domain.members import Channel

ACTIVE_BASE, ACTIVE_SLOPE = 0.12, 0.9  # P(active on a day) = 0.12 exp(0.9 z), capped
INTERACTIONS_PER_ACTIVE_DAY, INTERACTIONS_NOISE = 3.5, 0.4
TOP_FIFTH_SHARE = 0.80  # of expected interactions; Poisson noise moves it under a point
CREATOR_SHARE = 0.08
# like, comment, share, post: most members react; creators also write.
INTERACTION_CODES = np.array([type_code(t) for t in (
    EventType.LIKE, EventType.COMMENT, EventType.SHARE, EventType.POST)], dtype=np.int8)
INTERACTION_MIX = np.array([[0.62, 0.22, 0.10, 0.06], [0.35, 0.30, 0.10, 0.25]])
# Local (UTC+8) hour-of-day weights: lunch and evening peaks.
LOCAL_HOURS = np.array([2, 1, .5, .3, .3, .5, 1.5, 3, 4, 4, 4, 5, 7, 5, 4, 4, 4, 5, 6, 8,
                        10, 10, 8, 4])
UTC_OFFSET_HOURS = 8
WEEKEND_LIFT = 1.15
SESSION_MINUTES = 12.0
BUYER_SHARE = 0.04  # seed 001/004: direct community conversion is a few per cent
PRICE_MEDIAN_FEN, PRICE_SIGMA = 15_900, 0.7
OPEN_INVITES_PER_JOIN = 1.5  # invites that never turn into a member
OFFLINE = channel_code(Channel.OFFLINE)
CHUNK = 4096  # members per block of the activity matrix (bounds memory)


def active_days(rng: np.random.Generator, *, population: Population, days: int,
                first_weekday: int) -> tuple[np.ndarray, np.ndarray]:
    """(member, day) of every day a member was active, member-major.

    A member is active on their join day, then on each day until they leave
    with probability ACTIVE_BASE exp(ACTIVE_SLOPE z), a little more at weekends.
    """
    p = np.minimum(ACTIVE_BASE * np.exp(ACTIVE_SLOPE * population.z), 0.9)
    weekday = (first_weekday + np.arange(days)) % 7
    lift = np.where(weekday >= 5, WEEKEND_LIFT, 1.0)
    first = population.joined // DAY
    last = np.minimum((population.leaves + DAY - 1) // DAY, days)
    members, day_list = [], []
    for lo in range(0, len(population), CHUNK):
        hi = min(lo + CHUNK, len(population))
        d = np.arange(days)[None, :]
        alive = (d >= first[lo:hi, None]) & (d < last[lo:hi, None])
        hit = rng.random((hi - lo, days)) < p[lo:hi, None] * lift[None, :]
        m, day = np.nonzero(alive & (hit | (d == first[lo:hi, None])))
        members.append(m + lo)
        day_list.append(day)
    return np.concatenate(members).astype(np.int32), np.concatenate(day_list).astype(np.int64)


def session_starts(rng: np.random.Generator, *, population: Population, member: np.ndarray,
                   day: np.ndarray) -> np.ndarray:
    """When each active day's session starts: at joining on the join day, else by the
    hour-of-day curve."""
    utc_hours = np.roll(LOCAL_HOURS, -UTC_OFFSET_HOURS)
    hour = rng.choice(24, size=len(member), p=utc_hours / utc_hours.sum())
    start = day * DAY + hour * 3600 + rng.integers(0, 3600, size=len(member))
    joined = population.joined[member]
    return np.where(day == joined // DAY, joined, start)


def in_session(rng: np.random.Generator, starts: np.ndarray) -> np.ndarray:
    """Times a few minutes after session starts, never past the end of that day."""
    offset = rng.exponential(SESSION_MINUTES * 60, size=len(starts)).astype(np.int64)
    return np.minimum(starts + offset, (starts // DAY + 1) * DAY - 1)


def session_events(rng: np.random.Generator, *, population: Population, member: np.ndarray,
                   day: np.ndarray) -> dict[str, np.ndarray]:
    """A login per active day, a check-in on some, and a heavy-tailed number of interactions."""
    n = len(population)
    starts = session_starts(rng, population=population, member=member, day=day)
    check_in_p = 1 / (1 + np.exp(1.2 - 0.8 * population.z))
    checks = rng.random(len(member)) < check_in_p[member]
    noise = INTERACTIONS_NOISE * rng.standard_normal(n)
    mu = interaction_rates(population.z, noise, active=np.bincount(member, minlength=n))
    counts = rng.poisson(mu[member])
    rows = np.repeat(np.arange(len(member)), counts)
    creator = (rng.random(n) < CREATOR_SHARE).astype(np.intp)
    cumulative = np.cumsum(INTERACTION_MIX, axis=1)[creator[member[rows]]]
    kinds = INTERACTION_CODES[(rng.random(len(rows))[:, None] > cumulative[:, :-1]).sum(axis=1)]
    return _columns(
        member=np.concatenate([member, member[checks], member[rows]]),
        kind=np.concatenate([np.full(len(member), type_code(EventType.LOGIN), np.int8),
                             np.full(int(checks.sum()), type_code(EventType.CHECK_IN), np.int8),
                             kinds]),
        at=np.concatenate([starts, in_session(rng, starts[checks]),
                           in_session(rng, starts[rows])]),
    )


def interaction_rates(z: np.ndarray, noise: np.ndarray, *, active: np.ndarray) -> np.ndarray:
    """Interactions per active day, exp(slope z + noise) scaled to
    INTERACTIONS_PER_ACTIVE_DAY on average.

    The slope is found by bisection so that the top fifth of members hold
    TOP_FIFTH_SHARE of expected interactions (rate x active days) in this
    window: longer windows spread active days more, and need a flatter slope.
    """
    lo, hi = 0.0, 3.0
    for _ in range(30):
        slope = (lo + hi) / 2
        if top_fifth_share(active * np.exp(slope * z + noise)) > TOP_FIFTH_SHARE:
            hi = slope
        else:
            lo = slope
    rate = np.exp(lo * z + noise)
    return rate * INTERACTIONS_PER_ACTIVE_DAY * active.sum() / max((rate * active).sum(), 1e-9)


def top_fifth_share(amounts: np.ndarray) -> float:
    """The share of the total held by the largest fifth of the entries."""
    ordered = np.sort(amounts)[::-1]
    total = ordered.sum()
    return float(ordered[:max(1, len(ordered) // 5)].sum() / total) if total else 0.0


def purchases(rng: np.random.Generator, *, population: Population,
              days: int) -> dict[str, np.ndarray]:
    """BUYER_SHARE of members buy, the engaged far more likely; 1-n orders each."""
    n = len(population)
    k = max(1, round(BUYER_SHARE * n))
    keys = 1.5 * population.z + rng.gumbel(size=n)  # Gumbel top-k: weighted, no replacement
    buyers = np.argsort(-keys, kind="stable")[:k]
    orders = rng.geometric(0.6, size=k)
    member = np.repeat(buyers, orders).astype(np.int32)
    at = _within_stay(rng, population=population, member=member, days=days)
    price = rng.lognormal(np.log(PRICE_MEDIAN_FEN), PRICE_SIGMA, size=len(member))
    yuan = np.maximum(np.round(price / 1000) * 10 - 1, 9)  # prices like 149, 199, 9
    return _columns(member=member, kind=np.full(len(member), type_code(EventType.PURCHASE),
                                                np.int8),
                    at=at, amount=(yuan * 100).astype(np.int64))


def referrals(rng: np.random.Generator, *, population: Population,
              days: int) -> dict[str, np.ndarray]:
    """An invite and a join per referred member, plus invites that never converted."""
    invitee = np.flatnonzero(population.inviter >= 0).astype(np.int32)
    inviter = population.inviter[invitee]
    joined = population.joined[invitee]
    gap = np.minimum(3 * DAY, joined - population.joined[inviter] - 1)
    invited_at = joined - (rng.random(len(invitee)) * gap).astype(np.int64)
    weights = np.exp(1.2 * population.z)
    open_count = round(OPEN_INVITES_PER_JOIN * len(invitee))
    senders = rng.choice(len(population), size=open_count, p=weights / weights.sum())
    senders = senders.astype(np.int32)
    open_at = _within_stay(rng, population=population, member=senders, days=days)
    invite, join = type_code(EventType.REFERRAL_INVITE), type_code(EventType.REFERRAL_JOIN)
    return _columns(
        member=np.concatenate([inviter, senders, invitee]),
        kind=np.repeat(np.array([invite, invite, join], np.int8),
                       [len(inviter), open_count, len(invitee)]),
        at=np.concatenate([invited_at, open_at, joined]),
        related=np.concatenate([invitee, np.full(open_count, -1, np.int32), inviter]),
    )


def assemble(parts: list[dict[str, np.ndarray]], *, channels: tuple[np.ndarray, np.ndarray],
             topic_of: np.ndarray, rng: np.random.Generator) -> Events:
    """Concatenate event parts, sort by time (then member) and fill channel and topic."""
    cols = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.lexsort((cols["member"], cols["at"]))
    cols = {key: value[order] for key, value in cols.items()}
    member = cols["member"]
    first, second = channels
    use_second = rng.random(len(member)) < 0.25
    channel = np.where(use_second, second[member], first[member]).astype(np.int8)
    # A store card is where offline members buy; online they use the app.
    online = (cols["kind"] != type_code(EventType.PURCHASE)) & (channel == OFFLINE)
    channel[online] = channel_code(Channel.APP)
    topic = np.where(cols["kind"] == type_code(EventType.POST), topic_of[member], -1)
    return Events(member=member, type=cols["kind"], at=cols["at"], amount_minor=cols["amount"],
                  channel=channel, related=cols["related"], topic=topic.astype(np.int16))


def _within_stay(rng, *, population: Population, member: np.ndarray, days: int) -> np.ndarray:
    """Uniform times between joining and leaving (or the window's end)."""
    joined = population.joined[member]
    stay = np.maximum(np.minimum(population.leaves[member], days * DAY) - joined, 1)
    return joined + (rng.random(len(member)) * stay).astype(np.int64)


def _columns(*, member, kind, at, amount=None, related=None) -> dict[str, np.ndarray]:
    size = len(member)
    return {"member": member.astype(np.int32), "kind": kind.astype(np.int8),
            "at": at.astype(np.int64),
            "amount": np.zeros(size, np.int64) if amount is None else amount,
            "related": np.full(size, -1, np.int32) if related is None else related}
