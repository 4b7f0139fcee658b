"""Bad input gets a specific code; bugs are masked with a request id; health is reported."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx

from api.app import create_app
from api.relay import to_global_id
from domain.access import Role
from domain.store.database import Database
from scripts.export_schema import SCHEMA_FILE, sdl
from tests.factories import make_member


async def test_malformed_and_wrong_type_ids_are_invalid_id(api, database):
    for bad in ("%%%", "bm90aGluZw", to_global_id("Nope", 1)):
        body = await api(f'{{ node(id: "{bad}") {{ id }} }}')
        assert body["errors"][0]["extensions"]["code"] == "INVALID_ID", bad


async def test_unknown_ids_resolve_to_null(api):
    data = await api.data(f'{{ node(id: "{to_global_id("Member", 12345)}") {{ id }} }}')
    assert data == {"node": None}


async def test_out_of_range_pagination_is_invalid_pagination(api):
    for first in (101, -1):
        body = await api(f"{{ members(first: {first}) {{ nodes {{ id }} }} }}")
        assert body["errors"][0]["extensions"] == {"code": "INVALID_PAGINATION",
                                                   "field": "first"}


async def test_a_foreign_cursor_is_invalid_cursor(api, database):
    await make_member(database)
    await make_member(database)
    page = await api.data("{ members(first: 1, orderBy: JOINED_AT_DESC) "
                          "{ pageInfo { endCursor } } }")
    cursor = page["members"]["pageInfo"]["endCursor"]
    for bad in (cursor, "garbage"):  # a descending cursor used ascending, and junk
        body = await api('query($a: String) { members(first: 1, after: $a) { nodes { id } } }',
                         {"a": bad})
        assert body["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"


async def test_validation_errors_stay_visible(api):
    body = await api("{ members(first: 1) { nodes { shoeSize } } }")
    assert "Cannot query field 'shoeSize'" in body["errors"][0]["message"]


async def test_queries_nested_too_deep_are_refused(api):
    inner = "mergedInto { " * 12 + "id" + " }" * 12
    deep = f"{{ members {{ nodes {{ {inner} }} }} }}"
    body = await api(deep)
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]


async def test_unexpected_errors_are_masked_and_logged_with_the_request_id(
        api, database, monkeypatch, caplog):
    await make_member(database)

    async def broken(*_args, **_kwargs):
        raise RuntimeError("secret connection string leaked here")

    monkeypatch.setattr("domain.store.repositories.members.MemberRepository.page", broken)
    with caplog.at_level(logging.ERROR, logger="tierwise.api"):
        response = await api.post("{ members(first: 1) { nodes { id } } }",
                                  headers={"X-Request-ID": "req-42"})
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["message"] == "Unexpected error."
    assert error["extensions"] == {"code": "INTERNAL_ERROR", "requestId": "req-42"}
    assert "secret" not in response.text
    assert "req-42" in caplog.text and "secret connection string" in caplog.text


async def test_healthz_reports_database_reachability(api, tmp_path):
    ok = await api.client.get("/healthz")
    assert ok.json() == {"status": "ok", "database": "reachable"}
    unreachable = Database(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/x.db")
    app = create_app(db=unreachable)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as client:
        response = await client.get("/healthz")
    await unreachable.dispose()
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_schema_graphql_matches_the_code():
    assert Path(SCHEMA_FILE).read_text() == sdl(), (
        "schema.graphql is stale: run `.venv/bin/tierwise export-schema`")


async def test_queries_with_too_many_aliases_are_refused(api):
    aliases = " ".join(f"a{n}: viewer {{ role }}" for n in range(31))
    body = await api(f"{{ {aliases} }}")
    assert "aliases found" in body["errors"][0]["message"]


async def test_malformed_request_bodies_get_400_not_500(api):
    token = api.tokens[Role.ADMIN]
    response = await api.client.post("/graphql", content=b"{not json",
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
    assert response.status_code == 400


async def test_text_with_a_nul_character_is_refused_on_every_backend(api):
    """PostgreSQL cannot store NUL; it used to fail there as an unexpected error."""
    create = """mutation($input: CreateTierInput!) { createTier(input: $input) {
        tier { id } userErrors { field code message } } }"""
    tier = {"key": "gold", "name": "Gold\x00", "rank": 1, "description": "", "benefits": [],
            "touchStrategy": {"channel": "WECHAT", "everyDays": 7, "content": "hi"}}
    payload = (await api.data(create, {"input": tier}))["createTier"]
    assert payload["tier"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [("name", "INVALID_VALUE")]
    nested = {**tier, "name": "Gold", "touchStrategy": {**tier["touchStrategy"],
                                                        "content": "\x00"}}
    payload = (await api.data(create, {"input": nested}))["createTier"]
    assert payload["userErrors"][0]["field"] == "touchStrategy.content"
    assert (await api.data("{ tiers { id } }"))["tiers"] == []  # nothing written

    record = """mutation($input: [RecordEventInput!]!) { recordEvents(input: $input) {
        accepted userErrors { field code } } }"""
    event = {"externalId": "e1", "type": "LOGIN", "occurredAt": "2026-01-02T00:00:00Z",
             "identity": {"channel": "WECHAT", "externalId": "wx"},
             "properties": {"note": ["ok", "bad\x00"]}}
    payload = (await api.data(record, {"input": [event]}))["recordEvents"]
    assert payload == {"accepted": 0, "userErrors": [
        {"field": "input.0.properties.note.1", "code": "INVALID_VALUE"}]}

    body = await api('query($s: String) { members(filter: {search: $s}) { nodes { id } } }',
                     {"s": "a\x00"})
    assert body["errors"][0]["extensions"] == {"code": "INVALID_VALUE",
                                               "field": "filter.search"}
