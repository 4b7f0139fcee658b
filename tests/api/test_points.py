"""Points over GraphQL: every mutation, its error codes, and who may read or write."""

from __future__ import annotations

from datetime import timedelta

from api.relay import to_global_id
from domain import events
from domain.access import Role
from domain.clock import utcnow
from tests.factories import T0, make_member, make_tier

AWARD = """
mutation($input: AwardPointsInput!) {
  awardPoints(input: $input) {
    entry { id kind amount reason idempotencyKey expiresAt }
    member { points { balance } }
    userErrors { field code message }
  }
}"""

REDEEM = """
mutation($input: RedeemBenefitInput!) {
  redeemBenefit(input: $input) {
    redemption { id costPoints benefit { name stock } entry { kind amount } }
    member { points { balance } }
    userErrors { field code message }
  }
}"""

REVERSE = """
mutation($input: ReversePointsEntryInput!) {
  reversePointsEntry(input: $input) {
    entry { kind amount reversesEntryId } member { points { balance } }
    userErrors { field code }
  }
}"""

CREATE_BENEFIT = """
mutation($input: CreateBenefitInput!) {
  createBenefit(input: $input) { benefit { id name costPoints stock active }
                                 userErrors { field code } }
}"""

UPDATE_BENEFIT = """
mutation($input: UpdateBenefitInput!) {
  updateBenefit(input: $input) { benefit { name stock active } userErrors { field code } }
}"""

SET_RULES = """
mutation($input: SetEarnRulesInput!) {
  setEarnRules(input: $input) {
    earnRules { rules { eventType points dailyCap expiryDays }
                tierMultipliers { multiplier tier { key } } }
    userErrors { field code }
  }
}"""

ACCRUE = """
mutation($input: AccruePointsInput) {
  accruePoints(input: $input) { examined written points members userErrors { field code } }
}"""

EXPIRE = """
mutation($input: ExpirePointsInput) {
  expirePoints(input: $input) { written points members userErrors { field code } }
}"""

POINTS = """
query($id: ID!) { node(id: $id) { ... on Member { points { balance
  entries(first: 2) { totalCount nodes { kind amount } pageInfo { hasNextPage endCursor } }
} } } }"""


def gid(kind, pk):
    return to_global_id(kind, pk)


async def award(api, member_id, amount, key, **extra):
    data = await api.data(AWARD, {"input": {"memberId": gid("Member", member_id),
                                            "amount": amount, "reason": "welcome",
                                            "idempotencyKey": key, **extra}})
    return data["awardPoints"]


async def benefit(api, **fields):
    data = await api.data(CREATE_BENEFIT, {"input": {"name": "Coupon", "costPoints": 100,
                                                     **fields}})
    return data["createBenefit"]["benefit"]


async def redeem(api, member_id, benefit_id, key):
    data = await api.data(REDEEM, {"input": {"memberId": gid("Member", member_id),
                                             "benefitId": benefit_id, "idempotencyKey": key}})
    return data["redeemBenefit"]


async def test_an_award_retried_with_its_key_counts_once(api, database):
    member = await make_member(database)
    first = await award(api, member.id, 300, "welcome-1", kind="EARN")
    assert first["entry"]["kind"] == "EARN" and first["entry"]["expiresAt"] is not None
    again = await award(api, member.id, 300, "welcome-1", kind="EARN")
    assert again["entry"]["id"] == first["entry"]["id"]
    assert again["member"] == {"points": {"balance": 300}}
    data = await api.data(POINTS, {"id": gid("Member", member.id)})
    assert data["node"]["points"]["entries"]["totalCount"] == 1


