"""fundingReport and the KPI mutations over GraphQL: roles, suppression, bad input."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain import demo
from domain.access import Role
from domain.clock import utcnow
from domain.store import bulk

REPORT = """
query($asOf: Date!, $from: Date, $to: Date) {
  fundingReport(asOf: $asOf, from: $from, to: $to) {
    asOf from to membersTotal newMembers dau wau mau stickiness activityRate
    membersByChannel { key members suppressed }
    activityByTier { tier members active rate suppressed }
    payingShare periodConversion repeatPurchaseRate churnRate revenueMinor arpuMinor aovMinor
    cohortRetention { cohortStart size rates suppressed }
    purchaseRetention { cohortStart size rates suppressed }
    ltv { historical historicalAt predictive unavailableReason
          bgnbd { r alpha a b logLikelihood } gammaGamma { p q gamma } }
    cac { channel spendMinor acquired cacMinor suppressed } cacBlendedMinor ltvToCac
    cacPaybackMonths campaigns { name roi } referralKFactor ugcShare powerUserCurve
    months { month members active stickiness complete } cmgrMembers
    anomalies { date metric value mean std }
    targets { name metric goal deadline projected status current }
  }
}"""


@pytest.fixture
async def seeded(database):
    end = utcnow().date() - timedelta(days=2)
    await bulk.write_community(database, demo.generate(members=400, days=90, seed=3, end=end),
                               reason="test")
    return end - timedelta(days=1)


async def test_admin_gets_every_kpi_and_investor_gets_small_groups_suppressed(
        api, seeded, monkeypatch):
    as_of = seeded
    spend = await api.data("""mutation($m: Date!) { recordAcquisitionSpend(input: {
        channel: "wechat", month: $m, amountMinor: 500000}) { spend { channel month amountMinor }
        userErrors { code } } }""", {"m": as_of.isoformat()})
    assert spend["recordAcquisitionSpend"]["spend"]["month"] == as_of.replace(day=1).isoformat()
    installed = await api.data("""mutation($s: Date!) { installDefaultKpiTargets(input: {
        startsOn: $s}) { targets { name metric baseline goal } userErrors { code } } }""",
                               {"s": (as_of - timedelta(days=40)).isoformat()})
    assert {t["metric"] for t in installed["installDefaultKpiTargets"]["targets"]} == {
        "activity_rate:core", "paying_share"}

    report = (await api.data(REPORT, {"asOf": as_of.isoformat()}))["fundingReport"]
    assert report["membersTotal"] > 0 and report["mau"] >= report["wau"] >= report["dau"]
    assert report["from"] == (as_of - timedelta(days=29)).isoformat()
    assert all(c["rates"][0] == 1 for c in report["cohortRetention"])
    assert sum(c["size"] for c in report["cohortRetention"]) <= report["membersTotal"]
    wechat = next(c for c in report["cac"] if c["channel"] == "wechat")
    assert wechat["spendMinor"] == 500000 and wechat["cacMinor"] == 500000 / wechat["acquired"]
    assert {t["status"] for t in report["targets"]} <= {
        "ON_TRACK", "AT_RISK", "OFF_TRACK", "MET", "MISSED", "NO_DATA"}
    assert len(report["targets"]) == 2
    assert report["ltv"]["bgnbd"] is not None or report["ltv"]["unavailableReason"]

    monkeypatch.setenv("TIERWISE_MIN_GROUP_SIZE", "1000")
    hidden = (await api.data(REPORT, {"asOf": as_of.isoformat()},
                             role=Role.INVESTOR))["fundingReport"]
    assert hidden["membersTotal"] == report["membersTotal"]  # totals stay
    assert all(s["suppressed"] and s["members"] is None for s in hidden["membersByChannel"])
    assert all(c["suppressed"] and c["rates"] is None for c in hidden["cohortRetention"])
    assert all(t["suppressed"] for t in hidden["activityByTier"])
    monkeypatch.setenv("TIERWISE_MIN_GROUP_SIZE", "1")
    shown = (await api.data(REPORT, {"asOf": as_of.isoformat()},
                            role=Role.INVESTOR))["fundingReport"]
    assert shown["cohortRetention"] == report["cohortRetention"]


@pytest.mark.parametrize("variables,code", [
    ({"asOf": "2999-01-01"}, "AS_OF_IN_FUTURE"),
    ({"asOf": "2025-03-01", "from": "2025-02-20", "to": "2025-02-10"}, "INVALID_PERIOD"),
    ({"asOf": "2025-03-01", "to": "2025-03-02"}, "INVALID_PERIOD"),
    ({"asOf": "2025-03-01", "from": "2023-01-01", "to": "2025-03-01"}, "INVALID_PERIOD"),
])
async def test_bad_dates_are_coded_errors(api, variables, code):
    body = await api(REPORT, variables)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == code


async def test_unknown_date_is_rejected_by_the_schema(api):
    body = await api(REPORT, {"asOf": "2025-02-30"})
    assert body["errors"] and "2025-02-30" in body["errors"][0]["message"]


async def test_an_empty_community_gives_empty_results_not_errors(api):
    report = (await api.data(REPORT, {"asOf": date(2025, 3, 1).isoformat()}))["fundingReport"]
    assert report["membersTotal"] == 0 and report["activityRate"] is None
    assert report["cohortRetention"] == [] and report["payingShare"] is None
    assert report["ltv"]["predictive"] is None and report["ltv"]["unavailableReason"]


async def test_target_mutations_and_their_errors(api):
    create = """mutation($input: CreateKpiTargetInput!) { createKpiTarget(input: $input) {
        target { id name metric } userErrors { field code } } }"""
    good = {"name": "Stickier", "metric": "stickiness", "baseline": 0.1, "goal": 0.3,
            "startsOn": "2025-01-01", "deadline": "2025-06-01"}
    created = (await api.data(create, {"input": good}))["createKpiTarget"]["target"]
    for bad, field in [({"metric": "nonsense"}, "metric"), ({"metric": "activity_rate:nope"},
                                                           "metric"),
                       ({"deadline": "2024-12-01"}, "deadline"), ({"name": " "}, "name")]:
        errors = (await api.data(create, {"input": {**good, **bad}}))["createKpiTarget"]
        assert errors["target"] is None
        assert errors["userErrors"] == [{"field": field, "code": "INVALID_VALUE"}]
    updated = await api.data("""mutation($id: Int!) { updateKpiTarget(input: {id: $id,
        goal: 0.4}) { target { id } userErrors { code } } }""", {"id": created["id"]})
    assert updated["updateKpiTarget"]["target"]["id"] == created["id"]
    listed = await api.data("{ kpiTargets { name goal } }", role=Role.INVESTOR)
    assert listed["kpiTargets"] == [{"name": "Stickier", "goal": 0.4}]
    forbidden = await api.data("""mutation($id: Int!) { deleteKpiTarget(input: {id: $id}) {
        deletedId userErrors { code } } }""", {"id": created["id"]}, role=Role.INVESTOR)
    assert forbidden["deleteKpiTarget"]["userErrors"] == [{"code": "FORBIDDEN"}]
    deleted = await api.data("""mutation($id: Int!) { deleteKpiTarget(input: {id: $id}) {
        deletedId userErrors { code } } }""", {"id": created["id"]})
    assert deleted["deleteKpiTarget"]["deletedId"] == created["id"]
    again = await api.data("""mutation($id: Int!) { deleteKpiTarget(input: {id: $id}) {
        deletedId userErrors { code } } }""", {"id": created["id"]})
    assert again["deleteKpiTarget"]["userErrors"] == [{"code": "NOT_FOUND"}]


async def test_refresh_mutation_and_spend_errors(api):
    refreshed = await api.data("""mutation { refreshKpiRollups(input: {full: true}) {
        refresh { full days members } userErrors { code } } }""")
    assert refreshed["refreshKpiRollups"]["refresh"] == {"full": True, "days": 0, "members": 0}
    for channel, amount in (("carrier-pigeon", 1), ("wechat", -5)):
        out = await api.data("""mutation($c: String!, $a: MinorUnits!) {
            recordAcquisitionSpend(input: {channel: $c, month: "2025-01-15", amountMinor: $a})
            { spend { channel } userErrors { code } } }""", {"c": channel, "a": amount})
        assert out["recordAcquisitionSpend"]["userErrors"] == [{"code": "INVALID_VALUE"}]
    analyst = await api.data("""mutation { refreshKpiRollups(input: {}) {
        refresh { full } userErrors { code } } }""", role=Role.ANALYST)
    assert analyst["refreshKpiRollups"]["userErrors"] == [{"code": "FORBIDDEN"}]
