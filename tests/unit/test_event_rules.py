from datetime import UTC, datetime, timedelta

import pytest

from domain.events import EventInput, EventType, InvalidEvent, check_event
from domain.members import Channel, IdentityKey

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def make_event(**overrides) -> EventInput:
    fields = dict(external_id="e-1", type="login", occurred_at=NOW - timedelta(hours=1),
                  member_id=1)
    fields.update(overrides)
    return EventInput(**fields)


@pytest.mark.parametrize(("overrides", "field"), [
    ({"external_id": "  "}, "externalId"),
    ({"external_id": "x" * 129}, "externalId"),
    ({"type": "teleport"}, "type"),
    ({"occurred_at": datetime(2026, 11, 1)}, "occurredAt"),
    ({"occurred_at": NOW + timedelta(minutes=6)}, "occurredAt"),
    ({"type": "purchase"}, "amountMinor"),
    ({"type": "purchase", "amount_minor": -1}, "amountMinor"),
    ({"amount_minor": 100}, "amountMinor"),
    ({"channel": "myspace"}, "channel"),
    ({"member_id": None}, "memberId"),
    ({"identity": IdentityKey(Channel.WECHAT, "wx")}, "memberId"),
])
def test_each_malformed_event_names_its_field(overrides, field):
    with pytest.raises(InvalidEvent) as raised:
        check_event(make_event(**overrides), now=NOW)
    assert raised.value.field == field


def test_a_small_clock_skew_into_the_future_is_tolerated():
    event = check_event(make_event(occurred_at=NOW + timedelta(minutes=4)), now=NOW)
    assert event.occurred_at == NOW + timedelta(minutes=4)


def test_zero_amount_purchases_are_still_purchases():
    event = check_event(make_event(type="purchase", amount_minor=0), now=NOW)
    assert event.type is EventType.PURCHASE and event.amount_minor == 0
