"""The demo community behind `tierwise seed-demo`: deterministic, realistic, fast.

`generate(members=, days=, seed=, end=)` returns plain numpy columns (see
`community`); it touches no database (domain/store/bulk.py writes it). The
same arguments always give the same community. What it contains:

- members joining with growth over the `days` before `end`, acquired on WeChat,
  Douyin, Xiaohongshu, offline, the app, or by referral (invite chains);
- one or two channel identities each, and a Chinese-flavoured profile;
- sessions with logins, check-ins and heavy-tailed interactions (about 20%
  of members make 80% of interactions), purchases by a few per cent of members,
  referral invites and joins;
- three tiers (core 15% / potential 35% / basic 50%) by value x engagement,
  assigned at mid-window and re-assigned at the end.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from domain.demo import activity, population, profiles, tiering
from domain.demo.community import (
    CHANNELS,
    DAY,
    EVENT_TYPES,
    INTERACTION_TYPES,
    Community,
    Events,
    Members,
    channel_code,
    type_code,
)
from domain.errors import InvalidValue

__all__ = ["CHANNELS", "DAY", "EVENT_TYPES", "INTERACTION_TYPES", "Community", "Events",
           "InvalidDemoSize", "channel_code", "generate", "type_code"]
MAX_MEMBERS = 2_000_000
MAX_DAYS = 3_650


class InvalidDemoSize(InvalidValue):
    """Too few or too many members or days for a demo community."""


def generate(*, members: int, days: int, seed: int, end: date) -> Community:
    """The demo community of `members` members over the `days` days before `end`
    (so every time is before 00:00 UTC of `end`)."""
    if not 1 <= members <= MAX_MEMBERS:
        raise InvalidDemoSize(f"members must be 1-{MAX_MEMBERS}, got {members}", field="members")
    if not 1 <= days <= MAX_DAYS:
        raise InvalidDemoSize(f"days must be 1-{MAX_DAYS}, got {days}", field="days")
    rng = np.random.default_rng(seed)
    start = datetime.combine(end, time(), UTC) - timedelta(days=days)
    people = population.draw(rng, n=members, days=days)
    faces = profiles.draw(rng, n=members)
    identities = population.identities(rng, population=people, days=days, seed=seed)
    events = _events(rng, people=people, faces=faces, identities=identities, days=days,
                     first_weekday=start.weekday())
    assignments, tier_of = tiering.assign(events, joined=people.joined, days=days)
    return Community(
        seed=seed, start=start, days=days,
        members=Members(joined=people.joined, first_seen=people.first_seen,
                        channel=people.channel, inviter=people.inviter, profiles=faces),
        identities=identities, tiers=tiering.TIERS, tier_of=tier_of, assignments=assignments,
        events=events,
    )


def _events(rng, *, people, faces, identities, days: int, first_weekday: int) -> Events:
    member, day = activity.active_days(rng, population=people, days=days,
                                       first_weekday=first_weekday)
    parts = [
        activity.session_events(rng, population=people, member=member, day=day),
        activity.purchases(rng, population=people, days=days),
        activity.referrals(rng, population=people, days=days),
    ]
    topic_of = np.array([profiles.TOPICS.index(i[0]) for i in faces.interests], dtype=np.int16)
    channels = population.primary_channels(identities, len(people))
    return activity.assemble(parts, channels=channels, topic_of=topic_of, rng=rng)
