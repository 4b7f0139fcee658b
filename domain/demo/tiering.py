"""The demo's three tiers and its value x engagement quota model (seed 003).

Core 核心层 15% (high spend and interaction: VIP service), potential 潜力层 35%
(the main conversion target), basic 基础层 50% (baseline maintenance). The
demo runs the model twice, at mid-window and at the end, so members have an
assignment history with moves between tiers.
"""

from __future__ import annotations

import numpy as np

from domain.demo.community import DAY, Assignments, Events, type_code
from domain.events import EventType
from domain.members import Channel
from domain.tiers import TierSpec, TouchStrategy

QUOTAS = (0.15, 0.35, 0.50)  # best tier first; sums to 1
MODEL_VERSION = 1
REASON = "demo seed: value x engagement quota 15/35/50"
# Value in fen: spend, plus what a member contributes otherwise (seed 003: value is
# spend, content and conversions driven), priced at rough operator equivalents.
VALUE_PER_POST_FEN = 500
VALUE_PER_REFERRAL_FEN = 3_500  # about the industry CAC the referral saved (DOMAIN.md)
RUN_HOUR = 2  # the nightly job runs at 02:00 UTC

TIERS = (
    TierSpec(
        key="core", name="核心层 Core", rank=1,
        description="High spend and high interaction: VIP service, the top 15% by "
                    "value x engagement.",
        benefits=("专属客服 1-on-1 service", "优先参与 priority access to events",
                  "专属线下活动 exclusive meetups", "生日礼包 birthday gift"),
        touch=TouchStrategy(channel=Channel.WECHAT, every_days=3,
                            content="1-on-1 care from a dedicated operator, previews and "
                                    "invitations to exclusive events"),
    ),
    TierSpec(
        key="potential", name="潜力层 Potential", rank=2,
        description="Medium spend and interaction: the main conversion target, the next 35%.",
        benefits=("新品优惠券 coupons on new products", "积分加倍 double points weeks",
                  "会员专场 member-only live sessions"),
        touch=TouchStrategy(channel=Channel.APP, every_days=7,
                            content="personalised offers and member events that convert"),
    ),
    TierSpec(
        key="basic", name="基础层 Basic", rank=3,
        description="Low spend and interaction: baseline maintenance, the remaining 50%.",
        benefits=("签到积分 check-in points", "新人礼包 newcomer pack"),
        touch=TouchStrategy(channel=Channel.WECHAT, every_days=14,
                            content="community digest and check-in reminders"),
    ),
)


def scores(events: Events, *, n: int, until: int) -> np.ndarray:
    """Value x engagement per member over events before `until` (seconds).

    Both factors are percentile ranks in (0, 1] (ties share their average rank),
    so neither spend in fen nor raw event counts dominate the product.
    """
    before = events.at < until
    member, kind = events.member[before], events.type[before]
    engaged = np.isin(kind, [type_code(t) for t in (
        EventType.LOGIN, EventType.POST, EventType.COMMENT, EventType.LIKE, EventType.SHARE,
        EventType.CHECK_IN)])
    engagement = np.bincount(member[engaged], minlength=n)
    spend = np.bincount(member, weights=events.amount_minor[before], minlength=n)
    posts = np.bincount(member[kind == type_code(EventType.POST)], minlength=n)
    joins = kind == type_code(EventType.REFERRAL_JOIN)
    referred = np.bincount(events.related[before][joins], minlength=n)
    value = spend + VALUE_PER_POST_FEN * posts + VALUE_PER_REFERRAL_FEN * referred
    return (average_ranks(value) / n) * (average_ranks(engagement) / n)


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (scipy's rankdata, without
    importing scipy.stats, which costs a second on every `tierwise` start)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    sizes = np.diff(np.r_[starts, len(values)])
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(starts + (sizes + 1) / 2, sizes)
    return ranks


def quota_tiers(score: np.ndarray, quotas: tuple[float, ...] = QUOTAS) -> np.ndarray:
    """Tier index per member: the best-scoring quotas[0] share in tier 0, and so on.

    Ties keep member order, so the result is deterministic.
    """
    order = np.argsort(-score, kind="stable")
    bounds = np.round(np.cumsum(quotas) * len(score)).astype(int)
    tier = np.empty(len(score), dtype=np.int8)
    for index, (lo, hi) in enumerate(zip(np.r_[0, bounds[:-1]], bounds, strict=True)):
        tier[order[lo:hi]] = index
    return tier


def assign(events: Events, *, joined: np.ndarray, days: int) -> tuple[Assignments, np.ndarray]:
    """Run the quota model at mid-window (members who had joined) and at the end.

    The end run records a row only for members whose tier changed or who had
    none, as a re-tiering job would. Returns the rows and the final tier per member.
    """
    n = len(joined)
    mid = (days // 2) * DAY + RUN_HOUR * 3600
    early = np.flatnonzero(joined < mid)
    first = np.full(n, -1, dtype=np.int8)
    if len(early):
        first[early] = quota_tiers(scores(events, n=n, until=mid)[early])
    final = quota_tiers(scores(events, n=n, until=days * DAY))
    moved = np.flatnonzero(final != first)
    end = days * DAY
    return Assignments(
        member=np.concatenate([early, moved]).astype(np.int32),
        tier=np.concatenate([first[early], final[moved]]).astype(np.int8),
        previous=np.concatenate([np.full(len(early), -1), first[moved]]).astype(np.int8),
        at=np.concatenate([np.full(len(early), mid), np.full(len(moved), end)]).astype(np.int64),
    ), final
