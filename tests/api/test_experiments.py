"""Campaign experiments over GraphQL: configure, start, grant, results; error codes and
roles."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.relay import from_global_id, to_global_id
from domain import campaigns, events
from domain import experiments as rules
from domain.access import Role
from domain.campaigns import CampaignKind, CampaignSpec
from domain.clock import utcnow
from tests.factories import make_member, make_tier, place_in_tier

CONFIGURE = """
mutation($input: ConfigureExperimentInput!) {
  configureExperiment(input: $input) {
    campaign { name }
    experiment { controlShare conversionEvent perMemberLimit startedAt
                 variants { key name weight reward message } }
    userErrors { field code message }
  }
}"""

START = """
mutation($input: StartExperimentInput!) {
  startExperiment(input: $input) {
    experiment { seed startedAt }
    armSizes { arm n }
    userErrors { field code message }
  }
}"""

GRANT = """
mutation($input: GrantCampaignRewardsInput!) {
  grantCampaignRewards(input: $input) {
    summary { granted grantedCost stoppedBy totalGranted totalCost remainingBudget }
    userErrors { field code message }
  }
}"""

STATUS = """
mutation($input: ChangeCampaignStatusInput!) {
  changeCampaignStatus(input: $input) { userErrors { code } }
}"""

RESULTS = """
query($id: ID!) {
  node(id: $id) {
    ... on Campaign {
      experiment { seed results { arm n responders conversionRate uplift ciLow ciHigh pValue
                                  revenue cost roi } }
    }
  }
}"""

WINDOW_START = datetime(2026, 3, 1, tzinfo=UTC)
WINDOW_END = datetime(2026, 3, 8, tzinfo=UTC)
VARIANTS = [{"key": "coupon-10", "name": "10 yuan off", "weight": 1, "reward": 1000,
             "message": "Welcome back"}]


async def _campaign(db, *, tier_ids=(), channels=(), budget=2500, scheduled=True):
    spec = CampaignSpec(name="Spring coupon", kind=CampaignKind.COUPON,
                        target_tier_ids=tuple(tier_ids), target_channels=tuple(channels),
                        starts_at=WINDOW_START if scheduled else None,
                        ends_at=WINDOW_END if scheduled else None, budget_minor=budget)
    async with db.unit_of_work() as uow:
        if not tier_ids and not channels:
            # A row from before targets were required: validate_spec would refuse it now.
            campaign_id = await uow.campaigns.add(spec, status=campaigns.CampaignStatus.DRAFT,
                                                  now=utcnow())
            await uow.commit()
            return to_global_id("Campaign", campaign_id)
        found = await campaigns.create_campaign(uow=uow, spec=spec, actor="test", now=utcnow())
    return to_global_id("Campaign", found.id)


async def _segment(db, size=4):
    core = await make_tier(db, key="core", rank=1)
    members = [await make_member(db) for _ in range(size)]
    for m in members:
        await place_in_tier(db, m.id, core.id)
    return core, members


def _configure(campaign_id, **overrides):
    return {"input": {"campaignId": campaign_id, "variants": VARIANTS, "controlShare": 0.5,
                      **overrides}}


async def _status(api, campaign_id, *statuses):
    for status in statuses:
        data = await api.data(STATUS, {"input": {"id": campaign_id, "status": status}})
        assert data["changeCampaignStatus"]["userErrors"] == []


async def _configured(api, database, **overrides):
    core, members = await _segment(database)
    campaign_id = await _campaign(database, tier_ids=[core.id])
    data = await api.data(CONFIGURE, _configure(campaign_id, **overrides))
    assert data["configureExperiment"]["userErrors"] == []
    return campaign_id, members


# --- configureExperiment ---

async def test_configuring_an_experiment_defaults_the_conversion_to_the_campaign_kind(api,
                                                                                       database):
    core, _ = await _segment(database)
    campaign_id = await _campaign(database, tier_ids=[core.id])
    data = (await api.data(CONFIGURE, _configure(campaign_id)))["configureExperiment"]
    assert data["userErrors"] == []
    assert data["experiment"] == {
        "controlShare": 0.5, "conversionEvent": "PURCHASE", "perMemberLimit": 1,
        "startedAt": None, "variants": VARIANTS}


@pytest.mark.parametrize(("overrides", "field", "code"), [
    ({"variants": []}, "variants", "NO_VARIANTS"),
    ({"variants": [{**VARIANTS[0], "weight": 0}]}, "variants.0.weight", "INVALID_WEIGHT"),
    ({"controlShare": 0.6}, "controlShare", "INVALID_CONTROL_SHARE"),
    ({"controlShare": -0.1}, "controlShare", "INVALID_CONTROL_SHARE"),
    ({"variants": [VARIANTS[0], VARIANTS[0]]}, "variants.1.key", "DUPLICATE_VARIANT"),
    ({"variants": [{**VARIANTS[0], "key": "Control"}]}, "variants.0.key", "DUPLICATE_VARIANT"),
    ({"perMemberLimit": 0}, "perMemberLimit", "INVALID_VALUE"),
    ({"variants": [{**VARIANTS[0], "reward": -1}]}, "variants.0.reward", "INVALID_VALUE"),
])
async def test_invalid_designs_are_refused_with_their_code(api, database, overrides, field,
                                                           code):
    core, _ = await _segment(database, size=1)
    campaign_id = await _campaign(database, tier_ids=[core.id])
    data = (await api.data(CONFIGURE, _configure(campaign_id, **overrides)))
    errors = data["configureExperiment"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [(field, code)]
    assert data["configureExperiment"]["experiment"] is None


async def test_configuring_unknown_or_closed_campaigns_is_refused(api, database):
    core, _ = await _segment(database, size=1)
    unknown = await api.data(CONFIGURE, _configure(to_global_id("Campaign", 999)))
    assert unknown["configureExperiment"]["userErrors"][0]["code"] == "NOT_FOUND"
    garbage = await api.data(CONFIGURE, _configure("garbage!"))
    assert garbage["configureExperiment"]["userErrors"][0]["code"] == "INVALID_ID"
    campaign_id = await _campaign(database, tier_ids=[core.id])
    await _status(api, campaign_id, "CANCELLED")
    closed = await api.data(CONFIGURE, _configure(campaign_id))
    assert closed["configureExperiment"]["userErrors"][0]["code"] == "CAMPAIGN_CLOSED"


async def test_variants_are_frozen_once_the_experiment_started(api, database):
    campaign_id, _ = await _configured(api, database)
    await api.data(START, {"input": {"campaignId": campaign_id, "seed": 1}})
    data = await api.data(CONFIGURE, _configure(campaign_id, controlShare=0.1))
    assert data["configureExperiment"]["userErrors"][0]["code"] == "EXPERIMENT_STARTED"


@pytest.mark.parametrize("role", [Role.ANALYST, Role.INVESTOR])
async def test_only_operators_and_admins_configure_start_and_grant(api, database, role):
    campaign_id, _ = await _configured(api, database)
    for query, variables in ((CONFIGURE, _configure(campaign_id)),
                             (START, {"input": {"campaignId": campaign_id}}),
                             (GRANT, {"input": {"campaignId": campaign_id}})):
        data = await api.data(query, variables, role=role)
        (payload,) = data.values()
        assert [e["code"] for e in payload["userErrors"]] == ["FORBIDDEN"]
    assert (await api.data(START, {"input": {"campaignId": campaign_id}},
                           role=Role.OPERATOR))["startExperiment"]["userErrors"] == []


# --- startExperiment ---

async def test_starting_assigns_the_segment_as_the_seed_dictates(api, database):
    campaign_id, members = await _configured(api, database)
    data = (await api.data(START, {"input": {"campaignId": campaign_id, "seed": 7}}))
    started = data["startExperiment"]
    assert started["userErrors"] == [] and started["experiment"]["seed"] == 7
    _, pk = from_global_id(campaign_id, expected=("Campaign",))
    spec = rules.ExperimentSpec(variants=(rules.VariantSpec("coupon-10", "", 1, 1000),),
                                control_share=0.5, conversion_event=None)
    expected = [a for _, a in rules.assign_arms([m.id for m in members], seed=7,
                                                campaign_id=pk, spec=spec)]
    assert {s["arm"]: s["n"] for s in started["armSizes"]} == {
        arm: expected.count(arm) for arm in set(expected)}


async def test_a_campaign_without_targets_cannot_start_an_experiment(api, database):
    campaign_id = await _campaign(database)
    await api.data(CONFIGURE, _configure(campaign_id))
    data = await api.data(START, {"input": {"campaignId": campaign_id}})
    assert data["startExperiment"]["userErrors"] == [{
        "field": "campaignId", "code": "NO_TARGETS",
        "message": f"campaign {from_global_id(campaign_id)[1]} targets no tier and no channel"}]


async def test_a_segment_with_no_active_member_is_no_targets(api, database):
    empty = await make_tier(database, key="empty", rank=5)
    campaign_id = await _campaign(database, tier_ids=[empty.id])
    await api.data(CONFIGURE, _configure(campaign_id))
    data = await api.data(START, {"input": {"campaignId": campaign_id}})
    assert data["startExperiment"]["userErrors"][0]["code"] == "NO_TARGETS"


async def test_start_refusals_have_their_codes(api, database):
    core, _ = await _segment(database, size=1)
    unscheduled = await _campaign(database, tier_ids=[core.id], scheduled=False)
    await api.data(CONFIGURE, _configure(unscheduled))
    bare = await _campaign(database, tier_ids=[core.id])
    for campaign_id, code in ((unscheduled, "NO_SCHEDULE"), (bare, "EXPERIMENT_NOT_CONFIGURED")):
        data = await api.data(START, {"input": {"campaignId": campaign_id, "seed": 1}})
        assert data["startExperiment"]["userErrors"][0]["code"] == code
    await api.data(CONFIGURE, _configure(bare))
    data = await api.data(START, {"input": {"campaignId": bare, "seed": -5}})
    assert [(e["field"], e["code"]) for e in data["startExperiment"]["userErrors"]] == [
        ("seed", "INVALID_VALUE")]
    await api.data(START, {"input": {"campaignId": bare, "seed": 5}})
    again = await api.data(START, {"input": {"campaignId": bare, "seed": 5}})
    assert again["startExperiment"]["userErrors"][0]["code"] == "EXPERIMENT_STARTED"


# --- grantCampaignRewards and results ---

async def _purchase(db, member_id, day, amount):
    async with db.unit_of_work() as uow:
        await events.record_events(uow=uow, now=datetime(2026, 4, 1, tzinfo=UTC), raws=[
            events.EventInput(external_id=f"p-{member_id}-{day}", type="purchase",
                              occurred_at=datetime(2026, 3, day, 12, tzinfo=UTC),
                              member_id=member_id, amount_minor=amount)])


async def test_granting_stops_at_the_budget_and_investors_read_the_results(api, database):
    # No control: all four members get the variant. Each buys once; rewards cost 1000,
    # the budget is 2500: two rewards (2000) fit, the third is BUDGET_EXHAUSTED.
    campaign_id, members = await _configured(api, database, controlShare=0.0)
    await api.data(START, {"input": {"campaignId": campaign_id, "seed": 3}})
    for day, m in enumerate(members, start=2):
        await _purchase(database, m.id, day, 4000)
    await _status(api, campaign_id, "SCHEDULED", "RUNNING")

    data = await api.data(GRANT, {"input": {"campaignId": campaign_id,
                                            "asOf": "2026-04-01T00:00:00Z"}})
    assert data["grantCampaignRewards"] == {"userErrors": [], "summary": {
        "granted": 2, "grantedCost": 2000, "stoppedBy": "BUDGET_EXHAUSTED",
        "totalGranted": 2, "totalCost": 2000, "remainingBudget": 500}}

    found = (await api.data(RESULTS, {"id": campaign_id}, role=Role.INVESTOR))
    # Four of four responded, revenue 16000; no control, so the whole revenue counts:
    # ROI = (16000 - 2000) / 2000 = 7.
    assert found["node"]["experiment"]["results"] == [{
        "arm": "coupon-10", "n": 4, "responders": 4, "conversionRate": 1.0, "uplift": None,
        "ciLow": None, "ciHigh": None, "pValue": None, "revenue": 16000, "cost": 2000,
        "roi": 7.0}]


async def test_grant_refusals_have_their_codes(api, database):
    core, _ = await _segment(database, size=1)
    bare = await _campaign(database, tier_ids=[core.id])
    data = await api.data(GRANT, {"input": {"campaignId": bare}})
    assert data["grantCampaignRewards"]["userErrors"][0]["code"] == "EXPERIMENT_NOT_CONFIGURED"
    await api.data(CONFIGURE, _configure(bare))
    data = await api.data(GRANT, {"input": {"campaignId": bare}})
    assert data["grantCampaignRewards"]["userErrors"][0]["code"] == "EXPERIMENT_NOT_STARTED"
    await api.data(START, {"input": {"campaignId": bare}})
    data = await api.data(GRANT, {"input": {"campaignId": bare}})  # still a draft
    assert data["grantCampaignRewards"]["userErrors"][0]["code"] == "CAMPAIGN_NOT_RUNNING"


async def test_results_expose_no_member_level_field(api):
    query = """{ __type(name: "%s") { fields { name type { name ofType { name
                 ofType { name ofType { name } } } } } } }"""
    for type_name in ("Experiment", "ArmResult", "Variant"):
        body = await api.data(query % type_name, role=Role.INVESTOR)
        # No field is (a list of) Member, MemberConnection, ... : type names start with Member.
        assert "'Member" not in str(body), type_name


CAMPAIGN_RESULTS = """
{ campaigns(first: 10) { edges { node { experiment { variants { key }
  results { arm n responders pValue } } } } } }"""


async def test_results_of_a_page_of_campaigns_take_a_fixed_number_of_statements(api,
                                                                                 database):
    async def started_campaign(tier_id):
        campaign_id = await _campaign(database, tier_ids=[tier_id])
        await api.data(CONFIGURE, _configure(campaign_id))
        await api.data(START, {"input": {"campaignId": campaign_id, "seed": 1}})

    core, _ = await _segment(database)
    await started_campaign(core.id)
    await api.data(CAMPAIGN_RESULTS, role=Role.INVESTOR)  # the token lookup is cached after
    with database.statement_counter() as one:
        await api.data(CAMPAIGN_RESULTS, role=Role.INVESTOR)
    for _ in range(3):
        await started_campaign(core.id)
    with database.statement_counter() as four:
        data = await api.data(CAMPAIGN_RESULTS, role=Role.INVESTOR)
    assert len(data["campaigns"]["edges"]) == 4
    assert all(sum(r["n"] for r in e["node"]["experiment"]["results"]) == 4
               for e in data["campaigns"]["edges"])
    assert four[0] == one[0]


def _readme_examples() -> list[str]:
    text = (Path(__file__).parents[2] / "README.md").read_text()
    section = text.split("## Campaign experiments", 1)[1].split("\n## ", 1)[0]
    return [block.split("```", 1)[0] for block in section.split("```graphql\n")[1:]]


async def test_the_readme_example_works(api, database):
    core, _ = await _segment(database)
    campaign_id = await _campaign(database, tier_ids=[core.id])
    configure_and_start, results = _readme_examples()
    data = await api.data(configure_and_start, {"campaign": campaign_id})
    assert data["configureExperiment"]["userErrors"] == []
    assert data["startExperiment"]["userErrors"] == []
    assert sum(s["n"] for s in data["startExperiment"]["armSizes"]) == 4
    found = await api.data(results, {"campaign": campaign_id}, role=Role.INVESTOR)
    assert [r["arm"] for r in found["node"]["experiment"]["results"]] == [
        "coupon-10", "coupon-20", "control"]


ASSIGNMENTS = """
query($id: ID!, $after: String, $arm: String) {
  node(id: $id) {
    ... on Campaign {
      experiment { assignments(first: 3, after: $after, arm: $arm) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { arm member { id } } } } }
    }
  }
}"""


async def test_operators_page_through_assignments_and_investors_may_not(api, database):
    campaign_id, members = await _configured(api, database)
    await api.data(START, {"input": {"campaignId": campaign_id, "seed": 7}})

    first = (await api.data(ASSIGNMENTS, {"id": campaign_id}, role=Role.OPERATOR))
    page = first["node"]["experiment"]["assignments"]
    assert page["totalCount"] == 4 and page["pageInfo"]["hasNextPage"]
    rest = (await api.data(ASSIGNMENTS, {"id": campaign_id,
                                         "after": page["pageInfo"]["endCursor"]},
                           role=Role.OPERATOR))["node"]["experiment"]["assignments"]
    seen = [e["node"]["member"]["id"] for e in page["edges"] + rest["edges"]]
    assert seen == [to_global_id("Member", m.id) for m in members]  # by member id
    control = (await api.data(ASSIGNMENTS, {"id": campaign_id, "arm": "control"},
                              role=Role.ANALYST))["node"]["experiment"]["assignments"]
    assert {e["node"]["arm"] for e in control["edges"]} <= {"control"}

    body = await api(ASSIGNMENTS, {"id": campaign_id}, role=Role.INVESTOR)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_unknown_campaigns_closed_campaigns_and_naive_times_are_refused(api, database):
    unknown = to_global_id("Campaign", 999)
    data = await api.data(START, {"input": {"campaignId": unknown}})
    assert data["startExperiment"]["userErrors"][0]["code"] == "NOT_FOUND"
    data = await api.data(GRANT, {"input": {"campaignId": unknown}})
    assert data["grantCampaignRewards"]["userErrors"][0]["code"] == "NOT_FOUND"

    campaign_id, _ = await _configured(api, database)
    data = await api.data(GRANT, {"input": {"campaignId": campaign_id,
                                            "asOf": "2026-03-05T00:00:00"}})
    assert [(e["field"], e["code"]) for e in data["grantCampaignRewards"]["userErrors"]] == [
        ("asOf", "INVALID_VALUE")]
    await _status(api, campaign_id, "CANCELLED")
    data = await api.data(START, {"input": {"campaignId": campaign_id}})
    assert data["startExperiment"]["userErrors"][0]["code"] == "CAMPAIGN_CLOSED"
