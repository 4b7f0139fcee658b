"""Tiers and campaigns over GraphQL, with their error codes."""

from __future__ import annotations

from api.relay import to_global_id
from tests.factories import make_member, make_tier

CREATE_TIER = """
mutation($input: CreateTierInput!) {
  createTier(input: $input) {
    tier { id key name rank benefits touchStrategy { channel everyDays content } memberCount }
    userErrors { field code message }
  }
}"""

ASSIGN = """
mutation($input: AssignTierInput!) {
  assignTier(input: $input) {
    assignment { source reason actor tier { key } previousTier { key } }
    member { tier { key } tierSource tierHistory { tier { key } reason } }
    userErrors { field code message }
  }
}"""

CREATE_CAMPAIGN = """
mutation($input: CreateCampaignInput!) {
  createCampaign(input: $input) {
    campaign { id name kind status budgetMinor targetTiers { key } targetChannels }
    userErrors { field code message }
  }
}"""

CHANGE_STATUS = """
mutation($input: ChangeCampaignStatusInput!) {
  changeCampaignStatus(input: $input) { campaign { status } userErrors { field code message } }
}"""

UPDATE_CAMPAIGN = """
mutation($input: UpdateCampaignInput!) {
  updateCampaign(input: $input) { campaign { startsAt endsAt } userErrors { code } }
}"""

TIER = {"key": "core", "name": "Core 核心层", "rank": 1, "benefits": ["1-on-1 service"],
        "touchStrategy": {"channel": "WECHAT", "everyDays": 3, "content": "VIP news"}}


async def test_tier_is_created_with_its_touch_strategy(api):
    data = await api.data(CREATE_TIER, {"input": TIER})
    tier = data["createTier"]["tier"]
    assert tier["touchStrategy"] == {"channel": "WECHAT", "everyDays": 3, "content": "VIP news"}
    assert tier["memberCount"] == 0


async def test_a_second_tier_with_the_same_rank_is_a_duplicate(api):
    await api.data(CREATE_TIER, {"input": TIER})
    data = await api.data(CREATE_TIER, {"input": {**TIER, "key": "other"}})
    assert data["createTier"]["userErrors"] == [
        {"field": "rank", "code": "DUPLICATE_TIER", "message": "tier 1 already has rank 1"}]


async def test_touch_frequency_out_of_range_is_invalid(api):
    bad = {**TIER, "touchStrategy": {"channel": "WECHAT", "everyDays": 0}}
    data = await api.data(CREATE_TIER, {"input": bad})
    assert data["createTier"]["userErrors"][0]["field"] == "touchStrategy.everyDays"


async def test_manual_assignment_is_recorded_with_who_and_why(api, database):
    core = await make_tier(database, key="core", rank=1)
    basic = await make_tier(database, key="basic", rank=3)
    member = await make_member(database)
    variables = {"input": {"memberId": to_global_id("Member", member.id),
                           "tierId": to_global_id("Tier", basic.id), "reason": "new"}}
    await api.data(ASSIGN, variables)
    variables["input"].update(tierId=to_global_id("Tier", core.id), reason="top spender")
    data = (await api.data(ASSIGN, variables))["assignTier"]
    assert data["assignment"]["previousTier"] == {"key": "basic"}
    assert data["assignment"]["source"] == "MANUAL"
    assert data["assignment"]["actor"].startswith("token:")
    assert data["member"]["tierSource"] == "MANUAL"
    assert [h["reason"] for h in data["member"]["tierHistory"]] == ["top spender", "new"]
    counts = await api.data("{ tiers { key memberCount } }")
    assert counts["tiers"] == [{"key": "core", "memberCount": 1},
                               {"key": "basic", "memberCount": 0}]


