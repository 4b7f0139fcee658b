"""calibrateScenario over GraphQL: a filled scenario with estimates, and each error code."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from domain.access import Role
from domain.clock import utcnow
from domain.store import bulk
from tests.simulation.known_community import generate, truth

README = Path(__file__).resolve().parents[2] / "README.md"
CALIBRATE = """
mutation($input: CalibrateScenarioInput!) {
  calibrateScenario(input: $input) {
    scenario
    estimates { path value standardError sampleSize }
    notes
    userErrors { field code message }
  }
}"""


def _base(**overrides) -> dict:
    return truth(initial={"fromDatabase": True}, **overrides)


async def _seed(database, days: int = 45):
    community, _, _, as_of = generate(truth(horizonDays=days), members=300)
    await bulk.write_community(database, community, reason="simulated")
    return as_of


async def test_calibrate_scenario_fills_the_scenario_with_estimates(api, database):
    as_of = await _seed(database)
    data = await api.data(CALIBRATE, {"input": {"scenario": _base(), "asOf": str(as_of),
                                                "windowDays": 45}}, role=Role.INVESTOR)
    payload = data["calibrateScenario"]
    assert payload["userErrors"] == []
    estimates = {e["path"]: e for e in payload["estimates"]}
    core = estimates["tiers.core.activity"]
    assert core["sampleSize"] > 500 and abs(core["value"] - 0.6) <= 4 * core["standardError"]
    scenario = payload["scenario"]
    assert scenario["tiers"][0]["activity"] == core["value"]
    assert scenario["initial"]["fromDatabase"] is True
    assert scenario["initial"]["asOf"] == str(as_of)
    assert scenario["initial"]["members"] > 300
    assert any("streakGrowth" in note for note in payload["notes"])


async def test_an_empty_community_is_not_enough_data(api):
    data = await api.data(CALIBRATE, {"input": {"scenario": _base(),
                                                "asOf": str(utcnow().date())}})
    assert data["calibrateScenario"]["userErrors"][0]["code"] == "NOT_ENOUGH_DATA"
    assert data["calibrateScenario"]["scenario"] is None


async def test_an_invalid_scenario_lists_its_fields(api):
    bad = _base()
    bad["tiers"][0]["share"] = 0.9
    bad["horizonDays"] = 0
    data = await api.data(CALIBRATE, {"input": {"scenario": bad, "asOf": "2026-01-01"}})
    errors = data["calibrateScenario"]["userErrors"]
    assert {e["code"] for e in errors} == {"INVALID_SCENARIO"}
    assert {e["field"] for e in errors} == {"scenario.horizonDays", "scenario.tiers"}


async def test_members_in_tiers_the_scenario_lacks(api, database):
    as_of = await _seed(database, days=35)
    other = _base()
    other["tiers"][0]["key"] = "vip"
    data = await api.data(CALIBRATE, {"input": {"scenario": other, "asOf": str(as_of),
                                                "windowDays": 35}})
    error = data["calibrateScenario"]["userErrors"][0]
    assert (error["code"], error["field"]) == ("TIERS_DO_NOT_MATCH", "scenario.tiers")


async def test_as_of_in_the_future_and_a_short_window(api):
    tomorrow = utcnow().date() + timedelta(days=1)
    data = await api.data(CALIBRATE, {"input": {"scenario": _base(), "asOf": str(tomorrow)}})
    assert data["calibrateScenario"]["userErrors"][0]["code"] == "AS_OF_IN_FUTURE"
    data = await api.data(CALIBRATE, {"input": {"scenario": _base(), "asOf": "2026-01-01",
                                                "windowDays": 30}})
    error = data["calibrateScenario"]["userErrors"][0]
    assert (error["code"], error["field"]) == ("INVALID_VALUE", "windowDays")


async def test_the_readme_example_parses(api):
    readme = README.read_text(encoding="utf-8")
    section = readme[readme.index("### Calibration"):]
    example = section[section.index("```graphql") + 10:section.index("```\n(`READ")]
    body = await api(example)
    assert "errors" not in body, body
    assert body["data"]["calibrateScenario"]["userErrors"][0]["code"] == "NOT_ENOUGH_DATA"
