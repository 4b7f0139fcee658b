"""Referrals over GraphQL: codes, joins, processing, review, rules, K-factor, error codes."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from domain.access import Role
from domain.referrals import CODE_ALPHABET, CODE_LENGTH, MAX_REVIEW_NOTE

_seq = itertools.count(1)

CREATE_MEMBER = """
mutation($input: CreateMemberInput!) { createMember(input: $input) { member { id } } }"""

CREATE_CODE = """
mutation($input: CreateReferralCodeInput!) {
  createReferralCode(input: $input) {
    referralCode { id code active expiresAt member { id } }
    userErrors { field code message }
  }
}"""

CODES = """
query($id: ID!) { referralCodes(memberId: $id) { code active revokedAt } }"""

INVITE = """
mutation($code: String!) {
  recordReferralInvitation(input: {code: $code}) {
    referral { status invitedAt joinedAt } userErrors { field code message }
  }
}"""

REDEEM = """
mutation($input: RedeemReferralCodeInput!) {
  redeemReferralCode(input: $input) {
    referral {
      id code status joinedAt windowEndsOn ruleVersion review
      fraudFlags { name explanation }
      inviter { id } invitee { id }
      rewards { beneficiary trigger points moneyMinor status member { id } }
    }
    userErrors { field code message }
  }
}"""

PROCESS = """
mutation($asOf: DateTime) {
  processReferrals(input: {asOf: $asOf}) {
    result { converted rewardsGranted } userErrors { field code message }
  }
}"""

REVIEW = """
mutation($input: ReviewReferralInput!) {
  reviewReferral(input: $input) {
    referral { review reviewNote rewards { status } } userErrors { field code message }
  }
}"""

SET_RULES = """
mutation($input: SetReferralRulesInput!) {
  setReferralRules(input: $input) {
    rules { version attributionWindowDays rewards { trigger beneficiary points moneyMinor } }
    userErrors { field code message }
  }
}"""

REFERRALS = """
query($filter: ReferralFilter) {
  referrals(first: 10, filter: $filter) {
    totalCount nodes { status review inviter { id } rewards { trigger status } }
  }
}"""

K_FACTOR = """
query($from: Date!, $to: Date!) {
  referralKFactor(from: $from, to: $to) {
    cohort inviters invitations joined converted invitationsPerInviter acceptanceRate
    kFactor convertedPerInviter
  }
}"""

RECORD = """
mutation($input: [RecordEventInput!]!) { recordEvents(input: $input) { accepted } }"""


async def _member(api, *, joined_at: datetime | None = None) -> str:
    n = next(_seq)
    member = {"displayName": f"Guest {n}", "channel": "REFERRAL", "email": f"g{n}@example.com",
              "phone": f"+86 137 {n:04d} 0000"}
    if joined_at is not None:
        member["joinedAt"] = joined_at.isoformat()
    data = await api.data(CREATE_MEMBER, {"input": member})
    return data["createMember"]["member"]["id"]


async def _code(api, member_id: str, **extra) -> dict:
    data = await api.data(CREATE_CODE, {"input": {"memberId": member_id, **extra}})
    return data["createReferralCode"]


async def _redeem(api, code: str, invitee: str, *, device: str | None = None,
                  ip: str | None = None) -> dict:
    data = await api.data(REDEEM, {"input": {"code": code, "inviteeMemberId": invitee,
                                             "fingerprint": {"deviceId": device, "ip": ip}}})
    return data["redeemReferralCode"]


async def test_codes_are_unambiguous_and_one_is_active_per_member(api):
    member = await _member(api)
    first = (await _code(api, member))["referralCode"]
    assert len(first["code"]) == CODE_LENGTH and set(first["code"]) <= set(CODE_ALPHABET)
    assert first["active"] and first["member"] == {"id": member}
    again = await _code(api, member)
    assert again["referralCode"] is None
    assert again["userErrors"][0]["code"] == "CODE_EXISTS"
    assert first["code"] in again["userErrors"][0]["message"]
    replaced = await _code(api, member, replaceExisting=True,
                           expiresAt="2099-01-01T00:00:00+08:00")
    assert replaced["referralCode"]["expiresAt"] == "2098-12-31T16:00:00+00:00"
    codes = (await api.data(CODES, {"id": member}))["referralCodes"]
    assert [(c["code"], c["active"]) for c in codes] == [
        (replaced["referralCode"]["code"], True), (first["code"], False)]
    assert codes[1]["revokedAt"] is not None


async def test_code_creation_rejects_an_unknown_member_and_a_past_expiry(api):
    missing = await _code(api, "TWVtYmVyOjk5OQ")  # Member:999
    assert missing["userErrors"][0]["code"] == "NOT_FOUND"
    member = await _member(api)
    past = await _code(api, member, expiresAt="2020-01-01T00:00:00Z")
    assert past["userErrors"] == [{"field": "expiresAt", "code": "INVALID_VALUE",
                                   "message": "expiresAt 2020-01-01T00:00:00+00:00 is not in "
                                              "the future"}]


async def test_an_invitee_joins_with_a_code_and_earns_the_join_reward(api):
    inviter = await _member(api)
    code = (await _code(api, inviter))["referralCode"]["code"]
    invited = (await api.data(INVITE, {"code": code}))["recordReferralInvitation"]
    assert invited["referral"]["status"] == "INVITED"
    invitee = await _member(api)
    spaced = f"{code[:4].lower()}-{code[4:]}"  # typed by hand: case and dashes do not matter
    result = await _redeem(api, spaced, invitee, device="phone-b", ip="203.0.113.9")
    referral = result["referral"]
    assert result["userErrors"] == []
    assert referral["status"] == "JOINED" and referral["code"] == code
    assert referral["fraudFlags"] == [] and referral["review"] == "NONE"
    assert referral["inviter"] == {"id": inviter} and referral["invitee"] == {"id": invitee}
    assert referral["ruleVersion"] == 0
    assert referral["rewards"] == [{"beneficiary": "INVITEE", "trigger": "JOIN", "points": 50,
                                    "moneyMinor": 0, "status": "PAID",
                                    "member": {"id": invitee}}]
    listed = await api.data(REFERRALS, {"filter": {"inviterId": inviter}})
    assert listed["referrals"]["totalCount"] == 1  # the invitation became the join
    assert listed["referrals"]["nodes"][0]["status"] == "JOINED"


async def test_redeeming_reports_each_bad_code_or_invitee(api):
    inviter = await _member(api)
    old = (await _code(api, inviter))["referralCode"]["code"]
    code = (await _code(api, inviter, replaceExisting=True))["referralCode"]["code"]
    invitee = await _member(api)

    async def error(code_text, member, **kwargs):
        errors = (await _redeem(api, code_text, member, **kwargs))["userErrors"]
        return errors[0]["code"], errors[0]["field"]

    assert await error("NOPE2345", invitee) == ("UNKNOWN_CODE", "code")
    assert await error(old, invitee) == ("CODE_EXPIRED", "code")
    assert await error(code, inviter) == ("OWN_CODE", "code")
    assert await error(code, invitee, ip="999.1.1.1") == ("INVALID_VALUE", "fingerprint.ip")
    long_ago = await _member(api, joined_at=datetime.now(UTC) - timedelta(days=3))
    assert await error(code, long_ago) == ("INVITEE_TOO_OLD", "inviteeMemberId")
    assert (await _redeem(api, code, invitee))["userErrors"] == []
    other = (await _code(api, await _member(api)))["referralCode"]["code"]
    assert await error(other, invitee) == ("ALREADY_REFERRED", "inviteeMemberId")
    assert await error(code, "TWVtYmVyOjk5OQ") == ("NOT_FOUND", "inviteeMemberId")


async def test_processing_converts_on_the_first_purchase_and_rewards_once(api):
    inviter = await _member(api)
    code = (await _code(api, inviter))["referralCode"]["code"]
    invitee = await _member(api)
    await _redeem(api, code, invitee)
    now = datetime.now(UTC)
    await api.data(RECORD, {"input": [{
        "externalId": "first-buy", "type": "PURCHASE", "amountMinor": 4900,
        "occurredAt": now.isoformat(), "memberId": invitee}]})
    first = (await api.data(PROCESS, {"asOf": now.isoformat()}))["processReferrals"]
    assert first == {"result": {"converted": 1, "rewardsGranted": 1}, "userErrors": []}
    again = (await api.data(PROCESS))["processReferrals"]
    assert again["result"] == {"converted": 0, "rewardsGranted": 0}
    listed = await api.data(REFERRALS, {"filter": {"statuses": ["CONVERTED"]}})
    assert listed["referrals"]["nodes"][0]["rewards"] == [
        {"trigger": "JOIN", "status": "PAID"},
        {"trigger": "FIRST_PURCHASE", "status": "PAID"}]
    naive = await api("mutation { processReferrals(input: {asOf: \"2026-01-01T00:00:00\"}) "
                      "{ result { converted } userErrors { field code } } }")
    assert naive["data"]["processReferrals"]["userErrors"] == [
        {"field": "asOf", "code": "INVALID_VALUE"}]


async def test_a_flagged_join_is_held_until_a_reviewer_decides_once(api):
    inviter = await _member(api)
    code = (await _code(api, inviter, fingerprint={"deviceId": "shared-phone"}))
    code = code["referralCode"]["code"]
    invitee = await _member(api)
    referral = (await _redeem(api, code, invitee, device="shared-phone"))["referral"]
    assert [f["name"] for f in referral["fraudFlags"]] == ["SHARED_FINGERPRINT"]
    assert "same device" in referral["fraudFlags"][0]["explanation"]
    assert referral["review"] == "PENDING"
    assert referral["rewards"][0]["status"] == "HELD"
    pending = await api.data(REFERRALS, {"filter": {"reviews": ["PENDING"]}})
    assert pending["referrals"]["totalCount"] == 1

    async def review(referral_id, decision, note="knows them in person"):
        data = await api.data(REVIEW, {"input": {"id": referral_id, "decision": decision,
                                                 "note": note}})
        return data["reviewReferral"]

    too_long = await review(referral["id"], "APPROVE", note="x" * (MAX_REVIEW_NOTE + 1))
    assert [(e["field"], e["code"]) for e in too_long["userErrors"]] == [
        ("note", "INVALID_VALUE")]
    assert too_long["referral"] is None  # not reviewed: the real review below still can
    approved = await review(referral["id"], "APPROVE")
    assert approved["referral"] == {"review": "APPROVED", "reviewNote": "knows them in person",
                                    "rewards": [{"status": "PAID"}]}
    assert (await review(referral["id"], "REJECT"))["userErrors"][0]["code"] == \
        "ALREADY_REVIEWED"
    clean = (await _redeem(api, code, await _member(api)))["referral"]
    assert (await review(clean["id"], "REJECT"))["userErrors"][0]["code"] == "NOT_FLAGGED"
    assert (await review("UmVmZXJyYWw6OTk5", "REJECT"))["userErrors"][0]["code"] == \
        "NOT_FOUND"  # Referral:999


async def test_reward_rules_are_versioned_and_checked(api):
    rules = {"rewards": [{"trigger": "FIRST_PURCHASE", "beneficiary": "BOTH",
                          "moneyMinor": 1000}], "attributionWindowDays": 14}
    data = (await api.data(SET_RULES, {"input": rules}))["setReferralRules"]
    assert data["rules"] == {"version": 1, "attributionWindowDays": 14, "rewards": [
        {"trigger": "FIRST_PURCHASE", "beneficiary": "REFERRER", "points": 0,
         "moneyMinor": 1000},
        {"trigger": "FIRST_PURCHASE", "beneficiary": "INVITEE", "points": 0,
         "moneyMinor": 1000}]}
    active = await api.data("{ referralRules { version } }", role=Role.INVESTOR)
    assert active["referralRules"] == {"version": 1}
    twice = {"rewards": [{"trigger": "JOIN", "beneficiary": "INVITEE", "points": 5},
                         {"trigger": "JOIN", "beneficiary": "BOTH", "points": 5}]}
    errors = (await api.data(SET_RULES, {"input": twice}))["setReferralRules"]["userErrors"]
    assert errors == [{"field": "rewards.1", "code": "INVALID_VALUE",
                       "message": "invitee is rewarded twice on join"}]
    errors = (await api.data(SET_RULES, {"input": {**rules, "attributionWindowDays": 0}})
              )["setReferralRules"]["userErrors"]
    assert errors[0]["field"] == "attributionWindowDays"
    forbidden = await api.data(SET_RULES, {"input": rules}, role=Role.ANALYST)
    assert forbidden["setReferralRules"]["userErrors"][0]["code"] == "FORBIDDEN"


async def test_investors_see_the_k_factor_but_no_referral_rows(api):
    inviter = await _member(api)
    code = (await _code(api, inviter))["referralCode"]["code"]
    for _ in range(3):
        await api.data(INVITE, {"code": code})
    await _redeem(api, code, await _member(api))
    today = datetime.now(UTC).date()
    window = {"from": (today - timedelta(days=1)).isoformat(),
              "to": (today + timedelta(days=1)).isoformat()}
    rows = (await api.data(K_FACTOR, window, role=Role.INVESTOR))["referralKFactor"]
    assert rows == [{"cohort": today.strftime("%Y-%m"), "inviters": 1, "invitations": 3,
                     "joined": 1, "converted": 0, "invitationsPerInviter": 3.0,
                     "acceptanceRate": 1 / 3, "kFactor": 1.0, "convertedPerInviter": 0.0}]
    body = await api(REFERRALS, role=Role.INVESTOR)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad = await api(K_FACTOR, {"from": window["to"], "to": window["from"]})
    assert bad["errors"][0]["extensions"]["field"] == "to"
