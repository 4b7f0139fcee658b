"""Merging and unmerging through GraphQL: the survivor's balance and badges show it."""

from __future__ import annotations

from api.relay import to_global_id as gid
from domain import badges, events
from domain.badge_rules import Aggregation, Rule
from domain.badges import BadgeSpec, GrowthStage
from domain.clock import utcnow
from domain.events import EventType
from tests.factories import make_member

AWARD = """
mutation($input: AwardPointsInput!) {
  awardPoints(input: $input) { member { points { balance } } userErrors { field code } }
}"""

FIELDS = """
pointsMoved pointsReturned badgesAdded { key }
survivor { points { balance } badges { badge { key } } }
merged { points { balance entries(first: 5) { edges { node { kind amount } } } }
         badges { badge { key } } }
"""

MERGE = """
mutation($input: MergeMembersInput!) {
  mergeMembers(input: $input) { merge { id FIELDS } userErrors { field code message } }
}""".replace("FIELDS", FIELDS)

UNDO = """
mutation($input: UndoMemberMergeInput!) {
  undoMemberMerge(input: $input) { merge { FIELDS } userErrors { field code message } }
}""".replace("FIELDS", FIELDS)


async def _points(api, member_id, amount, key, kind="EARN"):
    data = await api.data(AWARD, {"input": {"memberId": gid("Member", member_id),
                                            "amount": amount, "reason": "test",
                                            "idempotencyKey": key, "kind": kind}})
    assert data["awardPoints"]["userErrors"] == []


async def _poster_badge_for(database, member_id):
    async with database.unit_of_work() as uow:
        await badges.create_badge(uow=uow, actor="test", spec=BadgeSpec(
            key="poster", name="Poster", stage=GrowthStage.CONTRIBUTE,
            rule=Rule(aggregation=Aggregation.COUNT, goal=1, event_types=(EventType.POST,))))
    now = utcnow()
    async with database.unit_of_work() as uow:
        await events.record_events(uow=uow, now=now, raws=[events.EventInput(
            external_id="p1", type="post", occurred_at=now, member_id=member_id)])
    async with database.unit_of_work() as uow:
        await badges.award_badges(uow=uow, as_of=now.date(), actor="test", now=now)


async def test_merge_gives_the_survivor_the_points_and_badges_and_undo_returns_the_rest(
        api, database):
    merged, survivor = await make_member(database), await make_member(database)
    await _points(api, merged.id, 50, "m-50")  # earned first: the oldest lot
    await _points(api, survivor.id, 100, "s-100")
    await _poster_badge_for(database, merged.id)

    merge = (await api.data(MERGE, {"input": {
        "survivorId": gid("Member", survivor.id), "mergedId": gid("Member", merged.id),
        "reason": "same phone"}}))["mergeMembers"]
    assert merge["userErrors"] == []
    moved = merge["merge"]
    assert (moved["pointsMoved"], moved["pointsReturned"]) == (50, None)
    assert moved["badgesAdded"] == [{"key": "poster"}]
    assert moved["survivor"]["points"]["balance"] == 150
    assert moved["survivor"]["badges"] == [{"badge": {"key": "poster"}}]
    assert moved["merged"]["points"]["balance"] == 0
    assert moved["merged"]["points"]["entries"]["edges"][0]["node"] == {
        "kind": "TRANSFER_OUT", "amount": -50}

    # The survivor spends 20: FIFO takes them from the older, moved lot.
    await _points(api, survivor.id, -20, "s-spend", kind="ADJUST")
    undone = (await api.data(UNDO, {"input": {"mergeId": moved["id"]}}))["undoMemberMerge"]

    assert undone["userErrors"] == []
    back = undone["merge"]
    assert (back["pointsMoved"], back["pointsReturned"]) == (50, 30)
    assert back["survivor"]["points"]["balance"] == 100
    assert back["survivor"]["badges"] == []
    assert back["merged"]["points"]["balance"] == 30
    assert back["merged"]["badges"] == [{"badge": {"key": "poster"}}]
    again = (await api.data(UNDO, {"input": {"mergeId": moved["id"]}}))["undoMemberMerge"]
    assert [e["code"] for e in again["userErrors"]] == ["INVALID_MERGE"]
    assert (await api.data(MERGE, {"input": {
        "survivorId": gid("Member", survivor.id), "mergedId": gid("Member", merged.id),
        "reason": "again"}}))["mergeMembers"]["merge"]["pointsMoved"] == 30
