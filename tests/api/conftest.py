from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from api.app import create_app
from domain import access
from domain.access import Role
from domain.clock import utcnow


@dataclass
class Api:
    """A GraphQL client over ASGI with one token per role."""

    client: httpx.AsyncClient
    tokens: dict[Role, str]

    async def post(self, query: str, variables: dict | None = None, *,
                   role: Role = Role.ADMIN, headers: dict | None = None) -> httpx.Response:
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.tokens[role]}", **(headers or {})},
        )

    async def __call__(self, query: str, variables: dict | None = None, *,
                       role: Role = Role.ADMIN) -> dict:
        response = await self.post(query, variables, role=role)
        assert response.status_code == 200, response.text
        return response.json()

    async def data(self, query: str, variables: dict | None = None, *,
                   role: Role = Role.ADMIN) -> dict:
        body = await self(query, variables, role=role)
        assert "errors" not in body, body["errors"]
        return body["data"]


async def issue_role_tokens(database) -> dict:
    """A fresh bearer token per role."""
    tokens = {}
    for role in Role:
        async with database.unit_of_work() as uow:
            tokens[role], _ = await access.issue_token(uow=uow, role=role, label=str(role),
                                                       now=utcnow())
    return tokens


@pytest.fixture
async def api(database):
    tokens = await issue_role_tokens(database)
    app = create_app(db=database)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://tierwise.test") as client:
        yield Api(client=client, tokens=tokens)
