"""Tier models over GraphQL: create, preview, apply, list, with their error codes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from api.relay import to_global_id
from domain.access import Role
from domain.store.tables import member_days
from tests.factories import make_member, make_tier

RUN = "members changed heldByGrace protectedManual moves { fromTier { key } toTier { key } count }"
CREATE = """
mutation($input: CreateTierModelInput!) {
  createTierModel(input: $input) {
    tierModel { id kind version active graceDays
                tiers { tier { key } minimums { feature minimum } } }
    userErrors { field code message }
  }
}"""
APPLY = """
mutation($input: ApplyTierModelInput!) {
  applyTierModel(input: $input) {
    tierModel { version active }
    result { RUN }
    userErrors { field code message }
  }
}""".replace("RUN", RUN)
PREVIEW = """
query($input: ApplyTierModelInput!) {
  previewTierModel(input: $input) {
    preview { RUN tierCounts { tier { key } before after } }
    userErrors { field code message }
  }
}""".replace("RUN", RUN)
LIST = "{ tierModels(first: 10) { totalCount nodes { version active kind } } }"
TODAY = date.today()


@pytest.fixture
async def tiers(database):
    core = await make_tier(database, key="core", rank=1)
    basic = await make_tier(database, key="basic", rank=2)
    big = await make_member(database)
    await make_member(database)  # no activity
    async with database.unit_of_work() as uow:
        await uow.connection.execute(member_days.insert(), [
            dict(member_id=big.id, day=TODAY - timedelta(days=1), events=3, logins=1, posts=1,
                 comments=0, likes=0, shares=0, check_ins=0, purchases=1,
                 revenue_minor=20_000, referral_invites=0)])
        await uow.commit()
    return to_global_id("Tier", core.id), to_global_id("Tier", basic.id)


def spend_model(core, basic, *, minimum=10_000, kind="THRESHOLDS"):
    return {"kind": kind, "tiers": [
        {"tierId": core, "minimums": [{"feature": "spend_minor", "minimum": minimum}]},
        {"tierId": basic}]}


async def test_preview_shows_the_moves_and_writes_nothing(api, tiers):
    core, basic = tiers
    data = await api.data(PREVIEW, {"input": {"model": spend_model(core, basic)}},
                          role=Role.ANALYST)
    preview = data["previewTierModel"]["preview"]
    assert preview["changed"] == 2
    assert preview["moves"] == [
        {"fromTier": None, "toTier": {"key": "core"}, "count": 1},
        {"fromTier": None, "toTier": {"key": "basic"}, "count": 1}] or preview["moves"] == [
        {"fromTier": None, "toTier": {"key": "basic"}, "count": 1},
        {"fromTier": None, "toTier": {"key": "core"}, "count": 1}]
    assert (await api.data(LIST))["tierModels"]["totalCount"] == 0


async def test_applying_a_model_saves_a_version_and_retiers(api, tiers):
    core, basic = tiers
    data = await api.data(APPLY, {"input": {"model": spend_model(core, basic)}})
    payload = data["applyTierModel"]
    assert payload["userErrors"] == []
    assert payload["tierModel"] == {"version": 1, "active": True}
    assert payload["result"]["changed"] == 2
    again = await api.data(APPLY, {"input": {"modelId": to_global_id("TierModel", 1)}})
    assert again["applyTierModel"]["result"]["changed"] == 0
    listed = (await api.data(LIST))["tierModels"]["nodes"]
    assert listed == [{"version": 1, "active": True, "kind": "THRESHOLDS"}]


async def test_a_created_model_is_saved_inactive(api, tiers):
    core, basic = tiers
    data = await api.data(CREATE, {"input": {"model": spend_model(core, basic)}})
    model = data["createTierModel"]["tierModel"]
    assert (model["version"], model["active"], model["graceDays"]) == (1, False, 14)
    assert model["tiers"][0] == {"tier": {"key": "core"},
                                 "minimums": [{"feature": "spend_minor", "minimum": 10000.0}]}


async def test_bad_models_return_their_codes(api, tiers):
    core, basic = tiers
    cases = [
        ({"kind": "THRESHOLDS", "tiers": [
            {"tierId": core, "minimums": [{"feature": "karma", "minimum": 1}]},
            {"tierId": basic}]}, "UNKNOWN_FEATURE", "model.features.0"),
        ({"kind": "QUOTAS", "tiers": [{"tierId": core, "percent": 15},
                                      {"tierId": basic, "percent": 80}]},
         "QUOTAS_NOT_100", "model.tiers.percent"),
        ({"kind": "THRESHOLDS", "tiers": [
            {"tierId": core, "minimums": [{"feature": "posts", "minimum": 1}]},
            {"tierId": core}]}, "DUPLICATE_TIER", "model.tiers.1.tierId"),
        ({"kind": "THRESHOLDS", "tiers": [
            {"tierId": to_global_id("Tier", 999), "minimums": [{"feature": "posts",
                                                                 "minimum": 1}]},
            {"tierId": basic}]}, "UNKNOWN_TIER", "model.tiers.0.tierId"),
        ({"kind": "RFM", "tiers": [{"tierId": core, "minScore": 9}]}, "TOO_FEW_TIERS",
         "model.tiers"),
        ({"kind": "THRESHOLDS", "tiers": [{"tierId": core}, {"tierId": basic}]},
         "OVERLAPPING_THRESHOLDS", "model.tiers.minimums"),
        ({**spend_model(core, basic), "graceDays": -1}, "INVALID_VALUE", "model.graceDays"),
    ]
    for model, code, field in cases:  # fields named from the input (model.*)
        data = await api.data(CREATE, {"input": {"model": model}})
        assert [(e["code"], e["field"]) for e in data["createTierModel"]["userErrors"]] == [
            (code, field)], model
    assert (await api.data(LIST))["tierModels"]["totalCount"] == 0


async def test_non_monotone_thresholds_are_refused(api, database, tiers):
    core, basic = tiers
    entry = to_global_id("Tier", (await make_tier(database, key="entry", rank=5)).id)
    model = {"kind": "THRESHOLDS", "tiers": [
        {"tierId": core, "minimums": [{"feature": "active_days", "minimum": 2}]},
        {"tierId": basic, "minimums": [{"feature": "active_days", "minimum": 5}]},
        {"tierId": entry}]}
    data = await api.data(APPLY, {"input": {"model": model}})
    assert data["applyTierModel"]["userErrors"][0]["code"] == "NON_MONOTONE_THRESHOLDS"


async def test_applying_an_unknown_model_is_not_found(api, tiers):
    data = await api.data(APPLY, {"input": {"modelId": to_global_id("TierModel", 42)}})
    assert data["applyTierModel"]["userErrors"] == [
        {"field": "modelId", "code": "NOT_FOUND", "message": "tier model 42 does not exist"}]


async def test_investors_may_not_apply_or_preview(api, tiers):
    core, basic = tiers
    data = await api.data(APPLY, {"input": {"model": spend_model(core, basic)}},
                          role=Role.INVESTOR)
    assert data["applyTierModel"]["userErrors"][0]["code"] == "FORBIDDEN"
    data = await api.data(PREVIEW, {"input": {"model": spend_model(core, basic)}},
                          role=Role.INVESTOR)
    assert data["previewTierModel"]["userErrors"][0]["code"] == "FORBIDDEN"


async def test_the_feature_catalogue_is_listed(api):
    data = await api.data("{ memberFeatures { name description } }")
    names = [f["name"] for f in data["memberFeatures"]]
    assert "spend_minor" in names and "recency_days" in names
