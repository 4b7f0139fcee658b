"""Bearer-token authentication in front of the GraphQL endpoint.

Every GraphQL request needs `Authorization: Bearer <token>`; only the GraphiQL
page itself (HTML, no data) is served without one. Verified tokens are cached
for a few seconds per process so a busy client does not pay a query per request;
a revoked token stops working within that time.
"""

from __future__ import annotations

import time

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from domain import access
from domain.access import Principal
from domain.store.database import Database


class TokenAuthenticator:
    def __init__(self, db: Database, *, cache_seconds: float = 30.0,
                 max_entries: int = 10_000) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self.max_entries = max_entries
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def principal(self, connection: HTTPConnection) -> Principal | None:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return await self.verify(token.strip())

    async def verify(self, token: str) -> Principal | None:
        now = time.monotonic()
        cached = self._cache.get(token)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self.db.unit_of_work(write=False) as uow:
            principal = await access.authenticate(uow=uow, token=token)
        if len(self._cache) >= self.max_entries:
            self._cache.clear()
        self._cache[token] = (now + self.cache_seconds, principal)
        return principal


def unauthenticated() -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": "send a valid API token as 'Authorization: Bearer <token>' "
                                "(tierwise create-token --role ROLE)",
                     "extensions": {"code": "UNAUTHENTICATED"}}]},
        status_code=401, headers={"WWW-Authenticate": 'Bearer realm="tierwise"'},
    )
