"""Badges over GraphQL: definitions, rule errors, awards with evidence, roles."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from api.relay import to_global_id
from domain import events
from domain.access import Role
from domain.clock import utcnow
from tests.factories import make_member

CREATE = """
mutation($input: CreateBadgeInput!) {
  createBadge(input: $input) {
    badge { id key name stage benefit awardCount
            rule { eventTypes aggregation goal windowDays minAmountMinor
                   filters { property op value } } }
    userErrors { field code message }
  }
}"""

UPDATE_RULE = """
mutation($input: UpdateBadgeRuleInput!) {
  updateBadgeRule(input: $input) {
    badge { key rule { goal windowDays } }
    userErrors { field code message }
  }
}"""

INSTALL = """
mutation { installDefaultBadges { badges { key stage rule { aggregation goal } }
                                  userErrors { code } } }"""

AWARD = """
mutation($input: AwardBadgesInput!) {
  awardBadges(input: $input) {
    asOf awarded byBadge { badge { key } awarded }
    userErrors { field code message }
  }
}"""

MEMBER_BADGES = """
query($id: ID!) {
  node(id: $id) {
    ... on Member {
      badges { awardedAt asOf value badge { key stage awardCount } rule { goal }
               evidence { eventId externalId type occurredAt } }
    }
  }
}"""

PAGE_BADGES = """
query($first: Int!) {
  members(first: $first) { nodes { badges { value badge { key } evidence { externalId } } } }
}"""

STREAK = {"key": "streak-3", "name": "Three in a row", "stage": "ACTIVE",
          "benefit": "a coupon",
          "rule": {"eventTypes": ["check_in"], "aggregation": "STREAK_DAYS", "goal": 3}}


def _check_ins(member_id: int, days: list[date]) -> list[events.EventInput]:
    return [events.EventInput(external_id=f"c-{member_id}-{d}", type="check_in",
                              occurred_at=datetime(d.year, d.month, d.day, 9, tzinfo=UTC),
                              member_id=member_id) for d in days]


async def _record(database, raws) -> None:
    async with database.unit_of_work() as uow:
        await events.record_events(uow=uow, raws=raws, now=utcnow())


async def test_a_badge_is_created_with_its_rule(api):
    rule = {"eventTypes": ["post"], "aggregation": "COUNT", "goal": 5, "windowDays": 30,
            "filters": [{"property": "featured", "op": "EQUALS", "value": True},
                        {"property": "likes", "op": "AT_LEAST", "value": 10}]}
    data = await api.data(CREATE, {"input": {**STREAK, "key": "creator", "rule": rule}})
    badge = data["createBadge"]["badge"]
    assert data["createBadge"]["userErrors"] == []
    assert badge["rule"] == {"eventTypes": ["POST"], "aggregation": "COUNT", "goal": 5,
                             "windowDays": 30, "minAmountMinor": None,
                             "filters": [{"property": "featured", "op": "EQUALS", "value": True},
                                         {"property": "likes", "op": "AT_LEAST", "value": 10}]}
    assert badge["awardCount"] == 0 and badge["stage"] == "ACTIVE"
    listed = await api.data("{ badges { key } }")
    assert listed["badges"] == [{"key": "creator"}]


@pytest.mark.parametrize(("rule", "code", "field"), [
    ({"eventTypes": ["teleport"]}, "UNKNOWN_EVENT_TYPE", "rule.eventTypes"),
    ({"goal": 0}, "NON_POSITIVE_GOAL", "rule.goal"),
    ({"eventTypes": ["purchase"], "minAmountMinor": 1000}, "STREAK_WITH_AMOUNT",
     "rule.minAmountMinor"),
    ({"windowDays": -1}, "INVALID_VALUE", "rule.windowDays"),
    ({"filters": [{"property": "likes", "op": "AT_LEAST", "value": "ten"}]}, "INVALID_VALUE",
     "rule.filters.value"),
])
async def test_invalid_rules_return_their_code_and_create_nothing(api, rule, code, field):
    data = await api.data(CREATE, {"input": {**STREAK, "rule": {**STREAK["rule"], **rule}}})
    assert data["createBadge"]["badge"] is None
    [error] = data["createBadge"]["userErrors"]
    assert (error["code"], error["field"]) == (code, field)
    assert (await api.data("{ badges { key } }"))["badges"] == []


async def test_a_second_badge_with_the_same_key_is_a_duplicate(api):
    await api.data(CREATE, {"input": STREAK})
    data = await api.data(CREATE, {"input": {**STREAK, "name": "Other"}})
    assert data["createBadge"]["userErrors"] == [
        {"field": "key", "code": "DUPLICATE_BADGE",
         "message": "a badge already has key 'streak-3'"}]


async def test_updating_the_rule_of_an_unknown_badge_is_refused(api):
    data = await api.data(UPDATE_RULE, {"input": {"id": to_global_id("Badge", 404),
                                                  "rule": STREAK["rule"]}})
    assert data["updateBadgeRule"]["userErrors"][0]["code"] == "UNKNOWN_BADGE"
    data = await api.data(UPDATE_RULE, {"input": {"id": to_global_id("Tier", 1),
                                                  "rule": STREAK["rule"]}})
    assert data["updateBadgeRule"]["userErrors"][0]["code"] == "INVALID_ID"


async def test_a_rule_update_is_validated_and_applied(api):
    created = await api.data(CREATE, {"input": STREAK})
    badge_id = created["createBadge"]["badge"]["id"]
    bad = await api.data(UPDATE_RULE, {"input": {"id": badge_id,
                                                 "rule": {**STREAK["rule"], "goal": -1}}})
    assert bad["updateBadgeRule"]["userErrors"][0]["code"] == "NON_POSITIVE_GOAL"
    good = await api.data(UPDATE_RULE, {"input": {
        "id": badge_id, "rule": {**STREAK["rule"], "goal": 5, "windowDays": 30}}})
    assert good["updateBadgeRule"]["badge"]["rule"] == {"goal": 5, "windowDays": 30}


async def test_default_badges_install_once(api):
    first = (await api.data(INSTALL))["installDefaultBadges"]["badges"]
    assert [(b["key"], b["stage"]) for b in first] == [
        ("newbie", "EXPLORE"), ("active-medal", "ACTIVE"), ("creator", "CONTRIBUTE"),
        ("community-partner", "LEAD")]
    assert first[1]["rule"] == {"aggregation": "STREAK_DAYS", "goal": 7}
    again = (await api.data(INSTALL))["installDefaultBadges"]["badges"]
    assert again == first
    assert len((await api.data("{ badges { key } }"))["badges"]) == 4


async def test_awards_are_made_once_and_explain_themselves(api, database):
    member = await make_member(database)
    days = [date(2026, 1, 30), date(2026, 1, 31), date(2026, 2, 1), date(2026, 2, 5)]
    await _record(database, _check_ins(member.id, days))
    await api.data(CREATE, {"input": STREAK})

    run = (await api.data(AWARD, {"input": {"asOf": "2026-02-10"}}))["awardBadges"]
    assert run == {"asOf": "2026-02-10", "awarded": 1, "userErrors": [],
                   "byBadge": [{"badge": {"key": "streak-3"}, "awarded": 1}]}
    again = (await api.data(AWARD, {"input": {"asOf": "2026-02-10"}}))["awardBadges"]
    assert again["awarded"] == 0

    data = await api.data(MEMBER_BADGES, {"id": to_global_id("Member", member.id)})
    [award] = data["node"]["badges"]
    assert award["value"] == 3 and award["asOf"] == "2026-02-10"
    assert award["badge"] == {"key": "streak-3", "stage": "ACTIVE", "awardCount": 1}
    assert [e["externalId"] for e in award["evidence"]] == [
        f"c-{member.id}-{d}" for d in days[:3]]
    assert award["evidence"][0]["type"] == "CHECK_IN"
    assert award["evidence"][0]["eventId"].startswith("RXZlbnQ6")  # "Event:"


async def test_award_run_errors(api, database):
    member = await make_member(database)
    unknown = await api.data(AWARD, {"input": {"memberIds": [to_global_id("Member", 99)]}})
    assert unknown["awardBadges"]["userErrors"][0]["code"] == "NOT_FOUND"
    wrong = await api.data(AWARD, {"input": {"memberIds": [to_global_id("Badge", member.id)]}})
    assert wrong["awardBadges"]["userErrors"][0]["code"] == "INVALID_ID"
    many = [to_global_id("Member", member.id)] * 1001
    too_many = await api.data(AWARD, {"input": {"memberIds": many}})
    assert too_many["awardBadges"]["userErrors"][0]["field"] == "memberIds"


async def test_member_badges_of_a_page_load_in_one_statement(api, database):
    members = [await make_member(database) for _ in range(12)]
    start = date(2026, 2, 1)
    await _record(database, [raw for m in members
                             for raw in _check_ins(m.id, [start + timedelta(days=i)
                                                          for i in range(3)])])
    await api.data(CREATE, {"input": STREAK})
    await api.data(AWARD, {"input": {"asOf": "2026-02-28"}})
    await api.data("{ viewer { role } }")  # the token is verified once, then cached
    with database.statement_counter() as count:
        data = await api.data(PAGE_BADGES, {"first": 12})
    assert all(n["badges"][0]["badge"] == {"key": "streak-3"} and
               len(n["badges"][0]["evidence"]) == 3 for n in data["members"]["nodes"])
    # The page, the awards of all its members, and the badges they name.
    assert count[0] <= 3, f"{count[0]} statements"


@pytest.mark.parametrize("role", [Role.ANALYST, Role.INVESTOR])
async def test_read_only_roles_cannot_create_or_award(api, role):
    created = await api.data(CREATE, {"input": STREAK}, role=role)
    assert created["createBadge"]["userErrors"][0]["code"] == "FORBIDDEN"
    for mutation in (INSTALL, AWARD):
        body = await api.data(mutation, {"input": {}}, role=role)
        payload = next(iter(body.values()))
        assert payload["userErrors"][0]["code"] == "FORBIDDEN"


async def test_operators_award_and_investors_see_badges_but_no_members(api, database):
    member = await make_member(database)
    await _record(database, _check_ins(member.id, [date(2026, 2, 1)]))
    await api.data(INSTALL, role=Role.OPERATOR)
    run = await api.data(AWARD, {"input": {}}, role=Role.OPERATOR)
    assert run["awardBadges"]["awarded"] == 1
    data = await api.data("{ badges { key awardCount } }", role=Role.INVESTOR)
    assert data["badges"][0] == {"key": "newbie", "awardCount": 1}
    body = await api(MEMBER_BADGES, {"id": to_global_id("Member", member.id)},
                     role=Role.INVESTOR)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
