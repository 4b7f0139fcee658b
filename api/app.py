"""The ASGI application: GraphQL (with GraphiQL) at /graphql, health at /healthz."""

from __future__ import annotations

import contextlib
import logging
import uuid

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL

from api.auth import TokenAuthenticator, unauthenticated
from api.context import Context
from api.loaders import Loaders
from api.schema import schema
from domain.store.database import Database

log = logging.getLogger("tierwise.api")
REQUEST_ID_HEADER = "x-request-id"


class TierwiseGraphQL(GraphQL):
    def __init__(self, db: Database) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=True)
        self.db = db

    async def get_context(self, request, response) -> Context:
        request_id = request.headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex
        if response is not None:
            response.headers[REQUEST_ID_HEADER] = request_id
        return Context(db=self.db, principal=request.state.principal, request_id=request_id,
                       loaders=Loaders(self.db))


class RequireToken:
    """Refuse GraphQL requests without a valid bearer token (401) before any resolver runs.

    The GraphiQL page itself (a GET asking for HTML) carries no data and is served
    without a token; paste the token into its headers pane.
    """

    def __init__(self, app, authenticator: TokenAuthenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            wants_ide = (request.method == "GET" and "query" not in request.query_params
                         and "text/html" in request.headers.get("accept", ""))
            principal = None
            if not wants_ide:
                principal = await self.authenticator.principal(request)
                if principal is None:
                    await unauthenticated()(scope, receive, send)
                    return
            scope.setdefault("state", {})["principal"] = principal
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4401})
            return
        await self.app(scope, receive, send)


def create_app(*, database_url: str | None = None, db: Database | None = None,
               token_cache_seconds: float = 30.0) -> Starlette:
    """Build the app over `db` (or a Database for `database_url`, disposed at shutdown)."""
    if db is None:
        if database_url is None:
            raise ValueError("create_app needs database_url or db")
        db = Database(database_url)
        owns_db = True
    else:
        owns_db = False

    async def healthz(_request: Request) -> JSONResponse:
        try:
            await db.ping()
        except Exception as error:  # any failure to answer means unhealthy
            log.warning("health check: database unreachable: %s", error)
            return JSONResponse({"status": "unavailable", "database": "unreachable"},
                                status_code=503)
        return JSONResponse({"status": "ok", "database": "reachable"})

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        if owns_db:
            await db.dispose()

    graphql = RequireToken(TierwiseGraphQL(db),
                           TokenAuthenticator(db, cache_seconds=token_cache_seconds))
    app = Starlette(
        routes=[Route("/healthz", healthz, methods=["GET"]),
                Route("/graphql", graphql, methods=["GET", "POST"])],
        lifespan=lifespan,
    )
    app.state.db = db
    return app
