"""Members over GraphQL: create, page, filter, merge, and the statement budget."""

from __future__ import annotations

from datetime import timedelta

from api.relay import to_global_id
from domain import events
from domain.clock import utcnow
from domain.members import Channel, IdentityKey
from tests.factories import T0, make_member, make_tier, place_in_tier

CREATE_MEMBER = """
mutation($input: CreateMemberInput!) {
  createMember(input: $input) {
    member { id displayName channel identities { channel externalId } }
    userErrors { field code message }
  }
}"""

MEMBERS_PAGE = """
query($first: Int!, $after: String, $filter: MemberFilter, $order: MemberOrder!) {
  members(first: $first, after: $after, filter: $filter, orderBy: $order) {
    totalCount
    edges { cursor node { id displayName joinedAt } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}"""

NESTED_PAGE = """
query($first: Int!) {
  members(first: $first) {
    edges { node { id displayName tier { name } identities { channel externalId } } }
  }
}"""

MERGE = """
mutation($input: MergeMembersInput!) {
  mergeMembers(input: $input) { merge { id survivor { id } } userErrors { field code message } }
}"""

UNDO = """
mutation($input: UndoMemberMergeInput!) {
  undoMemberMerge(input: $input) { merge { undoneAt merged { id status identities { externalId } } }
                                   userErrors { field code message } }
}"""


async def test_created_member_comes_back_with_identities(api):
    data = await api.data(CREATE_MEMBER, {"input": {
        "displayName": " Li Wei ", "channel": "DOUYIN",
        "identities": [{"channel": "DOUYIN", "externalId": "dy-1"},
                       {"channel": "WECHAT", "externalId": "wx-1"}],
    }})
    payload = data["createMember"]
    assert payload["userErrors"] == []
    assert payload["member"]["displayName"] == "Li Wei"
    assert {i["externalId"] for i in payload["member"]["identities"]} == {"dy-1", "wx-1"}


async def test_an_identity_already_taken_is_a_duplicate_identity_error(api, database):
    await make_member(database, identities=(IdentityKey(Channel.WECHAT, "wx-taken"),))
    data = await api.data(CREATE_MEMBER, {"input": {
        "displayName": "Someone", "channel": "WECHAT",
        "identities": [{"channel": "WECHAT", "externalId": "wx-taken"}]}})
    assert data["createMember"]["member"] is None
    assert [e["code"] for e in data["createMember"]["userErrors"]] == ["DUPLICATE_IDENTITY"]
    count = await api.data("{ members(first: 0) { totalCount } }")
    assert count["members"]["totalCount"] == 1  # nothing half-written


async def test_adding_an_identity_another_member_has_names_the_external_id(api, database):
    await make_member(database, identities=(IdentityKey(Channel.WECHAT, "wx-taken"),))
    other = await make_member(database)
    data = await api.data("""mutation($input: AddMemberIdentityInput!) {
        addMemberIdentity(input: $input) { member { id } userErrors { field code } } }""",
        {"input": {"memberId": to_global_id("Member", other.id), "channel": "WECHAT",
                   "externalId": "wx-taken"}})
    assert data["addMemberIdentity"] == {"member": None, "userErrors": [
        {"field": "externalId", "code": "DUPLICATE_IDENTITY"}]}  # was "identities"


async def test_invalid_email_names_the_field(api):
    data = await api.data(CREATE_MEMBER, {"input": {
        "displayName": "A", "channel": "APP", "email": "not-an-email"}})
    assert data["createMember"]["userErrors"] == [
        {"field": "email", "code": "INVALID_VALUE",
         "message": "email 'not-an-email' is not an address"}]


async def test_paging_visits_every_member_once_in_join_order(api, database):
    created = [await make_member(database) for _ in range(7)]
    seen, after = [], None
    while True:
        page = (await api.data(MEMBERS_PAGE, {"first": 3, "after": after,
                                              "order": "JOINED_AT_ASC"}))["members"]
        assert page["totalCount"] == 7
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [to_global_id("Member", m.id) for m in created]


async def test_descending_order_breaks_ties_on_join_time_by_id(api, database):
    same_time = [await make_member(database, joined_at=T0) for _ in range(4)]
    first = (await api.data(MEMBERS_PAGE, {"first": 2, "order": "JOINED_AT_DESC"}))["members"]
    rest = (await api.data(MEMBERS_PAGE, {"first": 2, "order": "JOINED_AT_DESC",
                                          "after": first["pageInfo"]["endCursor"]}))["members"]
    ids = [e["node"]["id"] for e in first["edges"] + rest["edges"]]
    assert ids == [to_global_id("Member", m.id) for m in reversed(same_time)]


