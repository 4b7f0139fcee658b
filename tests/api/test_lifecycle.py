"""refreshLifecycle, lifecycleCounts, churnWarnings and the member fields over GraphQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from api.relay import to_global_id
from domain import events
from domain.access import Role
from domain.clock import utcnow
from tests.factories import make_member, make_tier, place_in_tier

AS_OF = date(2026, 4, 30)
JOINED = datetime(2026, 1, 1, tzinfo=UTC)

REFRESH = """
mutation($input: RefreshLifecycleInput!) {
  refreshLifecycle(input: $input) {
    asOf transitions warnings stages { stage count }
    userErrors { field code message }
  }
}"""

COUNTS = """
query($asOf: Date) {
  lifecycleCounts(asOf: $asOf) { asOf computed unclassified stages { stage count } }
}"""

WARNINGS = """
query($level: Int!, $first: Int!, $after: String) {
  churnWarnings(level: $level, first: $first, after: $after) {
    totalCount
    edges { cursor node { risk { level daysInactive suggestedAction asOf }
                          member { id lifecycleStage } } }
    pageInfo { hasNextPage endCursor }
  }
}"""

MEMBER = """
query($id: ID!) {
  node(id: $id) { ... on Member {
    lifecycleStage lifecycleAsOf
    churnRisk { level daysInactive suggestedAction }
    lifecycleHistory { fromStage toStage asOf }
  } }
}"""


def _at(days_before: int) -> datetime:
    return datetime.combine(AS_OF - timedelta(days=days_before), datetime.min.time(),
                            tzinfo=UTC) + timedelta(hours=9)


async def _given_three_members(database):
    """An active member (logins on 4 recent days, a post 60 days earlier), a new one
    (first login 8 days before AS_OF) and a prospect who never came back (joined 119 days
    before AS_OF)."""
    active, new, prospect = [await make_member(database, joined_at=JOINED) for _ in range(3)]
    raws = [events.EventInput(external_id=f"a{d}", type="login", occurred_at=_at(d),
                              member_id=active.id) for d in (0, 1, 2, 3)]
    raws.append(events.EventInput(external_id="a60", type="post", occurred_at=_at(60),
                                  member_id=active.id))
    raws.append(events.EventInput(external_id="n1", type="login", occurred_at=_at(8),
                                  member_id=new.id))
    async with database.unit_of_work() as uow:
        await events.record_events(uow=uow, raws=raws, now=utcnow())
    return active, new, prospect


async def test_refresh_returns_counts_and_members_show_stage_risk_and_history(api, database):
    core = await make_tier(database, key="core", rank=1)
    active, new, prospect = await _given_three_members(database)
    await place_in_tier(database, prospect.id, core.id)
    data = (await api.data(REFRESH, {"input": {"asOf": "2026-04-30"}}))["refreshLifecycle"]
    assert data["userErrors"] == [] and data["asOf"] == "2026-04-30"
    assert {s["stage"]: s["count"] for s in data["stages"]} == {
        "PROSPECT": 1, "NEW": 1, "ACTIVE": 1, "HIGH_VALUE": 0, "DORMANT": 0, "CHURNED": 0}
    assert (data["transitions"], data["warnings"]) == (3, 2)

    member = (await api.data(MEMBER, {"id": to_global_id("Member", new.id)}))["node"]
    assert member == {"lifecycleStage": "NEW", "lifecycleAsOf": "2026-04-30",
                      "churnRisk": {"level": 2, "daysInactive": 8,
                                    "suggestedAction": "COUPON"},
                      "lifecycleHistory": [{"fromStage": None, "toStage": "NEW",
                                            "asOf": "2026-04-30"}]}
    member = (await api.data(MEMBER, {"id": to_global_id("Member", prospect.id)}))["node"]
    assert member["churnRisk"] == {"level": 3, "daysInactive": 119,
                                   "suggestedAction": "ONE_ON_ONE_CONTACT"}  # core ladder
    member = (await api.data(MEMBER, {"id": to_global_id("Member", active.id)}))["node"]
    assert member["churnRisk"] is None

    again = (await api.data(REFRESH, {"input": {"asOf": "2026-04-30"}}))["refreshLifecycle"]
    assert again["transitions"] == 0


async def test_members_are_filtered_by_lifecycle_stage(api, database):
    active, new, _ = await _given_three_members(database)
    await api.data(REFRESH, {"input": {"asOf": "2026-04-30"}})
    data = await api.data('{ members(filter: {lifecycleStages: [ACTIVE, NEW]}) '
                          '{ totalCount nodes { id lifecycleStage } } }')
    assert data["members"]["totalCount"] == 2
    assert {n["id"] for n in data["members"]["nodes"]} == {
        to_global_id("Member", active.id), to_global_id("Member", new.id)}


async def test_churn_warnings_page_by_level_then_days_inactive(api, database):
    for n in range(4):  # last logins 3, 5, 7 and 20 days before AS_OF
        member = await make_member(database, joined_at=JOINED)
        async with database.unit_of_work() as uow:
            await events.record_events(uow=uow, now=utcnow(), raws=[events.EventInput(
                external_id=f"w{n}", type="login", occurred_at=_at((3, 5, 7, 20)[n]),
                member_id=member.id)])
    await api.data(REFRESH, {"input": {"asOf": "2026-04-30"}})
    first = (await api.data(WARNINGS, {"level": 1, "first": 2}))["churnWarnings"]
    assert first["totalCount"] == 4
    risks = [e["node"]["risk"] for e in first["edges"]]
    assert [(r["level"], r["daysInactive"]) for r in risks] == [(3, 20), (2, 7)]
    # First seen 20 days ago, so still new (and already at level 3).
    assert first["edges"][0]["node"]["member"]["lifecycleStage"] == "NEW"
    rest = (await api.data(WARNINGS, {"level": 1, "first": 2,
                                      "after": first["pageInfo"]["endCursor"]}))["churnWarnings"]
    assert [(e["node"]["risk"]["level"], e["node"]["risk"]["daysInactive"])
            for e in rest["edges"]] == [(1, 5), (1, 3)]
    assert rest["pageInfo"]["hasNextPage"] is False
    high = (await api.data(WARNINGS, {"level": 2, "first": 10}))["churnWarnings"]
    assert high["totalCount"] == 2
    body = await api(WARNINGS, {"level": 0, "first": 10})
    assert body["errors"][0]["extensions"]["code"] == "INVALID_VALUE"


async def test_lifecycle_counts_stored_and_computed_for_a_day(api, database):
    await _given_three_members(database)
    before = (await api.data(COUNTS))["lifecycleCounts"]
    assert (before["asOf"], before["computed"], before["unclassified"]) == (None, False, 3)
    await api.data(REFRESH, {"input": {"asOf": "2026-04-30"}})
    stored = (await api.data(COUNTS, role=Role.INVESTOR))["lifecycleCounts"]
    assert stored["asOf"] == "2026-04-30" and stored["unclassified"] == 0
    assert [s["count"] for s in stored["stages"]] == [1, 1, 1, 0, 0, 0]
    # 40 days later nobody has come back: the active and new members are dormant.
    later = (await api.data(COUNTS, {"asOf": "2026-06-09"}))["lifecycleCounts"]
    assert later["computed"] is True
    assert {s["stage"]: s["count"] for s in later["stages"] if s["count"]} == {
        "PROSPECT": 1, "DORMANT": 2}
    future = await api(COUNTS, {"asOf": (utcnow().date() + timedelta(days=2)).isoformat()})
    assert future["errors"][0]["extensions"]["code"] == "AS_OF_IN_FUTURE"
    # Year 1 used to overflow counting the activity window back (an unexpected error).
    ancient = await api(COUNTS, {"asOf": "0001-01-01"})
    assert ancient["errors"][0]["extensions"] == {"code": "AS_OF_TOO_EARLY", "field": "asOf"}


@pytest.mark.parametrize(("input", "code", "field"), [
    ({"churn": {"warningAfterDays": [3, 7, 7]}}, "LEVELS_NOT_INCREASING",
     "churn.warningAfterDays.2"),
    ({"churn": {"warningAfterDays": [0, 7]}}, "NON_POSITIVE_DAYS", "churn.warningAfterDays.0"),
    ({"churn": {"tierActions": [{"tierKey": "gold", "actions": ["COUPON"] * 3}]}},
     "UNKNOWN_TIER", "churn.tierActions.0.tierKey"),
    ({"churn": {"actions": ["COUPON"]}}, "ACTIONS_DO_NOT_MATCH_LEVELS", "churn.actions"),
    ({"policy": {"activeMinDays": 0}}, "NON_POSITIVE_DAYS", "policy.activeMinDays"),
    ({"policy": {"dormantAfterDays": 120}}, "INVALID_WINDOWS", "policy.dormantAfterDays"),
    ({"policy": {"highValueTopShare": 2.0}}, "INVALID_VALUE", "policy.highValueTopShare"),
    ({"asOf": "2999-01-01"}, "AS_OF_IN_FUTURE", "asOf"),
    ({"asOf": "0001-01-01"}, "AS_OF_TOO_EARLY", "asOf"),
])
async def test_invalid_refresh_input_is_a_user_error_and_writes_nothing(api, database, input,
                                                                        code, field):
    await make_member(database, joined_at=JOINED)
    data = (await api.data(REFRESH, {"input": {"asOf": "2026-04-30", **input}}))
    errors = data["refreshLifecycle"]["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [(code, field)]
    counts = (await api.data(COUNTS))["lifecycleCounts"]
    assert counts["unclassified"] == 1 and counts["asOf"] is None


async def test_a_refresh_older_than_the_last_is_refused(api, database):
    await make_member(database, joined_at=JOINED)
    await api.data(REFRESH, {"input": {"asOf": "2026-04-30"}})
    data = await api.data(REFRESH, {"input": {"asOf": "2026-04-29"}})
    assert data["refreshLifecycle"]["userErrors"][0]["code"] == "AS_OF_BEFORE_LAST_REFRESH"


@pytest.mark.parametrize("role", [Role.ANALYST, Role.INVESTOR])
async def test_only_operators_and_admins_refresh(api, database, role):
    data = await api.data(REFRESH, {"input": {"asOf": "2026-04-30"}}, role=role)
    assert data["refreshLifecycle"]["userErrors"][0]["code"] == "FORBIDDEN"


async def test_investors_get_counts_but_no_warning_rows(api, database):
    await _given_three_members(database)
    await api.data(REFRESH, {"input": {"asOf": "2026-04-30"}}, role=Role.OPERATOR)
    body = await api(WARNINGS, {"level": 1, "first": 5}, role=Role.INVESTOR)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN" and body["data"] is None
    analyst = await api.data(WARNINGS, {"level": 1, "first": 5}, role=Role.ANALYST)
    assert analyst["churnWarnings"]["totalCount"] == 2


README_EXAMPLE = """
mutation {
  refreshLifecycle(input: {asOf: "2026-04-30",
                           churn: {warningAfterDays: [3, 7, 14],
                                   tierActions: [{tierKey: "core", actions: [
                                     PERSONALISED_PUSH, PRIORITY_ACCESS, ONE_ON_ONE_CONTACT]}]}}) {
    asOf transitions warnings stages { stage count }
    userErrors { field code message }
  }
}"""


async def test_the_readme_example_works(api, database):
    core = await make_tier(database, key="core", rank=1)
    _, _, prospect = await _given_three_members(database)
    await place_in_tier(database, prospect.id, core.id)
    data = (await api.data(README_EXAMPLE))["refreshLifecycle"]
    assert data["userErrors"] == [] and data["warnings"] == 2
    query = ("{ churnWarnings(level: 2, first: 20) { totalCount nodes { risk { level "
             "daysInactive suggestedAction } member { id lifecycleStage tier { key } } } } }")
    nodes = (await api.data(query))["churnWarnings"]["nodes"]
    assert nodes[0] == {"risk": {"level": 3, "daysInactive": 119,
                                 "suggestedAction": "ONE_ON_ONE_CONTACT"},
                        "member": {"id": to_global_id("Member", prospect.id),
                                   "lifecycleStage": "PROSPECT", "tier": {"key": "core"}}}
