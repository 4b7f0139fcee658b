"""Badges in the real store: SQL rules agree with the reference, awards are idempotent
and carry their evidence."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from domain import badge_rules, badges, errors, events
from domain.badge_rules import Aggregation, Day, FilterOp, PropertyFilter, Rule
from domain.badges import BadgeSpec, GrowthStage
from domain.clock import utcnow
from domain.events import EventType
from tests.factories import make_member

AS_OF = date(2026, 3, 1)


def _at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


async def _record(db, raws: list[events.EventInput]) -> None:
    async with db.unit_of_work() as uow:
        await events.record_events(uow=uow, raws=raws, now=utcnow())


def _event(external_id, member_id, kind, at, **fields) -> events.EventInput:
    return events.EventInput(external_id=external_id, type=kind, occurred_at=at,
                             member_id=member_id, **fields)


async def _award(db, as_of=AS_OF, member_ids=None) -> badges.AwardRun:
    async with db.unit_of_work() as uow:
        return await badges.award_badges(uow=uow, as_of=as_of, member_ids=member_ids,
                                         actor="test", now=utcnow())


async def _awards(db, member_id) -> dict[str, badges.Award]:
    async with db.unit_of_work(write=False) as uow:
        found = (await uow.badges.awards_of([member_id])).get(member_id, [])
        by_id = await uow.badges.get_many({a.badge_id for a in found})
    return {by_id[a.badge_id].key: a for a in found}


async def _install(db) -> None:
    async with db.unit_of_work() as uow:
        await badges.install_default_badges(uow=uow, actor="test")


async def test_a_check_in_streak_across_a_month_end_earns_the_active_medal_once(database):
    streaker, almost = await make_member(database), await make_member(database)
    run = [date(2026, 1, 29) + timedelta(days=i) for i in range(7)]  # Jan 29 - Feb 4
    six = [date(2026, 2, 26) + timedelta(days=i) for i in range(6)]  # Feb 26 - Mar 3
    await _record(database, [
        *[_event(f"s-{d}", streaker.id, "check_in", _at(d)) for d in run],
        _event("s-late", streaker.id, "check_in", _at(date(2026, 2, 10))),
        *[_event(f"a-{d}", almost.id, "check_in", _at(d)) for d in six],
    ])
    await _install(database)

    first = await _award(database)
    assert first.by_badge == {"newbie": 2, "active-medal": 1, "creator": 0,
                              "community-partner": 0}
    medal = (await _awards(database, streaker.id))["active-medal"]
    assert medal.value == 7 and medal.as_of == AS_OF
    assert [e.external_id for e in medal.evidence] == [f"s-{d}" for d in run]
    assert medal.rule.aggregation is Aggregation.STREAK_DAYS and medal.rule.goal == 7
    newbie = (await _awards(database, almost.id))["newbie"]
    assert [e.external_id for e in newbie.evidence] == [f"a-{six[0]}"]
    # The other member's six days up to Mar 1 are only four; as of Mar 3 they are six.
    assert "active-medal" not in await _awards(database, almost.id)

    again = await _award(database, as_of=date(2026, 3, 3))
    assert again.awarded == 0
    assert (await _awards(database, streaker.id))["active-medal"] == medal


async def test_quality_content_and_converted_referrals_need_their_properties(database):
    creator, partner, other = [await make_member(database) for _ in range(3)]
    day = date(2026, 2, 1)
    raws = [_event(f"post-{i}", creator.id, "post", _at(day, i + 1),
                   properties={"featured": True}) for i in range(5)]
    # Not quality: unfeatured, or a flag of the wrong type (must not break the query).
    raws += [_event("plain", other.id, "post", _at(day), properties={"featured": False}),
             _event("odd", other.id, "post", _at(day, 2), properties={"featured": "yes"})]
    raws += [_event(f"inv-{i}", partner.id, "referral_invite", _at(day, i + 1),
                    properties={"invitee_member_id": other.id, "referral_code": "X"})
             for i in range(3)]
    raws += [_event("open", other.id, "referral_invite", _at(day),
                    properties={"referral_code": "Y"})]
    await _record(database, raws)
    await _install(database)
    await _award(database)

    assert set(await _awards(database, creator.id)) == {"newbie", "creator"}
    assert (await _awards(database, creator.id))["creator"].value == 5
    awarded = await _awards(database, partner.id)
    assert set(awarded) == {"newbie", "community-partner"}
    assert [e.external_id for e in awarded["community-partner"].evidence] == [
        "inv-0", "inv-1", "inv-2"]
    assert set(await _awards(database, other.id)) == {"newbie"}


async def test_awarding_some_members_leaves_the_others_alone(database):
    a, b = await make_member(database), await make_member(database)
    await _record(database, [_event("a", a.id, "login", _at(date(2026, 2, 1))),
                             _event("b", b.id, "login", _at(date(2026, 2, 1)))])
    await _install(database)
    run = await _award(database, member_ids=[a.id])
    assert run.by_badge["newbie"] == 1
    assert await _awards(database, b.id) == {}
    with pytest.raises(errors.NotFound):
        await _award(database, member_ids=[a.id, 999_999])


async def test_events_after_the_evaluation_day_do_not_count(database):
    member = await make_member(database)
    await _record(database, [_event("late", member.id, "login", _at(date(2026, 3, 2), 0))])
    await _install(database)
    assert (await _award(database, as_of=date(2026, 3, 1))).awarded == 0
    assert (await _award(database, as_of=date(2026, 3, 2))).awarded == 1


async def test_a_changed_rule_keeps_the_rule_old_awards_were_earned_under(database):
    member = await make_member(database)
    await _record(database, [_event("x", member.id, "login", _at(date(2026, 2, 1)))])
    await _install(database)
    await _award(database)
    async with database.unit_of_work() as uow:
        newbie = await uow.badges.get_by_key("newbie")
        await badges.update_badge_rule(uow=uow, badge_id=newbie.id, actor="test",
                                       rule=Rule(aggregation=Aggregation.COUNT, goal=3))
    assert (await _awards(database, member.id))["newbie"].rule.goal == 1


# Rules covering every aggregation, window and both sources (rollup and raw events).
RULES = [
    Rule(aggregation=Aggregation.COUNT, goal=1),
    Rule(aggregation=Aggregation.COUNT, goal=1, event_types=(EventType.LIKE, EventType.POST),
         window_days=10),
    Rule(aggregation=Aggregation.DISTINCT_DAYS, goal=1, event_types=(EventType.CHECK_IN,)),
    Rule(aggregation=Aggregation.DISTINCT_DAYS, goal=1, window_days=14),
    Rule(aggregation=Aggregation.STREAK_DAYS, goal=1, event_types=(EventType.CHECK_IN,)),
    Rule(aggregation=Aggregation.STREAK_DAYS, goal=1, window_days=20,
         event_types=(EventType.REFERRAL_JOIN, EventType.CHECK_IN)),
    Rule(aggregation=Aggregation.SUM_AMOUNT, goal=1, event_types=(EventType.PURCHASE,)),
    Rule(aggregation=Aggregation.SUM_AMOUNT, goal=1, event_types=(EventType.PURCHASE,),
         min_amount_minor=500, window_days=30),
    Rule(aggregation=Aggregation.COUNT, goal=1, event_types=(EventType.POST,),
         filters=(PropertyFilter("likes", FilterOp.AT_LEAST, 3),)),
    Rule(aggregation=Aggregation.STREAK_DAYS, goal=1, event_types=(EventType.POST,),
         filters=(PropertyFilter("featured", FilterOp.EQUALS, True),)),
    Rule(aggregation=Aggregation.COUNT, goal=1,
         filters=(PropertyFilter("topic", FilterOp.EQUALS, "travel"),)),
]


async def test_sql_rules_agree_with_the_reference_definition(database):
    rng = random.Random(11)  # fixed seed: a reproducible mix of days, types and properties
    people = [await make_member(database) for _ in range(4)]
    raws = []
    kinds = ["login", "like", "post", "check_in", "purchase", "referral_join"]
    for n in range(300):
        member = rng.choice(people).id
        day = date(2026, 1, 20) + timedelta(days=rng.randrange(45))
        kind = rng.choice(kinds)
        props = {"likes": rng.choice([0, 2, 3, 8, "many"]), "featured": rng.random() < .5,
                 "topic": rng.choice(["travel", "food"])} if kind == "post" else None
        raws.append(_event(f"e{n}", member, kind, _at(day, rng.randrange(24)),
                           amount_minor=rng.choice([100, 500, 2000]) if kind == "purchase"
                           else None, properties=props))
    await _record(database, raws)
    as_of = date(2026, 2, 25)
    for index, rule in enumerate(RULES):
        async with database.unit_of_work() as uow:
            badge = await badges.create_badge(uow=uow, actor="test", spec=BadgeSpec(
                key=f"rule-{index}", name="r", stage=GrowthStage.EXPLORE, rule=rule))
        async with database.unit_of_work(write=False) as uow:
            found = {q.member_id: q.value
                     for q in await uow.badges.qualifying(badge, as_of=as_of)}
        expected = {}
        for person in people:
            days: dict[date, Day] = {}
            for raw in raws:
                if raw.member_id == person.id and badge_rules.matches(
                        rule, type=EventType(raw.type), amount_minor=raw.amount_minor,
                        properties=raw.properties):
                    d = raw.occurred_at.date()
                    old = days.get(d, Day(d, 0, 0))
                    days[d] = Day(d, old.events + 1, old.amount_minor + (raw.amount_minor or 0))
            value = badge_rules.measure(rule, days.values(), as_of=as_of)
            if value:
                expected[person.id] = value
        assert found == expected, rule