async def test_reusing_a_key_with_another_amount_is_refused(api, database):
    member = await make_member(database)
    await award(api, member.id, 300, "welcome-1")
    refused = await award(api, member.id, 301, "welcome-1")
    assert refused["userErrors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert refused["userErrors"][0]["field"] == "idempotencyKey"


async def test_award_errors_each_have_a_code(api, database):
    member = await make_member(database)
    overdraw = await award(api, member.id, -5, "fix-1")
    assert overdraw["userErrors"] == [{"field": "amount", "code": "INSUFFICIENT_POINTS",
                                       "message": f"member {member.id} has 0 points, needs 5"}]
    assert (await award(api, member.id, -5, "e-1", kind="EARN"))["userErrors"][0]["code"] \
        == "NEGATIVE_POINTS"
    assert (await award(api, member.id, 0, "z"))["userErrors"][0]["code"] == "INVALID_VALUE"
    assert (await award(api, 999, 5, "n"))["userErrors"][0]["code"] == "NOT_FOUND"


async def test_ledger_pages_newest_first(api, database):
    member = await make_member(database)
    for n, amount in enumerate((10, 20, -5)):
        await award(api, member.id, amount, f"k{n}")
    page = (await api.data(POINTS, {"id": gid("Member", member.id)}))["node"]["points"]
    assert page["balance"] == 25
    assert page["entries"]["nodes"] == [{"kind": "ADJUST", "amount": -5},
                                        {"kind": "ADJUST", "amount": 20}]
    rest = await api.data("""query($id: ID!, $after: String) { node(id: $id) { ... on Member {
        points { entries(first: 2, after: $after) { nodes { amount } } } } } }""",
                          {"id": gid("Member", member.id),
                           "after": page["entries"]["pageInfo"]["endCursor"]})
    assert rest["node"]["points"]["entries"]["nodes"] == [{"amount": 10}]


async def test_redemption_spends_points_and_stock_and_a_retry_returns_it(api, database):
    member = await make_member(database)
    await award(api, member.id, 250, "start")
    seat = await benefit(api, name="Meetup seat", stock=2)
    done = await redeem(api, member.id, seat["id"], "order-1")
    assert done["redemption"]["benefit"] == {"name": "Meetup seat", "stock": 1}
    assert done["redemption"]["entry"] == {"kind": "SPEND", "amount": -100}
    assert done["member"] == {"points": {"balance": 150}}
    retry = await redeem(api, member.id, seat["id"], "order-1")
    assert retry["redemption"]["id"] == done["redemption"]["id"]
    assert retry["member"] == {"points": {"balance": 150}}
    assert (await redeem(api, member.id, seat["id"], "order-2"))["userErrors"] == []
    out = await redeem(api, member.id, seat["id"], "order-3")
    assert out["userErrors"][0]["code"] == "OUT_OF_STOCK" and out["redemption"] is None


async def test_redemption_refusals(api, database):
    member = await make_member(database)
    await award(api, member.id, 50, "start")
    coupon = await benefit(api)
    poor = await redeem(api, member.id, coupon["id"], "o1")
    assert poor["userErrors"][0]["code"] == "INSUFFICIENT_POINTS"
    assert poor["userErrors"][0]["field"] is None  # the cost is no input (was "amount")
    await api.data(UPDATE_BENEFIT, {"input": {"id": coupon["id"], "name": "Coupon",
                                              "costPoints": 10, "active": False}})
    off = await redeem(api, member.id, coupon["id"], "o2")
    assert off["userErrors"][0]["code"] == "BENEFIT_INACTIVE"
    assert (await award(api, member.id, 50, "o2"))["userErrors"] == []
    reused = await redeem(api, member.id, coupon["id"], "o2")  # key of an award
    assert reused["userErrors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"


async def test_benefits_are_validated_updated_and_listed(api):
    bad = await api.data(CREATE_BENEFIT, {"input": {"name": "x", "costPoints": 0}})
    assert bad["createBenefit"]["userErrors"] == [{"field": "costPoints",
                                                   "code": "INVALID_VALUE"}]
    created = await benefit(api, name="VIP lounge")
    assert created["stock"] is None and created["active"] is True  # unlimited by default
    updated = await api.data(UPDATE_BENEFIT, {"input": {"id": created["id"], "name": "Lounge",
                                                        "costPoints": 80, "stock": 5}})
    assert updated["updateBenefit"]["benefit"] == {"name": "Lounge", "stock": 5,
                                                   "active": True}
    missing = await api.data(UPDATE_BENEFIT, {"input": {"id": gid("Benefit", 99), "name": "x",
                                                        "costPoints": 1}})
    assert missing["updateBenefit"]["userErrors"][0]["code"] == "NOT_FOUND"
    listed = await api.data("{ benefits(first: 5) { totalCount nodes { name } } }",
                            role=Role.INVESTOR)
    assert listed["benefits"] == {"totalCount": 1, "nodes": [{"name": "Lounge"}]}


async def test_an_entry_is_reversed_once_and_reversals_are_final(api, database):
    member = await make_member(database)
    bonus = (await award(api, member.id, 70, "bonus"))["entry"]
    variables = {"input": {"entryId": bonus["id"], "reason": "sent by mistake"}}
    done = (await api.data(REVERSE, variables))["reversePointsEntry"]
    assert done["entry"] == {"kind": "REVERSE", "amount": -70, "reversesEntryId": bonus["id"]}
    assert done["member"] == {"points": {"balance": 0}}
    twice = (await api.data(REVERSE, variables))["reversePointsEntry"]
    assert twice["userErrors"] == [{"field": "entryId", "code": "ALREADY_REVERSED"}]
    page = await api.data("""query($id: ID!) { node(id: $id) { ... on Member { points {
        entries(first: 1) { edges { node { id } } } } } } }""", {"id": gid("Member", member.id)})
    node_id = page["node"]["points"]["entries"]["edges"][0]["node"]["id"]
    final = await api.data(REVERSE, {"input": {"entryId": node_id, "reason": "undo"}})
    assert final["reversePointsEntry"]["userErrors"][0]["code"] == "NOT_REVERSIBLE"


async def test_earn_rules_are_validated_with_specific_codes(api, database):
    gold = await make_tier(database, key="gold", rank=1)

    async def codes(rules, multipliers=()):
        data = await api.data(SET_RULES, {"input": {"rules": rules,
                                                    "tierMultipliers": list(multipliers)}})
        return [(e["field"], e["code"]) for e in data["setEarnRules"]["userErrors"]]

    assert await codes([{"eventType": "teleport", "points": 1}]) == [
        ("rules.0.eventType", "UNKNOWN_EVENT_TYPE")]
    assert await codes([{"eventType": "like", "points": -1}]) == [
        ("rules.0.points", "NEGATIVE_POINTS")]
    assert await codes([], [{"tierId": gid("Tier", gold.id), "multiplier": 0}]) == [
        ("tierMultipliers.0.multiplier", "INVALID_MULTIPLIER")]
    for huge in (1e308, -1e308, 100.5):  # 1e308 used to overflow as an unexpected error
        assert await codes([], [{"tierId": gid("Tier", gold.id), "multiplier": huge}]) == [
            ("tierMultipliers.0.multiplier", "INVALID_MULTIPLIER")]
    assert await codes([{"eventType": "like", "points": 1}] * 2) == [
        ("rules.1.eventType", "DUPLICATE_RULE")]
    assert await codes([], [{"tierId": gid("Tier", 404), "multiplier": 2}]) == [
        ("tierMultipliers.0.tierId", "NOT_FOUND")]
    ok = await api.data(SET_RULES, {"input": {
        "rules": [{"eventType": "check_in", "points": 5, "dailyCap": 1}],
        "tierMultipliers": [{"tierId": gid("Tier", gold.id), "multiplier": 1.5}]}})
    assert ok["setEarnRules"]["userErrors"] == []
    read = await api.data("{ earnRules { rules { eventType points dailyCap expiryDays } "
                          "tierMultipliers { multiplier tier { key } } } }", role=Role.ANALYST)
    assert read["earnRules"] == {
        "rules": [{"eventType": "CHECK_IN", "points": 5, "dailyCap": 1, "expiryDays": 365}],
        "tierMultipliers": [{"multiplier": 1.5, "tier": {"key": "gold"}}]}


async def test_accrual_and_expiry_run_as_mutations_and_repeat_safely(api, database):
    member = await make_member(database)
    await api.data(SET_RULES, {"input": {"rules": [
        {"eventType": "post", "points": 20, "expiryDays": 30}]}})
    async with database.unit_of_work() as uow:
        await events.record_events(uow=uow, now=utcnow(), raws=[
            events.EventInput(external_id=f"p{n}", type="post", member_id=member.id,
                              occurred_at=T0 + timedelta(hours=n)) for n in range(3)])
    as_of = (T0 + timedelta(days=1)).isoformat()
    first = (await api.data(ACCRUE, {"input": {"asOf": as_of}}))["accruePoints"]
    assert first == {"examined": 3, "written": 3, "points": 60, "members": 1, "userErrors": []}
    again = (await api.data(ACCRUE, {"input": {"asOf": as_of}}))["accruePoints"]
    assert again["written"] == 0 and again["points"] == 0
    late = (T0 + timedelta(days=40)).isoformat()
    expired = (await api.data(EXPIRE, {"input": {"asOf": late}}))["expirePoints"]
    assert expired == {"written": 3, "points": 60, "members": 1, "userErrors": []}
    assert (await api.data(EXPIRE, {"input": {"asOf": late}}))["expirePoints"]["written"] == 0
    bad = (await api.data(ACCRUE, {"input": {"asOf": as_of, "since": late}}))["accruePoints"]
    assert bad["userErrors"] == [{"field": "since", "code": "INVALID_VALUE"}]


async def test_analysts_read_points_but_cannot_write_and_investors_see_no_members(api,
                                                                                  database):
    member = await make_member(database)
    await award(api, member.id, 40, "start")
    seen = await api.data(POINTS, {"id": gid("Member", member.id)}, role=Role.ANALYST)
    assert seen["node"]["points"]["balance"] == 40
    for mutation, variables in (
            (AWARD, {"input": {"memberId": gid("Member", member.id), "amount": 5,
                               "reason": "x", "idempotencyKey": "a"}}),
            (ACCRUE, {}), (EXPIRE, {}),
            (CREATE_BENEFIT, {"input": {"name": "x", "costPoints": 1}})):
        body = await api.data(mutation, variables, role=Role.ANALYST)
        assert next(iter(body.values()))["userErrors"][0]["code"] == "FORBIDDEN"
    refused = await api("{ members(first: 5) { nodes { points { balance } } } }",
                        role=Role.INVESTOR)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert refused["data"] is None


async def test_a_page_of_member_balances_costs_one_statement(api, database):
    query = "{ members(first: 20) { nodes { points { balance } } } }"
    for n in range(2):
        member = await make_member(database)
        await award(api, member.id, 10 + n, f"k{n}")
    with database.statement_counter() as two:
        await api.data(query)
    for n in range(6):
        member = await make_member(database)
        await award(api, member.id, 5, f"more{n}")
    with database.statement_counter() as eight:
        data = await api.data(query)
    assert eight[0] == two[0]
    assert sorted(n["points"]["balance"] for n in data["members"]["nodes"]) == [5] * 6 + [10, 11]


async def test_reversing_an_award_already_spent_names_the_entry_not_an_amount(api, database):
    member = await make_member(database)
    bonus = (await award(api, member.id, 70, "bonus-spent"))["entry"]
    await award(api, member.id, -50, "spent-most")  # a negative ADJUST: 20 points left
    refused = (await api.data(REVERSE, {"input": {"entryId": bonus["id"],
                                                  "reason": "sent by mistake"}}
                              ))["reversePointsEntry"]
    # reversePointsEntry has no amount input: the error names the entry it was asked for.
    assert refused["userErrors"] == [{"field": "entryId", "code": "INSUFFICIENT_POINTS"}]
    assert refused["entry"] is None


async def test_points_cannot_be_expired_before_their_expiry_by_a_future_as_of(api, database):
    member = await make_member(database)
    await award(api, member.id, 80, "earned-now", kind="EARN", expiresInDays=30)
    future = (utcnow() + timedelta(days=60)).isoformat()
    refused = (await api.data(EXPIRE, {"input": {"asOf": future}}))["expirePoints"]
    # An expiry run "as of" a day to come would write off points the member still owns
    # (and expire entries cannot be reversed).
    assert refused == {"written": None, "points": None, "members": None,
                       "userErrors": [{"field": "asOf", "code": "INVALID_VALUE"}]}
    data = await api.data(POINTS, {"id": gid("Member", member.id)})
    assert data["node"]["points"]["balance"] == 80
