"""Achievement rules: what a member must do to earn a badge, as validated data.

A rule names the event types it counts (none means every type), how it
aggregates them per member (count of events, distinct active days, the longest
run of consecutive UTC days, or the sum of purchase amounts), over which period
(all time, or a rolling window of the last N UTC days up to the evaluation day),
the goal the aggregate must reach, and optional filters on event properties
(`featured` equals true, `likes_received` at least 10, `invitee_member_id`
present) and on the amount.

The store computes rules with set-based SQL; `measure` below is the reference
definition of the same numbers over one member's matching days, used by the
tests and by anyone who wants to explain a value by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from domain import errors
from domain.events import EventType

MAX_WINDOW_DAYS = 3660
MAX_GOAL = 10**12
MAX_FILTERS = 5
PROPERTY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class Aggregation(StrEnum):
    COUNT = "count"  # matching events
    DISTINCT_DAYS = "distinct_days"  # UTC days with at least one matching event
    STREAK_DAYS = "streak_days"  # longest run of consecutive such days
    SUM_AMOUNT = "sum_amount"  # sum of amount_minor of matching purchases


class FilterOp(StrEnum):
    EQUALS = "equals"  # the property holds exactly this JSON scalar (true, "gold", 3)
    AT_LEAST = "at_least"  # the property is a number >= value
    PRESENT = "present"  # the property is there and not null


class RuleError(errors.DomainError):
    """Base of rule failures."""


class InvalidRule(RuleError, errors.InvalidValue):
    """A rule field out of range or inconsistent with the others."""


class UnknownEventType(RuleError):
    """The rule names an event type tierwise does not record."""

    code = "UNKNOWN_EVENT_TYPE"


class NonPositiveGoal(RuleError):
    """A goal of zero or less would award every member, active or not."""

    code = "NON_POSITIVE_GOAL"


class StreakWithAmount(RuleError):
    """A streak counts days, not money: it cannot take an amount condition."""

    code = "STREAK_WITH_AMOUNT"


@dataclass(frozen=True, slots=True)
class PropertyFilter:
    property: str
    op: FilterOp
    value: bool | int | float | str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """What earns a badge. `event_types` empty means any event type."""

    aggregation: Aggregation
    goal: int
    event_types: tuple[EventType, ...] = ()
    window_days: int | None = None  # None: all time
    filters: tuple[PropertyFilter, ...] = ()
    min_amount_minor: int | None = None  # only events with at least this amount count

    @property
    def needs_raw_events(self) -> bool:
        """Do properties or amounts matter (raw events), or does the daily rollup do?"""
        return (bool(self.filters) or self.min_amount_minor is not None
                or any(t not in ROLLUP_TYPES for t in self.event_types))

    def to_json(self) -> dict[str, Any]:
        return {"aggregation": self.aggregation.value, "goal": self.goal,
                "event_types": [t.value for t in self.event_types],
                "window_days": self.window_days,
                "filters": [{"property": f.property, "op": f.op.value, "value": f.value}
                            for f in self.filters],
                "min_amount_minor": self.min_amount_minor}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Rule:
        return cls(aggregation=Aggregation(raw["aggregation"]), goal=raw["goal"],
                   event_types=tuple(EventType(t) for t in raw.get("event_types", ())),
                   window_days=raw.get("window_days"),
                   filters=tuple(PropertyFilter(property=f["property"], op=FilterOp(f["op"]),
                                                value=f.get("value"))
                                 for f in raw.get("filters", ())),
                   min_amount_minor=raw.get("min_amount_minor"))


# Event types the member_days rollup counts per day (others are read from raw events).
ROLLUP_TYPES = frozenset({EventType.LOGIN, EventType.POST, EventType.COMMENT, EventType.LIKE,
                          EventType.SHARE, EventType.CHECK_IN, EventType.PURCHASE,
                          EventType.REFERRAL_INVITE})
_TYPES = {t.value: t for t in EventType}


def parse_event_types(names: Iterable[str]) -> tuple[EventType, ...]:
    """Event types by name, deduplicated in the given order; unknown names fail."""
    out: list[EventType] = []
    for name in names:
        kind = _TYPES.get(str(name).strip().lower())
        if kind is None:
            raise UnknownEventType(f"unknown event type {name!r}; use one of "
                                   f"{', '.join(_TYPES)}", field="rule.eventTypes")
        if kind not in out:
            out.append(kind)
    return tuple(out)


def validate_rule(rule: Rule) -> Rule:
    """Check a rule's fields and their consistency; return it normalised."""
    if rule.goal <= 0:
        raise NonPositiveGoal(f"goal must be positive, got {rule.goal}", field="rule.goal")
    if rule.goal > MAX_GOAL:
        raise InvalidRule(f"goal must be at most {MAX_GOAL}, got {rule.goal}",
                          field="rule.goal")
    if rule.window_days is not None and not 1 <= rule.window_days <= MAX_WINDOW_DAYS:
        raise InvalidRule(f"windowDays must be 1-{MAX_WINDOW_DAYS} or null (all time), "
                          f"got {rule.window_days}", field="rule.windowDays")
    if rule.aggregation is Aggregation.STREAK_DAYS and rule.min_amount_minor is not None:
        raise StreakWithAmount("a streak counts consecutive days; it cannot have "
                               f"minAmountMinor {rule.min_amount_minor}",
                               field="rule.minAmountMinor")
    if rule.aggregation is Aggregation.STREAK_DAYS and rule.window_days is not None \
            and rule.goal > rule.window_days:
        raise InvalidRule(f"a {rule.goal}-day streak cannot fit in {rule.window_days} days",
                          field="rule.goal")
    if rule.aggregation is Aggregation.SUM_AMOUNT and rule.event_types != (EventType.PURCHASE,):
        raise InvalidRule("sum_amount adds purchase amounts: eventTypes must be [purchase]",
                          field="rule.eventTypes")
    if rule.min_amount_minor is not None and (
            rule.min_amount_minor < 0 or rule.event_types != (EventType.PURCHASE,)):
        raise InvalidRule("minAmountMinor needs eventTypes [purchase] and a non-negative "
                          f"amount, got {rule.min_amount_minor}", field="rule.minAmountMinor")
    return Rule(aggregation=rule.aggregation, goal=rule.goal, event_types=rule.event_types,
                window_days=rule.window_days, min_amount_minor=rule.min_amount_minor,
                filters=_validate_filters(rule.filters))


