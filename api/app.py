"""The ASGI application: GraphQL (with GraphiQL) at /graphql, health at /healthz."""

from __future__ import annotations

import contextlib
import logging
import uuid

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

from api.auth import TokenAuthenticator, unauthenticated
from api.context import Context
from api.jobs import SimulationJobs
from api.loaders import Loaders
from api.schema import schema
from domain.store.database import Database

log = logging.getLogger("tierwise.api")
REQUEST_ID_HEADER = "x-request-id"


class TierwiseGraphQL(GraphQL):
    """GraphQL over HTTP and, for subscriptions, over websockets (graphql-transport-ws).

    A websocket authenticates in its `connection_init` payload
    (`{"Authorization": "Bearer <token>"}`); without a valid token the server closes it
    with 4403 (Forbidden), and a subscribe before that closes it with 4401."""

    def __init__(self, db: Database, authenticator: TokenAuthenticator,
                 jobs: SimulationJobs) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=True)
        self.db = db
        self.authenticator = authenticator
        self.jobs = jobs

    async def get_context(self, request, response) -> Context:
        request_id = request.headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex
        websocket = request.scope["type"] == "websocket"
        if response is not None and not websocket:
            response.headers[REQUEST_ID_HEADER] = request_id
        principal = None if websocket else request.state.principal
        return Context(db=self.db, principal=principal, request_id=request_id,
                       loaders=Loaders(self.db), jobs=self.jobs)

    async def on_ws_connect(self, context: Context):
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization") or ""
        scheme, _, token = str(header).partition(" ")
        principal = None
        if scheme.lower() == "bearer" and token.strip():
            principal = await self.authenticator.verify(token.strip())
        if principal is None:
            raise ConnectionRejectionError()
        context.principal = principal
        return await super().on_ws_connect(context)


class RequireToken:
    """Refuse GraphQL requests without a valid bearer token (401) before any resolver runs.

    The GraphiQL page itself (a GET asking for HTML) carries no data and is served
    without a token; paste the token into its headers pane. Websockets pass through:
    they authenticate in their connection_init payload (TierwiseGraphQL.on_ws_connect).
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

    jobs = SimulationJobs(db)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        await jobs.start()  # runs a stopped server left queued/running are failed
        try:
            yield
        finally:
            await jobs.close()
            if owns_db:
                await db.dispose()

    authenticator = TokenAuthenticator(db, cache_seconds=token_cache_seconds)
    graphql = RequireToken(TierwiseGraphQL(db, authenticator, jobs), authenticator)
    app = Starlette(
        routes=[Route("/healthz", healthz, methods=["GET"]),
                Route("/graphql", graphql, methods=["GET", "POST"]),
                WebSocketRoute("/graphql", graphql)],
        lifespan=lifespan,
    )
    app.state.db = db
    app.state.jobs = jobs
    return app
