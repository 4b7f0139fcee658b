"""node(id) reaches every Node type, with each type's read permission."""

from __future__ import annotations

from api.relay import to_global_id
from domain import referral_program
from domain.access import Role
from domain.clock import utcnow
from domain.points import benefits, ledger
from domain.points.rules import EntryKind
from tests.factories import make_member

NODE = """
query Node($id: ID!) { node(id: $id) { id
  ... on Benefit { name costPoints }
  ... on PointsEntry { amount }
  ... on ReferralCode { code active }
} }"""


async def test_benefits_points_entries_and_referral_codes_are_nodes(api, database):
    member = await make_member(database)
    async with database.unit_of_work() as uow:
        benefit = await benefits.create_benefit(
            uow=uow, spec=benefits.BenefitSpec(name="Priority seat", cost_points=300, stock=5),
            actor="test", now=utcnow())
    async with database.unit_of_work() as uow:
        entry = await ledger.award_points(uow=uow, member_id=member.id, amount=120,
                                          kind=EntryKind.ADJUST, reason="welcome",
                                          idempotency_key="welcome-1", actor="test",
                                          now=utcnow())
    async with database.unit_of_work() as uow:
        code = await referral_program.create_code(uow=uow, member_id=member.id, now=utcnow(),
                                                  actor="test")

    async def node(type_name, pk, role=Role.ADMIN):
        return await api(NODE, {"id": to_global_id(type_name, pk)}, role=role)

    assert (await node("Benefit", benefit.id))["data"]["node"]["costPoints"] == 300
    assert (await node("PointsEntry", entry.id))["data"]["node"]["amount"] == 120
    found = (await node("ReferralCode", code.id))["data"]["node"]
    assert (found["code"], found["active"]) == (code.code, True)
    assert (await node("Benefit", benefit.id + 1000))["data"]["node"] is None
    # Investors read the catalogue of benefits, never a member's ledger or code.
    assert (await node("Benefit", benefit.id, Role.INVESTOR))["data"]["node"]["name"] \
        == "Priority seat"
    for type_name, pk in (("PointsEntry", entry.id), ("ReferralCode", code.id)):
        body = await node(type_name, pk, Role.INVESTOR)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
