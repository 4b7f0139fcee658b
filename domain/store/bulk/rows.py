"""Rows of a demo community in table column order, built column-wise from its arrays."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

from domain import demo
from domain.demo import profiles, tiering
from domain.events import EventType
from domain.members import MemberStatus
from domain.store.bulk.drivers import Writer
from domain.tiers import AssignmentSource

BATCH = 50_000  # event rows per driver call
ACTOR = "seed-demo"
EVENT_COLUMNS = ("external_id", "member_id", "origin_member_id", "type", "occurred_at",
                 "amount_minor", "channel", "properties", "received_at")
MEMBER_COLUMNS = ("id", "display_name", "email", "phone", "age_band", "region", "occupation",
                  "interests", "channel", "joined_at", "first_seen_at", "status", "tier_id",
                  "tier_source", "created_at")
IDENTITY_COLUMNS = ("member_id", "channel", "external_id", "created_at")
ASSIGNMENT_COLUMNS = ("member_id", "tier_id", "previous_tier_id", "source", "model_version",
                      "actor", "reason", "assigned_at")


def member_rows(community: demo.Community, writer: Writer, ids: np.ndarray,
                 tier_ids: np.ndarray) -> list[tuple]:
    m, p = community.members, community.members.profiles
    joined = writer.times(m.joined)
    channel = [demo.CHANNELS[c].value for c in m.channel.tolist()]
    tier = tier_ids[community.tier_of].tolist()
    interests = [writer.json(list(i)) for i in p.interests]
    return list(zip(
        ids.tolist(), p.display_name, p.email, p.phone, p.age_band, p.region, p.occupation,
        interests, channel, joined, writer.times(m.first_seen),
        _repeat(MemberStatus.ACTIVE.value, len(ids)), tier,
        _repeat(AssignmentSource.MODEL.value, len(ids)), joined, strict=True,
    ))


def identity_rows(community: demo.Community, writer: Writer, ids: np.ndarray) -> list[tuple]:
    i = community.identities
    return list(zip(ids[i.member].tolist(), [demo.CHANNELS[c].value for c in i.channel.tolist()],
                    i.external_id, writer.times(i.created), strict=True))


def assignment_rows(community: demo.Community, writer: Writer, ids: np.ndarray,
                     tier_ids: np.ndarray, reason: str) -> list[tuple]:
    a = community.assignments
    n = len(a)
    previous = [None if t < 0 else int(tier_ids[t]) for t in a.previous.tolist()]
    return list(zip(ids[a.member].tolist(), tier_ids[a.tier].tolist(), previous,
                    _repeat(AssignmentSource.MODEL.value, n), _repeat(tiering.MODEL_VERSION, n),
                    _repeat(ACTOR, n), _repeat(reason, n), writer.times(a.at), strict=True))


def event_batches(community: demo.Community, writer: Writer,
                   ids: np.ndarray) -> Iterator[list[tuple]]:
    e = community.events
    type_names = np.array([t.value for t in demo.EVENT_TYPES], dtype=object)
    channel_names = np.array([c.value for c in demo.CHANNELS], dtype=object)
    purchase = demo.type_code(EventType.PURCHASE)
    for lo in range(0, len(e), BATCH):
        hi = min(lo + BATCH, len(e))
        member = ids[e.member[lo:hi]].tolist()
        at = writer.times(e.at[lo:hi])
        amount = np.where(e.type[lo:hi] == purchase, e.amount_minor[lo:hi], None).tolist()
        yield list(zip(
            [community.event_external_id(row) for row in range(lo, hi)], member, member,
            type_names[e.type[lo:hi]].tolist(), at, amount,
            channel_names[e.channel[lo:hi]].tolist(),
            _properties(community, writer, ids, lo, hi), at, strict=True,
        ))


def _properties(community: demo.Community, writer: Writer, ids: np.ndarray, lo: int,
                hi: int) -> list[str | None]:
    """JSON properties of posts (topic) and referrals (code, the other member's id)."""
    e = community.events
    out: list[str | None] = [None] * (hi - lo)
    kinds = e.type[lo:hi]
    for row in np.flatnonzero(kinds == demo.type_code(EventType.POST)).tolist():
        out[row] = writer.json({"topic": profiles.TOPICS[e.topic[lo + row]]})
    for row in np.flatnonzero(kinds == demo.type_code(EventType.REFERRAL_INVITE)).tolist():
        invitee = int(e.related[lo + row])
        value = {"referral_code": community.referral_code(int(e.member[lo + row]))}
        if invitee >= 0:
            value["invitee_member_id"] = int(ids[invitee])
        out[row] = writer.json(value)
    for row in np.flatnonzero(kinds == demo.type_code(EventType.REFERRAL_JOIN)).tolist():
        inviter = int(e.related[lo + row])
        out[row] = writer.json({"referral_code": community.referral_code(inviter),
                                "inviter_member_id": int(ids[inviter])})
    return out


def _repeat(value, count: int) -> itertools.repeat:
    return itertools.repeat(value, count)
