"""scoreChurnRisk, churnModel and atRiskMembers over GraphQL."""

from __future__ import annotations

from domain.access import Role
from tests.store.test_churn_scores_store import AS_OF, _community

SCORE = """
mutation Score($input: ScoreChurnRiskInput!) {
  scoreChurnRisk(input: $input) {
    model { asOf horizonDays members bgnbd { r alpha a b logLikelihood converged }
            gammaGamma { p q gamma members } }
    userErrors { field code message }
  }
}"""

AT_RISK = """
query AtRisk($after: String) {
  atRiskMembers(first: 10, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { pAlive expectedTransactions expectedValueLostMinor member { id } } }
  }
}"""

MODEL = "{ churnModel { asOf members bgnbd { r } } }"


async def test_scoring_then_paging_the_at_risk_buyers(api, database):
    steady, lapsed, _ = await _community(database)
    assert (await api.data(MODEL))["churnModel"] is None
    payload = (await api.data(SCORE, {"input": {"asOf": AS_OF.isoformat()}}))["scoreChurnRisk"]
    assert payload["userErrors"] == []
    assert payload["model"]["asOf"] == AS_OF.isoformat()
    assert payload["model"]["members"] == 40 and payload["model"]["bgnbd"]["converged"]
    assert payload["model"]["gammaGamma"]["members"] == 35

    first = (await api.data(AT_RISK))["atRiskMembers"]
    assert first["totalCount"] == 40 and first["pageInfo"]["hasNextPage"]
    second = (await api.data(AT_RISK, {"after": first["pageInfo"]["endCursor"]}))["atRiskMembers"]
    nodes = [e["node"] for e in first["edges"] + second["edges"]]
    values = [n["expectedValueLostMinor"] for n in nodes]
    assert values == sorted(values, reverse=True)
    assert len({n["member"]["id"] for n in nodes}) == 20
    assert all(n["pAlive"] < 0.5 for n in nodes[:15])

    # Investors read the model, never the member list.
    assert (await api.data(MODEL, role=Role.INVESTOR))["churnModel"]["members"] == 40
    body = await api(AT_RISK, role=Role.INVESTOR)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_scoring_errors_are_user_errors(api, database):
    async def errors(given, role=Role.ADMIN):
        payload = (await api.data(SCORE, {"input": given}, role=role))["scoreChurnRisk"]
        assert payload["model"] is None
        return [(e["field"], e["code"]) for e in payload["userErrors"]]

    assert await errors({"asOf": AS_OF.isoformat()}) == [("asOf", "MODEL_NOT_FITTABLE")]
    assert await errors({"horizonDays": 0}) == [("horizonDays", "INVALID_VALUE")]
    assert await errors({"asOf": "2999-01-01"}) == [("asOf", "INVALID_VALUE")]
    assert [code for _, code in await errors({}, role=Role.ANALYST)] == ["FORBIDDEN"]
