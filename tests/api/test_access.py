"""Tokens and roles: nothing without a token; personal data only for operators and admins."""

from __future__ import annotations

import pytest

from api.relay import to_global_id
from domain.access import Role
from tests.factories import make_member, make_tier, place_in_tier

PERSONAL_FIELDS = ("displayName", "email", "phone", "identities { externalId }")

CREATE_TIER = """
mutation { createTier(input: {key: "k", name: "K", rank: 9,
  touchStrategy: {channel: APP, everyDays: 7}}) { tier { key } userErrors { code } } }"""


async def test_requests_without_a_valid_token_get_401(api):
    for headers in ({}, {"Authorization": "Bearer tw_not-a-real-token"},
                    {"Authorization": "Basic abc"}):
        response = await api.client.post("/graphql", json={"query": "{ viewer { role } }"},
                                         headers=headers)
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_graphiql_page_is_served_without_a_token_but_holds_no_data(api):
    response = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
    refused = await api.client.get("/graphql", params={"query": "{ viewer { role } }"},
                                   headers={"Accept": "text/html"})
    assert refused.status_code == 401


@pytest.mark.parametrize("role", list(Role))
async def test_viewer_reports_each_role(api, role):
    data = await api.data("{ viewer { role canReadPersonalData } }", role=role)
    assert data["viewer"] == {"role": role.name,
                              "canReadPersonalData": role in (Role.ADMIN, Role.OPERATOR)}


@pytest.mark.parametrize("field", PERSONAL_FIELDS)
@pytest.mark.parametrize("role", [Role.ANALYST, Role.INVESTOR])
async def test_personal_data_is_refused_to_analysts_and_investors(api, database, role, field):
    member = await make_member(database)
    for query in (f"{{ members(first: 5) {{ nodes {{ {field} }} }} }}",
                  f'{{ node(id: "{to_global_id("Member", member.id)}") '
                  f"{{ ... on Member {{ {field} }} }} }}"):
        body = await api(query, role=role)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert "Member" not in str(body.get("data"))  # nothing personal leaks alongside
        assert member.profile.display_name not in str(body)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OPERATOR])
async def test_operators_and_admins_read_personal_data(api, database, role):
    member = await make_member(database)
    data = await api.data("{ members(first: 5) { nodes { displayName email phone "
                          "identities { externalId } } } }", role=role)
    assert data["members"]["nodes"][0]["email"] == member.profile.email


async def test_analysts_read_members_without_personal_data(api, database):
    tier = await make_tier(database, key="core", name="Core")
    member = await make_member(database)
    await place_in_tier(database, member.id, tier.id)
    data = await api.data("{ members(first: 5) { nodes { region channel tier { name } } } }",
                          role=Role.ANALYST)
    assert data["members"]["nodes"] == [{"region": None, "channel": "WECHAT",
                                         "tier": {"name": "Core"}}]


async def test_investors_see_aggregates_but_no_member_rows(api, database):
    tier = await make_tier(database, key="core")
    member = await make_member(database)
    await place_in_tier(database, member.id, tier.id)
    data = await api.data("{ tiers { key memberCount } }", role=Role.INVESTOR)
    assert data["tiers"] == [{"key": "core", "memberCount": 1}]
    for query in ("{ members(first: 1) { totalCount } }",
                  f'{{ node(id: "{to_global_id("Member", member.id)}") {{ id }} }}'):
        body = await api(query, role=Role.INVESTOR)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert not any((body["data"] or {}).values())


@pytest.mark.parametrize("role", [Role.ANALYST, Role.INVESTOR])
async def test_read_only_roles_cannot_change_anything(api, role):
    data = await api.data(CREATE_TIER, role=role)
    assert data["createTier"] == {"tier": None, "userErrors": [{"code": "FORBIDDEN"}]}
    assert (await api.data("{ tiers { key } }"))["tiers"] == []


async def test_operators_change_the_community(api):
    data = await api.data(CREATE_TIER, role=Role.OPERATOR)
    assert data["createTier"] == {"tier": {"key": "k"}, "userErrors": []}


async def test_every_personal_field_in_the_schema_is_guarded():
    # A new personal field must be added to PERSONAL_FIELDS (and guarded) consciously.
    from api.schema import schema

    member = schema.get_type_by_name("Member")
    guarded = {f.name for f in member.fields if f.description and "Personal data" in f.description}
    assert guarded == {"display_name", "email", "phone", "identities"}
