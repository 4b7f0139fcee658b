"""Per-member histories for BG/NBD and Gamma-Gamma, from the member-day rollup: a
purchase day is one transaction however many purchases it holds, times are weeks from
the first transaction day, and nothing after the as-of day counts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from domain import events
from domain.clock import utcnow
from tests.factories import make_member

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # day 0
AS_OF = date(2026, 3, 29)  # day 28


def _event(key, member_id, kind, day, amount=None):
    return events.EventInput(external_id=key, type=kind, member_id=member_id,
                             occurred_at=START + timedelta(days=day), amount_minor=amount)


async def _given_three_members(db):
    a, b, c = [await make_member(db) for _ in range(3)]
    await make_member(db)  # no events at all: in neither history
    raws = [
        _event("a1", a.id, "purchase", 0, 1250), _event("a2", a.id, "purchase", 0, 750),
        _event("a3", a.id, "purchase", 7, 3000),
        _event("a4", a.id, "login", 14),
        _event("a5", a.id, "purchase", 21, 1000), _event("a6", a.id, "post", 21),
        _event("a7", a.id, "purchase", 35, 9999),  # after the as-of day
        _event("b1", b.id, "login", 9),
        _event("c1", c.id, "purchase", 28, 500),  # on the as-of day itself
    ]
    async with db.unit_of_work() as uow:
        await events.record_events(uow=uow, raws=raws, now=utcnow())
    return a, b, c


async def _histories(db, basis):
    async with db.unit_of_work(write=False) as uow:
        return await uow.histories.as_of(AS_OF, basis=basis)


async def test_purchase_histories_count_purchase_days_up_to_the_as_of_day(database):
    a, _, c = await _given_three_members(database)
    got = await _histories(database, "purchases")
    # a: purchase days 0, 7, 21 -> x = 2, t_x = 21 days = 3 weeks, T = 28 days = 4 weeks,
    # mean repeat-day revenue (3000 + 1000) / 2 = 2000; c: first purchase on the as-of day.
    assert got.member_ids.tolist() == [a.id, c.id]
    assert got.frequency.tolist() == [2.0, 0.0]
    assert got.recency.tolist() == [3.0, 0.0]
    assert got.age.tolist() == [4.0, 0.0]
    assert got.monetary.tolist() == [2000.0, 0.0]


async def test_activity_histories_count_days_with_any_event(database):
    a, b, c = await _given_three_members(database)
    got = await _histories(database, "activity")
    # a: active days 0, 7, 14, 21 -> x = 3, repeat-day revenue 4000 / 3;
    # b: one login on day 9 -> x = 0, T = 19 days.
    assert got.member_ids.tolist() == [a.id, b.id, c.id]
    assert got.frequency.tolist() == [3.0, 0.0, 0.0]
    assert got.recency.tolist() == [3.0, 0.0, 0.0]
    assert got.age == pytest.approx([4.0, 19 / 7, 0.0])
    assert got.monetary == pytest.approx([4000 / 3, 0.0, 0.0])


async def test_a_community_without_transactions_has_empty_histories(database):
    await make_member(database)
    got = await _histories(database, "purchases")
    assert len(got) == 0 and got.frequency.dtype == np.float64
