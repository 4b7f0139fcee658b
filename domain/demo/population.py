"""Who joins, when, through which channel, invited by whom, and for how long they stay.

Every member has a latent engagement `z` (standard normal). It drives how
often they are active, how much they interact, how long they stay, whether
they buy and how many friends they invite, so the heavy users are the same
people across all of those, as in a real community.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from domain.demo.community import CHANNELS, DAY, Identities, channel_code
from domain.members import Channel

GROWTH = np.log(3.0)  # the last day sees three times the joins of the first
REFERRED_SHARE = 0.16
REFERRED_QUALITY_PENALTY = 0.3  # seed 004: referral-driven growth lowers member quality
ORGANIC_MIX = {Channel.WECHAT: 0.38, Channel.DOUYIN: 0.22, Channel.XIAOHONGSHU: 0.18,
               Channel.OFFLINE: 0.14, Channel.APP: 0.08}
REFERRED_IDENTITY_MIX = {Channel.WECHAT: 0.75, Channel.APP: 0.25}  # invites travel on WeChat
SECOND_IDENTITY_MIX = {Channel.APP: 0.45, Channel.WECHAT: 0.25, Channel.XIAOHONGSHU: 0.12,
                       Channel.DOUYIN: 0.12, Channel.OFFLINE: 0.06}
MEAN_LIFETIME_DAYS = 45.0
IDENTITY_PREFIX = {Channel.WECHAT: "wx", Channel.DOUYIN: "dy", Channel.XIAOHONGSHU: "xhs",
                   Channel.OFFLINE: "card", Channel.APP: "app"}


@dataclass(frozen=True, slots=True)
class Population:
    joined: np.ndarray  # int64 seconds, sorted
    first_seen: np.ndarray  # int64 seconds
    z: np.ndarray  # float latent engagement
    channel: np.ndarray  # int8 acquisition channel code
    inviter: np.ndarray  # int32, -1 when organic
    leaves: np.ndarray  # int64 seconds: after this the member goes quiet (may be past the end)

    def __len__(self) -> int:
        return len(self.joined)


def draw(rng: np.random.Generator, *, n: int, days: int) -> Population:
    joined = join_times(rng, n=n, days=days)
    z = rng.standard_normal(n)
    inviter = draw_inviters(rng, joined=joined, z=z)
    z = np.where(inviter >= 0, z - REFERRED_QUALITY_PENALTY, z)
    channel = _codes(rng, ORGANIC_MIX, n)
    channel[inviter >= 0] = channel_code(Channel.REFERRAL)
    lifetime = rng.exponential(MEAN_LIFETIME_DAYS * np.exp(0.9 * z)) * DAY
    # A third were seen (an ad click, a store visit) up to two weeks before joining.
    seen_before = (rng.random(n) < 0.33) * rng.integers(0, 14 * DAY, size=n)
    return Population(joined=joined, first_seen=joined - seen_before, z=z, channel=channel,
                      inviter=inviter, leaves=joined + lifetime.astype(np.int64))


def join_times(rng: np.random.Generator, *, n: int, days: int) -> np.ndarray:
    """Join times with exponential growth over the window, sorted (member order)."""
    u = rng.random(n)
    day = days * np.log1p(u * np.expm1(GROWTH)) / GROWTH  # inverse CDF of exp(GROWTH t / days)
    return np.sort((day * DAY).astype(np.int64))


def draw_inviters(rng: np.random.Generator, *, joined: np.ndarray, z: np.ndarray) -> np.ndarray:
    """For a share of members, an inviter who joined strictly earlier; -1 for the rest.

    Engaged members invite more (weight exp(1.2 z)); invitees can invite in turn,
    so chains form.
    """
    n = len(joined)
    earlier = np.searchsorted(joined, joined, side="left")  # members who joined strictly before
    referred = (rng.random(n) < REFERRED_SHARE) & (earlier > 0)
    weights = np.cumsum(np.exp(1.2 * z))
    targets = rng.random(n) * weights[np.maximum(earlier - 1, 0)]
    picked = np.minimum(np.searchsorted(weights, targets, side="right"), earlier - 1)
    return np.where(referred, picked, -1).astype(np.int32)


def identities(rng: np.random.Generator, *, population: Population, days: int,
               seed: int) -> Identities:
    """One identity on the channel a member came through (referrals: WeChat or the app),
    and for about a third, engaged members more often, a second one elsewhere."""
    n = len(population)
    primary = population.channel.copy()
    referred = population.inviter >= 0
    primary[referred] = _codes(rng, REFERRED_IDENTITY_MIX, int(referred.sum()))
    second = _codes(rng, SECOND_IDENTITY_MIX, n)
    clash = second == primary
    second[clash] = channel_code(Channel.APP)
    second[clash & (primary == channel_code(Channel.APP))] = channel_code(Channel.WECHAT)
    has_second = rng.random(n) < 0.25 + 0.15 * np.tanh(population.z)
    span = np.minimum(population.leaves, days * DAY - 1) - population.joined
    later = population.joined + (rng.random(n) * np.maximum(span, 0)).astype(np.int64)
    members = np.concatenate([np.arange(n), np.flatnonzero(has_second)]).astype(np.int32)
    channels = np.concatenate([primary, second[has_second]])
    created = np.concatenate([population.joined, later[has_second]])
    return Identities(member=members, channel=channels, created=created,
                      external_id=_external_ids(members, channels, seed))


def primary_channels(identities: Identities, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each member's first and (if any, else again the first) second identity channel."""
    first = identities.channel[:n]
    second = first.copy()
    second[identities.member[n:]] = identities.channel[n:]
    return first, second


def _codes(rng, mix: dict[Channel, float], n: int) -> np.ndarray:
    codes = np.array([channel_code(c) for c in mix], dtype=np.int8)
    p = np.array(list(mix.values()))
    return codes[rng.choice(len(codes), size=n, p=p / p.sum())]


def _external_ids(members: np.ndarray, channels: np.ndarray, seed: int) -> list[str]:
    prefix = [IDENTITY_PREFIX.get(c, c.value) for c in CHANNELS]
    return [f"{prefix[c]}-s{seed}-{m:06d}"
            for m, c in zip(members.tolist(), channels.tolist(), strict=True)]