def _validate_filters(filters: Sequence[PropertyFilter]) -> tuple[PropertyFilter, ...]:
    if len(filters) > MAX_FILTERS:
        raise InvalidRule(f"at most {MAX_FILTERS} filters, got {len(filters)}",
                          field="rule.filters")
    for f in filters:
        if not PROPERTY.match(f.property):
            raise InvalidRule(f"property {f.property!r} must be letters, digits or '_' "
                              "(max 64)", field="rule.filters.property")
        value = f.value
        if f.op is FilterOp.PRESENT and value is not None:
            raise InvalidRule(f"'present' takes no value, got {value!r}",
                              field="rule.filters.value")
        if f.op is FilterOp.AT_LEAST and (isinstance(value, bool)
                                          or not isinstance(value, int | float)):
            raise InvalidRule(f"'at_least' needs a number, got {value!r}",
                              field="rule.filters.value")
        if f.op is FilterOp.EQUALS and (value is None or not isinstance(value, bool | int
                                                                        | float | str)):
            raise InvalidRule(f"'equals' needs true/false, a number or a string, got {value!r}",
                              field="rule.filters.value")
    return tuple(filters)


def period(rule: Rule, as_of: date) -> tuple[date | None, date]:
    """The UTC days a rule looks at, both inclusive: the last `window_days` days up to
    `as_of`, or every day up to `as_of` (first day None) for an all-time rule."""
    if rule.window_days is None:
        return None, as_of
    return as_of - timedelta(days=rule.window_days - 1), as_of


@dataclass(frozen=True, slots=True)
class Streak:
    length: int
    first: date | None
    last: date | None


def longest_streak(days: Iterable[date]) -> Streak:
    """The longest run of consecutive calendar days (the earliest such run on a tie).
    Days are calendar dates, so runs cross month and year ends like any other day."""
    best = Streak(0, None, None)
    run_first: date | None = None
    previous: date | None = None
    for day in sorted(set(days)):
        if previous is None or day - previous != timedelta(days=1):
            run_first = day
        previous = day
        length = (day - run_first).days + 1
        if length > best.length:
            best = Streak(length, run_first, day)
    return best


@dataclass(frozen=True, slots=True)
class Day:
    """One member's matching events on one UTC day."""

    day: date
    events: int
    amount_minor: int = 0


def measure(rule: Rule, days: Iterable[Day], *, as_of: date) -> int:
    """The rule's aggregate for one member from their matching days (days outside the
    rule's period are ignored; days with no events do not count)."""
    first, last = period(rule, as_of)
    inside = [d for d in days if d.events > 0 and d.day <= last
              and (first is None or d.day >= first)]
    if rule.aggregation is Aggregation.COUNT:
        return sum(d.events for d in inside)
    if rule.aggregation is Aggregation.DISTINCT_DAYS:
        return len({d.day for d in inside})
    if rule.aggregation is Aggregation.STREAK_DAYS:
        return longest_streak(d.day for d in inside).length
    return sum(d.amount_minor for d in inside)


def matches(rule: Rule, *, type: EventType, amount_minor: int | None,
            properties: Mapping[str, Any] | None) -> bool:
    """Does one event count for the rule (type, amount and property filters)?"""
    if rule.event_types and type not in rule.event_types:
        return False
    if rule.min_amount_minor is not None and (amount_minor or 0) < rule.min_amount_minor:
        return False
    props = properties if isinstance(properties, Mapping) else {}
    for f in rule.filters:
        value = props.get(f.property)
        if f.op is FilterOp.PRESENT and value is None:
            return False
        if f.op is FilterOp.AT_LEAST and (isinstance(value, bool)
                                          or not isinstance(value, int | float)
                                          or value < f.value):
            return False
        if f.op is FilterOp.EQUALS and not _same_scalar(value, f.value):
            return False
    return True


def _same_scalar(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(wanted, bool) and value is wanted
    if isinstance(wanted, str) or isinstance(value, str):
        return value == wanted
    return isinstance(value, int | float) and value == wanted