async def test_filters_by_tier_channel_join_range_and_name(api, database):
    core = await make_tier(database, key="core", name="Core")
    a = await make_member(database, channel=Channel.DOUYIN, joined_at=T0 + timedelta(days=1),
                          profile=_profile("Wang Fang"))
    b = await make_member(database, channel=Channel.DOUYIN, joined_at=T0 + timedelta(days=5),
                          profile=_profile("Zhang Wei"))
    await make_member(database, channel=Channel.OFFLINE, joined_at=T0 + timedelta(days=1),
                      profile=_profile("Wang Lei"))
    await place_in_tier(database, a.id, core.id)
    await place_in_tier(database, b.id, core.id)

    async def ids(flt):
        page = await api.data(MEMBERS_PAGE, {"first": 10, "filter": flt,
                                             "order": "JOINED_AT_ASC"})
        return [e["node"]["displayName"] for e in page["members"]["edges"]]

    assert await ids({"tierIds": [to_global_id("Tier", core.id)]}) == ["Wang Fang", "Zhang Wei"]
    assert await ids({"channels": ["OFFLINE"]}) == ["Wang Lei"]
    assert await ids({"joinedFrom": (T0 + timedelta(days=2)).isoformat()}) == ["Zhang Wei"]
    assert await ids({"search": "wang", "channels": ["DOUYIN"]}) == ["Wang Fang"]
    assert await ids({"search": "%"}) == []  # wildcards are literal


async def test_members_page_with_tier_and_identities_needs_at_most_three_statements(api, database):
    tiers = [await make_tier(database) for _ in range(3)]
    for n in range(60):
        member = await make_member(database)
        await place_in_tier(database, member.id, tiers[n % 3].id)
    await api.data("{ viewer { role } }")  # the token is verified once, then cached
    for size in (5, 60):
        with database.statement_counter() as count:
            data = await api.data(NESTED_PAGE, {"first": size})
        nodes = [e["node"] for e in data["members"]["edges"]]
        assert len(nodes) == size
        assert all(n["tier"]["name"].startswith("Tier") and len(n["identities"]) == 1
                   for n in nodes)
        assert count[0] <= 3, f"{count[0]} statements for a page of {size}"


async def test_merge_moves_identities_and_events_and_undo_gives_them_back(api, database):
    survivor = await make_member(database)
    merged = await make_member(database, identities=(IdentityKey(Channel.DOUYIN, "dy-9"),))
    async with database.unit_of_work() as uow:
        await events.record_events(uow=uow, now=utcnow(), raws=[events.EventInput(
            external_id="e1", type="login", occurred_at=utcnow(), member_id=merged.id)])
    data = await api.data(MERGE, {"input": {"survivorId": to_global_id("Member", survivor.id),
                                            "mergedId": to_global_id("Member", merged.id),
                                            "reason": "same phone"}})
    merge_id = data["mergeMembers"]["merge"]["id"]
    async with database.unit_of_work(write=False) as uow:
        owners = await uow.members.identity_owners([IdentityKey(Channel.DOUYIN, "dy-9")])
        recent = await uow.events.recent_for_members([survivor.id], limit=5)
    assert owners == {IdentityKey(Channel.DOUYIN, "dy-9"): survivor.id}
    assert [e.external_id for _, e in recent[survivor.id]] == ["e1"]

    undone = (await api.data(UNDO, {"input": {"mergeId": merge_id}}))["undoMemberMerge"]
    assert undone["userErrors"] == []
    assert undone["merge"]["merged"]["status"] == "ACTIVE"
    assert undone["merge"]["merged"]["identities"] == [{"externalId": "dy-9"}]
    async with database.unit_of_work(write=False) as uow:
        recent = await uow.events.recent_for_members([merged.id, survivor.id], limit=5)
    assert [e.external_id for _, e in recent[merged.id]] == ["e1"]
    assert survivor.id not in recent
    again = (await api.data(UNDO, {"input": {"mergeId": merge_id}}))["undoMemberMerge"]
    assert [e["code"] for e in again["userErrors"]] == ["INVALID_MERGE"]


async def test_merging_a_member_into_itself_or_an_unknown_member_is_rejected(api, database):
    member = await make_member(database)
    me = to_global_id("Member", member.id)
    data = await api.data(MERGE, {"input": {"survivorId": me, "mergedId": me, "reason": "x"}})
    assert [e["code"] for e in data["mergeMembers"]["userErrors"]] == ["INVALID_MERGE"]
    data = await api.data(MERGE, {"input": {"survivorId": me, "reason": "x",
                                            "mergedId": to_global_id("Member", 999)}})
    assert data["mergeMembers"]["userErrors"][0]["code"] == "NOT_FOUND"
    data = await api.data(MERGE, {"input": {"survivorId": me, "mergedId": "garbage!",
                                            "reason": "x"}})
    assert data["mergeMembers"]["userErrors"][0] == {
        "field": "mergedId", "code": "INVALID_ID", "message": "'garbage!' is not a tierwise id"}


def _profile(name):
    from domain.members import Profile

    return Profile(display_name=name)
