"""recordEvents: idempotent, all-or-nothing batches with per-event errors."""

from __future__ import annotations

from api.relay import to_global_id
from domain.events import MAX_BATCH
from domain.members import Channel, IdentityKey
from tests.factories import make_member

RECORD = """
mutation($input: [RecordEventInput!]!) {
  recordEvents(input: $input) { accepted duplicates userErrors { field code message } }
}"""

RECENT = """
query($id: ID!) { node(id: $id) { ... on Member { recentEvents(first: 5) {
  externalId type amountMinor occurredAt } } } }"""


def _event(n, member, **overrides):
    return {"externalId": f"evt-{n}", "type": "LOGIN", "occurredAt": "2026-11-01T08:00:00+08:00",
            "memberId": to_global_id("Member", member.id), **overrides}


async def test_recording_the_same_batch_twice_stores_it_once(api, database):
    member = await make_member(database)
    batch = [_event(1, member), _event(2, member, type="PURCHASE", amountMinor=1999)]
    first = await api.data(RECORD, {"input": batch})
    again = await api.data(RECORD, {"input": batch})
    assert first["recordEvents"] == {"accepted": 2, "duplicates": 0, "userErrors": []}
    assert again["recordEvents"] == {"accepted": 0, "duplicates": 2, "userErrors": []}
    recent = await api.data(RECENT, {"id": to_global_id("Member", member.id)})
    assert recent["node"]["recentEvents"][0]["occurredAt"] == "2026-11-01T00:00:00+00:00"
    assert sorted(e["amountMinor"] or 0 for e in recent["node"]["recentEvents"]) == [0, 1999]


async def test_events_can_name_their_member_by_channel_identity(api, database):
    member = await make_member(database, identities=(IdentityKey(Channel.DOUYIN, "dy-7"),))

    def share(external_id, channel):
        return {"externalId": external_id, "type": "SHARE", "occurredAt": "2026-11-01T00:00:00Z",
                "identity": {"channel": channel, "externalId": "dy-7"}}

    data = await api.data(RECORD, {"input": [share("a", "DOUYIN")]})
    assert data["recordEvents"]["accepted"] == 1
    data = await api.data(RECORD, {"input": [share("b", "WECHAT")]})
    assert data["recordEvents"]["userErrors"] == [
        {"field": "input.0.memberId", "code": "UNKNOWN_MEMBER",
         "message": "no member has wechat identity 'dy-7'"}]
    recent = await api.data(RECENT, {"id": to_global_id("Member", member.id)})
    assert [e["type"] for e in recent["node"]["recentEvents"]] == ["SHARE"]


async def test_one_invalid_event_rejects_the_whole_batch_naming_each_culprit(api, database):
    member = await make_member(database)
    batch = [_event(1, member),
             _event(2, member, type="PURCHASE"),
             _event(3, member, amountMinor=5),
             _event(4, member, memberId=to_global_id("Member", 9999)),
             _event(5, member, occurredAt="2030-01-01T00:00:00Z")]
    data = await api.data(RECORD, {"input": batch})
    assert data["recordEvents"]["accepted"] == 0
    assert [(e["field"], e["code"]) for e in data["recordEvents"]["userErrors"]] == [
        ("input.1.amountMinor", "INVALID_VALUE"),
        ("input.2.amountMinor", "INVALID_VALUE"),
        ("input.3.memberId", "UNKNOWN_MEMBER"),
        ("input.4.occurredAt", "INVALID_VALUE"),
    ]
    recent = await api.data(RECENT, {"id": to_global_id("Member", member.id)})
    assert recent["node"]["recentEvents"] == []


async def test_a_batch_over_the_limit_is_refused_before_anything_is_written(api, database):
    member = await make_member(database)
    batch = [_event(n, member) for n in range(MAX_BATCH + 1)]
    data = await api.data(RECORD, {"input": batch})
    assert data["recordEvents"]["userErrors"][0]["code"] == "BATCH_TOO_LARGE"
    recent = await api.data(RECENT, {"id": to_global_id("Member", member.id)})
    assert recent["node"]["recentEvents"] == []


async def test_an_unknown_event_type_is_a_validation_error(api, database):
    member = await make_member(database)
    body = await api(RECORD, {"input": [_event(1, member, type="TELEPORT")]})
    assert "TELEPORT" in body["errors"][0]["message"]