async def test_assigning_to_an_unknown_tier_is_not_found(api, database):
    member = await make_member(database)
    data = await api.data(ASSIGN, {"input": {"memberId": to_global_id("Member", member.id),
                                             "tierId": to_global_id("Tier", 404),
                                             "reason": "x"}})
    assert data["assignTier"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert data["assignTier"]["userErrors"][0]["field"] == "tierId"


async def test_a_campaign_without_targets_is_rejected(api):
    data = await api.data(CREATE_CAMPAIGN, {"input": {"name": "Spring", "kind": "COUPON",
                                                      "budgetMinor": 100000}})
    assert data["createCampaign"]["userErrors"][0]["code"] == "NO_TARGETS"


async def test_campaign_walks_its_lifecycle_and_refuses_invalid_moves(api, database):
    core = await make_tier(database, key="core")
    created = (await api.data(CREATE_CAMPAIGN, {"input": {
        "name": "7-day check-in", "kind": "CHECK_IN_STREAK", "budgetMinor": 5_000_000_000,
        "targetTierIds": [to_global_id("Tier", core.id)], "targetChannels": ["WECHAT"]}}))
    campaign = created["createCampaign"]["campaign"]
    assert campaign["status"] == "DRAFT" and campaign["budgetMinor"] == 5_000_000_000
    assert campaign["targetTiers"] == [{"key": "core"}]

    async def move(status):
        data = await api.data(CHANGE_STATUS, {"input": {"id": campaign["id"], "status": status}})
        return data["changeCampaignStatus"]

    assert (await move("RUNNING"))["userErrors"][0]["code"] == "INVALID_TRANSITION"
    # Scheduling needs a schedule.
    assert (await move("SCHEDULED"))["userErrors"][0]["code"] == "INVALID_TRANSITION"
    updated = await api.data(UPDATE_CAMPAIGN, {"input": {
        "id": campaign["id"], "name": "7-day check-in", "kind": "CHECK_IN_STREAK",
        "budgetMinor": 5_000_000_000, "targetTierIds": [to_global_id("Tier", core.id)],
        "startsAt": "2026-12-01T00:00:00+08:00", "endsAt": "2026-12-08T00:00:00+08:00"}})
    assert updated["updateCampaign"]["campaign"]["startsAt"] == "2026-11-30T16:00:00+00:00"
    for status in ("SCHEDULED", "RUNNING", "ENDED"):
        assert (await move(status)) == {"campaign": {"status": status}, "userErrors": []}
    refused = await move("RUNNING")
    assert refused["campaign"] is None
    assert refused["userErrors"][0]["message"].startswith("campaign 1 is ended")


async def test_campaign_ending_before_it_starts_is_invalid(api, database):
    data = await api.data(CREATE_CAMPAIGN, {"input": {
        "name": "Meetup", "kind": "MEETUP", "budgetMinor": 1, "targetChannels": ["OFFLINE"],
        "startsAt": "2026-12-02T00:00:00Z", "endsAt": "2026-12-01T00:00:00Z"}})
    assert data["createCampaign"]["userErrors"][0]["field"] == "endsAt"


async def test_negative_budget_and_unknown_target_tier_are_rejected(api):
    data = await api.data(CREATE_CAMPAIGN, {"input": {
        "name": "x", "kind": "COUPON", "budgetMinor": -1, "targetChannels": ["APP"]}})
    assert data["createCampaign"]["userErrors"][0]["field"] == "budgetMinor"
    data = await api.data(CREATE_CAMPAIGN, {"input": {
        "name": "x", "kind": "COUPON", "budgetMinor": 1,
        "targetTierIds": [to_global_id("Tier", 77)]}})
    assert data["createCampaign"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_campaigns_page_newest_first(api, database):
    for n in range(3):
        await api.data(CREATE_CAMPAIGN, {"input": {"name": f"c{n}", "kind": "TOPIC",
                                                   "budgetMinor": 0, "targetChannels": ["APP"]}})
    page = await api.data("{ campaigns(first: 2) { totalCount nodes { name } "
                          "pageInfo { endCursor hasNextPage } } }")
    assert [n["name"] for n in page["campaigns"]["nodes"]] == ["c2", "c1"]
    assert page["campaigns"]["totalCount"] == 3
    after = page["campaigns"]["pageInfo"]["endCursor"]
    rest = await api.data("query($a: String) { campaigns(first: 2, after: $a) { nodes { name } "
                          "pageInfo { hasNextPage } } }", {"a": after})
    assert rest["campaigns"] == {"nodes": [{"name": "c0"}], "pageInfo": {"hasNextPage": False}}
