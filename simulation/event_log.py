"""The simulator as a community generator: run a scenario and keep its event log.

`community(scenario, start=...)` runs the fast model for the scenario's horizon and
returns a `domain.demo.Community` (members, events) that the bulk writer
(`domain.store.bulk.write_community`) stores like any generated demo community. It is how
the calibration test gets a community whose true parameters are known.

Day 0 is the starting state: the initial members join at `start` and those active then
log in (paying ones also buy); simulated day d is `start + d days`. Each day's events,
per member: a login on an active day, a purchase (the day's spend) when paying and
active or on the first-purchase day, and the referral invitations the model sends the
next day on the strength of that active day. The model draws
invitations per tier in aggregate, so the log draws each active member's own
(Poisson with the tier's rate, from `invite_seed`); acceptances are the model's. Only
scenarios without re-tiering are recorded (a member's tier is then fixed).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from domain import demo
from domain.demo.community import Assignments, Identities, Profiles
from domain.events import EventType
from domain.members import Channel
from domain.tiers import TierSpec, TouchStrategy
from simulation.model import CommunityModel
from simulation.scenario import Scenario

NOON = demo.DAY // 2


def member_channel(key: str) -> Channel:
    """The product channel a simulated acquisition channel is recorded as: organic -> app,
    word of mouth -> wechat, referral -> referral, a paid channel by its key (douyin when
    it names no product channel)."""
    named = {"organic": Channel.APP, "wordOfMouth": Channel.WECHAT,
             "referral": Channel.REFERRAL}
    if key in named:
        return named[key]
    return Channel(key) if key in {c.value for c in Channel} else Channel.DOUYIN


def community(scenario: Scenario, *, start: datetime, invite_seed: int = 0) -> demo.Community:
    """The event log of one run of `scenario` (seed `scenario.seed`) as a community."""
    if scenario.retier_every_days:
        raise ValueError("the event log is recorded for scenarios without re-tiering")
    model = CommunityModel(scenario, rng=scenario.seed)
    pop, rules = model.population, model.rules
    invite_rng = np.random.default_rng(invite_seed)
    channels = np.array([demo.channel_code(member_channel(k)) for k in rules.channel_keys],
                        dtype=np.int8)
    log: dict[str, list[np.ndarray]] = {"member": [], "type": [], "at": [], "amount": []}

    def emit(rows: np.ndarray, kind: EventType, day: int, amount=0) -> None:
        log["member"].append(rows.astype(np.int32))
        log["type"].append(np.full(len(rows), demo.type_code(kind), np.int8))
        log["at"].append(np.full(len(rows), day * demo.DAY + NOON, np.int64))
        log["amount"].append(np.broadcast_to(np.asarray(amount, np.int64), rows.shape).copy())

    n0 = pop.n
    start_rows = np.flatnonzero(pop.active)
    emit(start_rows, EventType.LOGIN, 0)
    paying0 = np.flatnonzero(pop.active & pop.paying)
    emit(paying0, EventType.PURCHASE, 0, np.maximum(rules.revenue[pop.tier[paying0]], 1))
    joined = [np.zeros(n0, np.int64)]
    member_channels = [np.full(n0, demo.channel_code(Channel.OFFLINE), np.int8)]
    for day in range(1, scenario.horizon_days + 1):
        n = pop.n
        active_days, spend = pop.window_active_days.copy(), pop.window_spend_minor.copy()
        paying = pop.paying.copy()
        inviters = np.flatnonzero(pop.active)  # active yesterday and still members
        model.step()
        if pop.n < n:
            raise ValueError("the population was compacted; record a smaller scenario")
        new = np.arange(n, pop.n)
        joined.append(np.full(len(new), day * demo.DAY, np.int64))
        member_channels.append(channels[pop.channel[new]])
        pad = pop.n - n
        active = np.flatnonzero(pop.window_active_days - np.pad(active_days, (0, pad)))
        spent = pop.window_spend_minor - np.pad(spend, (0, pad))
        first = pop.paying & ~np.pad(paying, (0, pad))
        buyers = np.flatnonzero((spent > 0) | first)
        emit(active, EventType.LOGIN, day)
        emit(buyers, EventType.PURCHASE, day, np.maximum(spent[buyers], 1))
        if rules.invite.any() and scenario.referral.enabled:
            sent = invite_rng.poisson(rules.invite[pop.tier[inviters]])
            # logged on the inviter's active day (yesterday), so an invitation never
            # makes an inactive day look active
            emit(np.repeat(inviters, sent), EventType.REFERRAL_INVITE, day - 1)
    if rules.invite.any() and scenario.referral.enabled:  # what the last day's activity sends
        inviters = np.flatnonzero(pop.active)
        sent = invite_rng.poisson(rules.invite[pop.tier[inviters]])
        emit(np.repeat(inviters, sent), EventType.REFERRAL_INVITE, scenario.horizon_days)
    return _as_community(scenario, start, pop.tier[: pop.n], np.concatenate(joined),
                         np.concatenate(member_channels), log)


def _as_community(scenario: Scenario, start: datetime, tier: np.ndarray, joined: np.ndarray,
                  channel: np.ndarray, log: dict) -> demo.Community:
    n = len(joined)
    member = np.concatenate(log["member"])
    at = np.concatenate(log["at"])
    kinds = np.concatenate(log["type"])
    order = np.lexsort((kinds, member, at))
    count = len(order)
    events = demo.Events(
        member=member[order], type=kinds[order], at=at[order],
        amount_minor=np.concatenate(log["amount"])[order],
        channel=channel[member[order]], related=np.full(count, -1, np.int32),
        topic=np.full(count, -1, np.int16))
    profiles = Profiles(
        display_name=[f"Sim member {i}" for i in range(n)], email=[None] * n,
        phone=[None] * n, age_band=["25-34"] * n, region=["sim"] * n,
        occupation=["sim"] * n, interests=[()] * n)
    members = demo.Members(joined=joined, first_seen=joined.copy(), channel=channel,
                           inviter=np.full(n, -1, np.int32), profiles=profiles)
    identities = Identities(member=np.zeros(0, np.int32), channel=np.zeros(0, np.int8),
                                 created=np.zeros(0, np.int64), external_id=[])
    tiers = tuple(TierSpec(key=t.key, name=t.key.title(), rank=i + 1, description="",
                           benefits=(), touch=TouchStrategy(
                               channel=Channel(t.touch.channel) if t.touch.channel in
                               {c.value for c in Channel} else Channel.APP,
                               every_days=max(t.touch.every_days, 1), content=""))
                  for i, t in enumerate(scenario.tiers))
    assignments = Assignments(member=np.zeros(0, np.int32), tier=np.zeros(0, np.int8),
                                   previous=np.zeros(0, np.int8), at=np.zeros(0, np.int64))
    return demo.Community(seed=scenario.seed, start=start,
                          days=scenario.horizon_days + 1, members=members,
                          identities=identities, tiers=tiers, tier_of=tier.astype(np.int8),
                          assignments=assignments, events=events)
