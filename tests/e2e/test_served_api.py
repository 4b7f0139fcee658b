"""The real thing: the `tierwise` command, uvicorn, HTTP on loopback, on each backend."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.serving import operator_token, serving, tierwise


@pytest.fixture
def server(database_url):
    """`tierwise serve` on a free port over a seeded database; yields (base url, token)."""
    tierwise(database_url, "seed-demo", "--members", "300", "--days", "30", "--seed", "3")
    token = operator_token(database_url)
    with serving(database_url) as address:
        yield f"http://{address}", token


def test_served_api_pages_the_demo_community_over_http(server):
    base, token = server
    headers = {"Authorization": f"Bearer {token}"}
    query = """query($after: String) { members(first: 100, after: $after) {
        totalCount edges { node { id displayName tier { name } } }
        pageInfo { hasNextPage endCursor } } }"""
    seen, after = 0, None
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        while True:
            body = client.post("/graphql", json={"query": query,
                                                 "variables": {"after": after}}).json()
            page = body["data"]["members"]
            seen += len(page["edges"])
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == page["totalCount"] == 300
        tiers = client.post("/graphql", json={"query": "{ tiers { key memberCount } }"}).json()
        assert sum(t["memberCount"] for t in tiers["data"]["tiers"]) == 300
        assert client.post("/graphql", json={"query": "{ tiers { key } }"},
                           headers={"Authorization": "Bearer nope"}).status_code == 401
