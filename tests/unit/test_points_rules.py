"""Pure points rules on hand-computed fixtures: FIFO lots, expiry, multipliers, caps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.events import EventType
from domain.points import rules
from domain.points.rules import AccrualCandidate, EarnRule, EarnRules, Entry, EntryKind

D0 = datetime(2026, 1, 1, tzinfo=UTC)


def entry(id, amount, kind=EntryKind.EARN, *, day=0, expires_day=None, lot=None):
    at = D0 + timedelta(days=day)
    return Entry(id=id, member_id=1, kind=kind, amount=amount, idempotency_key=f"k{id}",
                 reason="r", actor="t", occurred_at=at, created_at=at,
                 expires_at=D0 + timedelta(days=expires_day) if expires_day is not None else None,
                 lot_entry_id=lot)


def test_spends_consume_the_oldest_lot_first():
    state = rules.replay([entry(1, 100, expires_day=365), entry(2, 50, day=1, expires_day=366),
                          entry(3, -120, EntryKind.SPEND, day=2)])
    assert {i: lot.remaining for i, lot in state.lots.items()} == {1: 0, 2: 30}
    assert state.balance == 30


def test_a_spend_skips_an_expired_lot_while_unexpired_points_remain():
    # Lot 1 expired on day 10 (not yet written off); lot 2 is fresh. The day-20 spend
    # of 30 takes lot 2, so all of lot 1's 40 points are left to expire.
    entries = [entry(1, 40, expires_day=10), entry(2, 50, day=5, expires_day=400),
               entry(3, -30, EntryKind.SPEND, day=20)]
    assert rules.expirable(entries, as_of=D0 + timedelta(days=20)) == {1: 40}


def test_a_spend_falls_back_to_expired_points_the_balance_still_holds():
    # Only 50 unexpired points; a spend of 70 takes 50 from lot 2 and 20 from expired lot 1.
    entries = [entry(1, 40, expires_day=10), entry(2, 50, day=5, expires_day=400),
               entry(3, -70, EntryKind.SPEND, day=20)]
    assert rules.expirable(entries, as_of=D0 + timedelta(days=20)) == {1: 20}


def test_expiry_is_written_once_per_lot():
    entries = [entry(1, 40, expires_day=10), entry(2, -40, EntryKind.EXPIRE, day=10, lot=1)]
    assert rules.expirable(entries, as_of=D0 + timedelta(days=30)) == {}
    assert rules.replay(entries).balance == 0


def test_lots_not_yet_expired_and_never_expiring_credits_are_kept():
    entries = [entry(1, 40, expires_day=10), entry(2, 25, EntryKind.ADJUST)]
    assert rules.expirable(entries, as_of=D0 + timedelta(days=9)) == {}
    assert rules.expirable(entries, as_of=D0 + timedelta(days=10)) == {1: 40}


def test_reversing_an_earn_takes_its_own_lot_first():
    entries = [entry(1, 100, expires_day=365), entry(2, 60, day=1, expires_day=365),
               entry(3, -60, EntryKind.REVERSE, day=2, lot=2)]
    state = rules.replay(entries)
    assert {i: lot.remaining for i, lot in state.lots.items()} == {1: 100, 2: 0}


def test_a_debit_committed_out_of_id_order_becomes_a_debt_the_next_credit_pays():
    state = rules.replay([entry(1, -30, EntryKind.SPEND), entry(2, 50, expires_day=365)])
    assert state.debt == 0 and state.lots[2].remaining == 20 and state.balance == 20


@pytest.mark.parametrize(("points", "factor", "expected"),
                         [(10, 1.0, 10), (10, 1.5, 15), (10, 1.25, 12), (3, 0.5, 1), (1, 0.5, 0)])
def test_multiplier_rounds_down_to_whole_points(points, factor, expected):
    assert rules.multiply(points, rules.to_permille(factor)) == expected


@pytest.mark.parametrize("factor", [1e308, -1e308, float("inf"), float("nan"), 100.001])
def test_a_multiplier_beyond_100_is_refused_before_it_is_converted(factor):
    with pytest.raises(rules.InvalidMultiplier) as raised:
        rules.to_permille(factor, field="tierMultipliers.0.multiplier")
    assert raised.value.field == "tierMultipliers.0.multiplier"


def candidate(event_id, *, hour, member=1, type="check_in", tier=None, accrued=False, day=0):
    return AccrualCandidate(event_id=event_id, member_id=member, event_type=type,
                            occurred_at=D0 + timedelta(days=day, hours=hour), tier_id=tier,
                            accrued=accrued)


RULES = EarnRules(rules=(EarnRule(EventType.CHECK_IN, points=5, daily_cap=2, expiry_days=30),
                         EarnRule(EventType.LIKE, points=1)),
                  multipliers=(rules.TierMultiplier(tier_id=7, permille=2000),))


def test_daily_cap_lets_the_first_events_of_a_day_earn():
    out = rules.accruals([candidate(3, hour=9), candidate(1, hour=8), candidate(2, hour=10),
                          candidate(4, hour=8, day=1)], RULES)
    assert [(a.event_id, a.points) for a in out] == [(1, 5), (3, 5), (4, 5)]
    assert out[0].expires_at == D0 + timedelta(days=30, hours=8)
    assert out[0].idempotency_key == "accrue:check_in:1"


def test_events_accrued_before_count_toward_the_cap():
    out = rules.accruals([candidate(1, hour=8, accrued=True), candidate(2, hour=9),
                          candidate(3, hour=10)], RULES)
    assert [a.event_id for a in out] == [2]


def test_tier_multiplier_applies_and_unruled_types_earn_nothing():
    out = rules.accruals([candidate(1, hour=8, tier=7), candidate(2, hour=8, type="like"),
                          candidate(3, hour=8, type="login")], RULES)
    assert [(a.event_id, a.points) for a in out] == [(1, 10), (2, 1)]


def test_rule_validation_names_each_fault():
    def check(rule_list, multipliers=()):
        with pytest.raises(rules.PointsError) as caught:
            rules.validate_rules(rule_list, list(multipliers))
        return caught.value.code, caught.value.field

    assert check([EarnRule("teleport", 1)]) == ("UNKNOWN_EVENT_TYPE", "rules.0.eventType")
    assert check([EarnRule("like", -1)]) == ("NEGATIVE_POINTS", "rules.0.points")
    assert check([EarnRule("like", 1, daily_cap=-2)]) == ("NEGATIVE_POINTS", "rules.0.dailyCap")
    assert check([EarnRule("like", 1), EarnRule("like", 2)])[0] == "DUPLICATE_RULE"
    assert check([], [rules.TierMultiplier(1, 0)]) == ("INVALID_MULTIPLIER",
                                                        "tierMultipliers.0.multiplier")
    assert check([EarnRule("like", 1, expiry_days=0)])[0] == "INVALID_VALUE"
