"""Achievement rules on hand-computed fixtures: aggregations, periods, streaks, validation."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain import badge_rules, badges
from domain.badge_rules import Aggregation, Day, FilterOp, PropertyFilter, Rule
from domain.events import EventType

AS_OF = date(2026, 3, 31)
# A member's matching days: (day, events, amount).
DAYS = [Day(date(2026, 2, 27), 2, 0), Day(date(2026, 2, 28), 1, 900),
        Day(date(2026, 3, 1), 3, 100), Day(date(2026, 3, 2), 1, 0),
        Day(date(2026, 3, 20), 4, 5000), Day(date(2026, 4, 2), 9, 9)]  # last: after as_of


def _rule(aggregation, **fields) -> Rule:
    return Rule(aggregation=aggregation, goal=fields.pop("goal", 1), **fields)


def test_count_adds_events_up_to_the_evaluation_day():
    assert badge_rules.measure(_rule(Aggregation.COUNT), DAYS, as_of=AS_OF) == 2 + 1 + 3 + 1 + 4


def test_distinct_days_counts_days_with_events():
    assert badge_rules.measure(_rule(Aggregation.DISTINCT_DAYS), DAYS, as_of=AS_OF) == 5


def test_streak_runs_across_the_end_of_february():
    # Feb 27, Feb 28, Mar 1, Mar 2 (2026 is not a leap year).
    assert badge_rules.measure(_rule(Aggregation.STREAK_DAYS), DAYS, as_of=AS_OF) == 4


def test_sum_amount_adds_amounts():
    rule = _rule(Aggregation.SUM_AMOUNT, event_types=(EventType.PURCHASE,))
    assert badge_rules.measure(rule, DAYS, as_of=AS_OF) == 900 + 100 + 5000


def test_a_rolling_window_keeps_the_last_n_days_including_the_evaluation_day():
    rule = _rule(Aggregation.COUNT, window_days=31)  # Mar 1 - Mar 31
    assert badge_rules.period(rule, AS_OF) == (date(2026, 3, 1), AS_OF)
    assert badge_rules.measure(rule, DAYS, as_of=AS_OF) == 3 + 1 + 4
    streak = _rule(Aggregation.STREAK_DAYS, window_days=31)
    assert badge_rules.measure(streak, DAYS, as_of=AS_OF) == 2  # Mar 1-2: cut at the window


def test_all_time_has_no_first_day():
    assert badge_rules.period(_rule(Aggregation.COUNT), AS_OF) == (None, AS_OF)


@pytest.mark.parametrize(("days", "expected"), [
    ([], (0, None, None)),
    ([date(2026, 5, 5)], (1, date(2026, 5, 5), date(2026, 5, 5))),
    # Across a year end, duplicates and unsorted input.
    ([date(2026, 1, 2), date(2025, 12, 31), date(2026, 1, 1), date(2026, 1, 1)],
     (3, date(2025, 12, 31), date(2026, 1, 2))),
    # Leap day 2028: Feb 28, 29, Mar 1 are consecutive; Mar 3 starts a new run.
    ([date(2028, 2, 28), date(2028, 2, 29), date(2028, 3, 1), date(2028, 3, 3)],
     (3, date(2028, 2, 28), date(2028, 3, 1))),
    # Two runs of the same length: the earlier one.
    ([date(2026, 4, 29), date(2026, 4, 30), date(2026, 5, 2), date(2026, 5, 3)],
     (2, date(2026, 4, 29), date(2026, 4, 30))),
    # Jan 31 -> Feb 1 is consecutive; Apr 30 -> May 2 is not.
    ([date(2026, 1, 30), date(2026, 1, 31), date(2026, 2, 1), date(2026, 4, 30),
      date(2026, 5, 2)], (3, date(2026, 1, 30), date(2026, 2, 1))),
])
def test_longest_streak_on_hand_computed_day_sets(days, expected):
    streak = badge_rules.longest_streak(days)
    assert (streak.length, streak.first, streak.last) == expected


def test_seven_checkins_in_a_row_reach_the_active_medal_goal():
    week = [Day(date(2026, 1, 28) + timedelta(days=i), 1) for i in range(7)]
    medal = next(b for b in badges.default_badges() if b.key == "active-medal")
    assert badge_rules.measure(medal.rule, week, as_of=AS_OF) == 7 == medal.rule.goal
    assert badge_rules.measure(medal.rule, week[:3] + week[4:], as_of=AS_OF) == 3


def test_property_filters_match_only_values_of_the_right_type():
    featured = Rule(aggregation=Aggregation.COUNT, goal=1, event_types=(EventType.POST,),
                    filters=(PropertyFilter("featured", FilterOp.EQUALS, True),
                             PropertyFilter("likes", FilterOp.AT_LEAST, 10)))

    def ok(kind=EventType.POST, **props):
        return badge_rules.matches(featured, type=kind, amount_minor=None, properties=props)

    assert ok(featured=True, likes=10)
    assert not ok(featured=True, likes=9)
    assert not ok(featured="true", likes=12)  # a string is not a boolean
    assert not ok(featured=1, likes=12)  # nor is a number
    assert not ok(featured=True, likes="12")
    assert not ok(EventType.COMMENT, featured=True, likes=12)
    present = Rule(aggregation=Aggregation.COUNT, goal=1,
                   filters=(PropertyFilter("invitee_member_id", FilterOp.PRESENT),))
    assert badge_rules.matches(present, type=EventType.REFERRAL_INVITE, amount_minor=None,
                               properties={"invitee_member_id": 4})
    assert not badge_rules.matches(present, type=EventType.REFERRAL_INVITE, amount_minor=None,
                                   properties={"invitee_member_id": None})


def test_rules_with_only_rollup_types_read_the_rollup():
    assert not Rule(aggregation=Aggregation.STREAK_DAYS, goal=7,
                    event_types=(EventType.CHECK_IN,)).needs_raw_events
    assert Rule(aggregation=Aggregation.COUNT, goal=3,
                event_types=(EventType.REFERRAL_JOIN,)).needs_raw_events
    creator = next(b for b in badges.default_badges() if b.key == "creator")
    assert creator.rule.needs_raw_events


def test_a_rule_survives_its_json_round_trip():
    for spec in badges.default_badges():
        assert Rule.from_json(spec.rule.to_json()) == spec.rule


@pytest.mark.parametrize(("rule", "error", "field"), [
    (_rule(Aggregation.COUNT, goal=0), badge_rules.NonPositiveGoal, "rule.goal"),
    (_rule(Aggregation.COUNT, goal=-3), badge_rules.NonPositiveGoal, "rule.goal"),
    (_rule(Aggregation.STREAK_DAYS, goal=7, event_types=(EventType.PURCHASE,),
           min_amount_minor=100), badge_rules.StreakWithAmount, "rule.minAmountMinor"),
    (_rule(Aggregation.STREAK_DAYS, goal=8, window_days=7), badge_rules.InvalidRule,
     "rule.goal"),
    (_rule(Aggregation.SUM_AMOUNT, event_types=(EventType.POST,)), badge_rules.InvalidRule,
     "rule.eventTypes"),
    (_rule(Aggregation.COUNT, window_days=0), badge_rules.InvalidRule, "rule.windowDays"),
    (_rule(Aggregation.COUNT, filters=(PropertyFilter("a b", FilterOp.PRESENT),)),
     badge_rules.InvalidRule, "rule.filters.property"),
    (_rule(Aggregation.COUNT, filters=(PropertyFilter("likes", FilterOp.AT_LEAST, "x"),)),
     badge_rules.InvalidRule, "rule.filters.value"),
    (_rule(Aggregation.COUNT, filters=(PropertyFilter("f", FilterOp.EQUALS, None),)),
     badge_rules.InvalidRule, "rule.filters.value"),
])
def test_invalid_rules_are_refused_with_a_specific_error(rule, error, field):
    with pytest.raises(error) as raised:
        badge_rules.validate_rule(rule)
    assert raised.value.field == field


def test_unknown_event_types_are_named_in_the_error():
    assert badge_rules.parse_event_types(["check_in", "CHECK_IN", "post"]) == (
        EventType.CHECK_IN, EventType.POST)
    with pytest.raises(badge_rules.UnknownEventType, match="'teleport'") as raised:
        badge_rules.parse_event_types(["login", "teleport"])
    assert raised.value.code == "UNKNOWN_EVENT_TYPE"
