"""The demo community generator: deterministic, realistic, and true to DOMAIN.md's figures."""

from __future__ import annotations

from collections import Counter
from dataclasses import fields
from datetime import UTC, date, datetime

import numpy as np
import pytest

from domain import demo, members
from domain.events import EventType
from domain.members import Channel

END = date(2025, 6, 1)
N, DAYS = 5000, 90


@pytest.fixture(scope="module")
def community() -> demo.Community:
    return demo.generate(members=N, days=DAYS, seed=11, end=END)


def _of_type(community, kind: EventType) -> np.ndarray:
    return community.events.type == demo.type_code(kind)


def _columns(obj) -> dict:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def _assert_same(a, b) -> None:
    for name, value in _columns(a).items():
        other = getattr(b, name)
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, other, err_msg=name)
        elif hasattr(value, "__dataclass_fields__"):
            _assert_same(value, other)
        else:
            assert value == other, name


def test_the_same_seed_gives_the_same_community():
    first = demo.generate(members=800, days=40, seed=3, end=END)
    second = demo.generate(members=800, days=40, seed=3, end=END)
    _assert_same(first, second)


def test_a_different_seed_gives_a_different_community():
    first = demo.generate(members=800, days=40, seed=3, end=END)
    other = demo.generate(members=800, days=40, seed=4, end=END)
    assert first.members.profiles.display_name != other.members.profiles.display_name
    assert len(first.events) != len(other.events)


def test_the_window_is_the_days_before_the_end_date(community):
    assert community.start == datetime(2025, 3, 3, tzinfo=UTC)
    assert community.end == datetime(2025, 6, 1, tzinfo=UTC)
    assert community.events.at.min() >= 0
    assert community.events.at.max() < DAYS * demo.DAY


def test_the_top_fifth_of_members_make_about_eighty_percent_of_interactions(community):
    interactions = np.isin(community.events.type,
                           [demo.type_code(t) for t in demo.INTERACTION_TYPES])
    counts = np.sort(np.bincount(community.events.member[interactions], minlength=N))[::-1]
    share = counts[:N // 5].sum() / counts.sum()
    # A calibrated target, not an estimate: over seeds 0-4 at this size the realised share
    # lands between 80.1% and 80.5%; 2 points leaves room without hiding a regression.
    assert share == pytest.approx(0.80, abs=0.02)


def test_members_arrive_through_every_acquisition_channel(community):
    mix = Counter(demo.CHANNELS[c] for c in community.members.channel)
    for channel in (Channel.WECHAT, Channel.DOUYIN, Channel.XIAOHONGSHU, Channel.OFFLINE,
                    Channel.REFERRAL):
        assert mix[channel] / N > 0.05, channel
    assert mix.most_common(1)[0][0] is Channel.WECHAT


def test_a_few_percent_of_members_buy_with_positive_amounts(community):
    purchases = _of_type(community, EventType.PURCHASE)
    buyers = np.unique(community.events.member[purchases])
    assert 0.02 <= len(buyers) / N <= 0.06
    assert (community.events.amount_minor[purchases] > 0).all()
    assert (community.events.amount_minor[~purchases] == 0).all()


def test_tiers_hold_fifteen_thirty_five_and_fifty_percent(community):
    assert [t.key for t in community.tiers] == ["core", "potential", "basic"]
    assert np.bincount(community.tier_of).tolist() == [750, 1750, 2500]


def test_core_members_are_more_engaged_than_basic_members(community):
    logins = np.bincount(community.events.member[_of_type(community, EventType.LOGIN)],
                         minlength=N)
    median = [np.median(logins[community.tier_of == tier]) for tier in range(3)]
    assert median[0] > median[1] > median[2]


def test_tier_history_records_the_mid_window_run_and_later_moves(community):
    rows = community.assignments
    last = {}
    for member, tier, previous in zip(rows.member.tolist(), rows.tier.tolist(),
                                      rows.previous.tolist(), strict=True):
        assert previous == last.get(member, -1)
        last[member] = tier
    assert last == dict(enumerate(community.tier_of.tolist()))
    assert (rows.previous >= 0).any(), "some members changed tier between the runs"


def test_referral_chains_lead_from_earlier_members_to_later_ones(community):
    inviter = community.members.inviter
    referred = np.flatnonzero(inviter >= 0)
    joined = community.members.joined
    assert 0.10 < len(referred) / N < 0.25
    assert (joined[inviter[referred]] < joined[referred]).all()
    assert (community.members.channel[referred] == demo.channel_code(Channel.REFERRAL)).all()
    assert (inviter[inviter[referred]] >= 0).any(), "an invitee invited someone in turn"


def test_each_referral_join_names_its_inviter_after_an_earlier_invite(community):
    events = community.events
    joins = np.flatnonzero(_of_type(community, EventType.REFERRAL_JOIN))
    invites = _of_type(community, EventType.REFERRAL_INVITE) & (events.related >= 0)
    invited_at = dict(zip(events.related[invites].tolist(), events.at[invites].tolist(),
                          strict=True))
    assert len(joins) == (community.members.inviter >= 0).sum()
    for row in joins.tolist():
        invitee = int(events.member[row])
        assert events.related[row] == community.members.inviter[invitee]
        assert events.at[row] == community.members.joined[invitee]
        assert community.members.joined[events.related[row]] < invited_at[invitee]
        assert invited_at[invitee] <= events.at[row]


def test_no_member_acts_before_joining(community):
    events = community.events
    assert (events.at >= community.members.joined[events.member]).all()
    assert (community.members.first_seen <= community.members.joined).all()


def test_events_are_in_time_order_with_unique_external_ids(community):
    assert (np.diff(community.events.at) >= 0).all()
    ids = {community.event_external_id(i) for i in range(len(community.events))}
    assert len(ids) == len(community.events)


def test_every_member_has_one_or_two_identities_unique_per_channel(community):
    ids = community.identities
    per_member = np.bincount(ids.member, minlength=N)
    assert set(per_member.tolist()) == {1, 2}
    keys = list(zip(ids.channel.tolist(), ids.external_id, strict=True))
    assert len(set(keys)) == len(keys)
    assert demo.channel_code(Channel.REFERRAL) not in set(ids.channel.tolist())


def test_profiles_and_identities_pass_member_validation(community):
    p = community.members.profiles
    for i in range(0, N, 97):
        profile = members.Profile(display_name=p.display_name[i], email=p.email[i],
                                  phone=p.phone[i], age_band=p.age_band[i],
                                  region=p.region[i], occupation=p.occupation[i],
                                  interests=p.interests[i])
        assert members.validate_profile(profile) == profile
    for channel, external_id in zip(community.identities.channel[:50],
                                    community.identities.external_id[:50], strict=True):
        members.validate_identity(members.IdentityKey(demo.CHANNELS[channel], external_id))
    assert any(p.email) and any(p.phone) and not all(p.email)


def test_a_demo_of_zero_members_is_rejected():
    with pytest.raises(demo.InvalidDemoSize, match="members must be"):
        demo.generate(members=0, days=10, seed=1, end=END)


def test_average_ranks_share_ties_like_scipy():
    from scipy.stats import rankdata

    values = np.array([3.0, 1.0, 3.0, 0.0, 0.0, 0.0, 7.5, 1.0])
    np.testing.assert_array_equal(demo.tiering.average_ranks(values), rankdata(values))


def test_offline_members_buy_in_store_but_interact_in_the_app(community):
    events = community.events
    offline = events.channel == demo.channel_code(Channel.OFFLINE)
    assert offline.any()
    assert (events.type[offline] == demo.type_code(EventType.PURCHASE)).all()
