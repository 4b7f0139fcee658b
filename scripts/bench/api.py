"""`tierwise bench api`: server CPU per request of a GraphQL members page, as a ratio to a
plain Starlette JSON endpoint serving the same 100 rows, measured in the same run.

Both endpoints are driven in-process through raw ASGI calls (no network, no client
library), so the figures are the server's own CPU: routing, auth, SQL, serialisation.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.app import create_app
from api.relay import to_global_id
from domain import access, members, tiers
from domain.store import migrate
from domain.store.database import Database
from domain.store.reads import member_rows_with_tier_names

PAGE = "{ members(first: 100) { edges { node { id displayName tier { name } } } } }"
NESTED = ("{ members(first: 100) { edges { node { id displayName tier { name } "
          "identities { channel externalId } } } } }")


def add_arguments(parser) -> None:
    parser.add_argument("--requests", type=int, default=300, help="requests per endpoint")
    parser.add_argument("--members", type=int, default=500)


def run(args) -> int:
    return asyncio.run(_run(args.requests, args.members))


async def _run(requests: int, member_count: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await migrate.upgrade_async(url)
        db = Database(url)
        try:
            token = await _seed(db, member_count)
            graphql_app = create_app(db=db)
            plain_app = _plain_app(db)
            headers = [(b"authorization", f"Bearer {token}".encode()),
                       (b"content-type", b"application/json")]
            graphql = _asgi_call(graphql_app, "POST", "/graphql", headers,
                                 json.dumps({"query": PAGE}).encode())
            nested = _asgi_call(graphql_app, "POST", "/graphql", headers,
                                json.dumps({"query": NESTED}).encode())
            plain = _asgi_call(plain_app, "GET", "/members", [], b"")
            _check(await graphql(), await plain())
            with db.statement_counter() as statements:
                await graphql()
            with db.statement_counter() as nested_statements:
                await nested()
            results = await _measure({"plain": plain, "graphql": graphql, "nested": nested},
                                     requests)
        finally:
            await db.dispose()
    _report(results, statements[0], nested_statements[0], requests)
    ratio = results["graphql"] / results["plain"]
    return 0 if ratio <= 10 and statements[0] <= 3 else 1


async def _seed(db: Database, count: int) -> str:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with db.unit_of_work() as uow:
        token, _ = await access.issue_token(uow=uow, role=access.Role.ADMIN, label="bench",
                                            now=start)
    tier_ids = []
    for rank, key in enumerate(("core", "potential", "basic"), start=1):
        spec = tiers.TierSpec(key=key, name=key.title(), rank=rank, description="",
                              benefits=(), touch=tiers.TouchStrategy(
                                  channel=members.Channel.WECHAT, every_days=7, content=""))
        async with db.unit_of_work() as uow:
            tier_ids.append((await tiers.create_tier(uow=uow, spec=spec, actor="bench")).id)
    for n in range(count):
        async with db.unit_of_work() as uow:
            member = await members.enroll_member(
                uow=uow, actor="bench", channel=members.Channel.WECHAT,
                profile=members.Profile(display_name=f"会员 {n}"),
                joined_at=start + timedelta(minutes=n),
                identities=(members.IdentityKey(members.Channel.WECHAT, f"wx-{n}"),))
        async with db.unit_of_work() as uow:
            await tiers.assign_tier(uow=uow, member_id=member.id, tier_id=tier_ids[n % 3],
                                    actor="bench", reason="bench", now=start)
    return token


def _plain_app(db: Database) -> Starlette:
    """The baseline: one SQL query, a list of dicts, JSONResponse."""

    async def members_page(_request):
        async with db.unit_of_work(write=False) as uow:
            rows = await member_rows_with_tier_names(uow, limit=100)
        return JSONResponse([{"id": to_global_id("Member", r[0]), "displayName": r[1],
                              "tier": {"name": r[2]} if r[2] else None} for r in rows])

    return Starlette(routes=[Route("/members", members_page)])


def _asgi_call(app, method: str, path: str, headers: list, body: bytes):
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}

    async def call() -> bytes:
        sent = False
        chunks: list[bytes] = []

        async def receive():
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(dict(scope, state={}), receive, send)
        return b"".join(chunks)

    return call


def _check(graphql_body: bytes, plain_body: bytes) -> None:
    nodes = [e["node"] for e in json.loads(graphql_body)["data"]["members"]["edges"]]
    if nodes != json.loads(plain_body):
        raise SystemExit("the two endpoints disagree; the comparison would be meaningless")


async def _measure(calls: dict, requests: int, rounds: int = 7) -> dict[str, float]:
    """Median CPU seconds per request of each endpoint, after a warm-up.

    Rounds alternate between the endpoints, so a change in the machine's load during
    the run hits all of them alike instead of skewing the ratio.
    """
    for call in calls.values():
        for _ in range(20):
            await call()
    per_round = max(1, requests // rounds)
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.process_time()
            for _ in range(per_round):
                await call()
            samples[name].append((time.process_time() - start) / per_round)
    return {name: statistics.median(values) for name, values in samples.items()}


def _report(results: dict[str, float], statements: int, nested_statements: int,
            requests: int) -> None:
    plain = results["plain"]
    print(f"bench api: {requests} requests per endpoint, 100 rows per page, SQLite, in-process")
    print(f"  plain Starlette JSON endpoint   {plain * 1e3:7.2f} ms CPU/request   1.00x")
    print(f"  GraphQL members + tier          {results['graphql'] * 1e3:7.2f} ms CPU/request "
          f"{results['graphql'] / plain:6.2f}x   {statements} SQL statements (target <= 10x, <= 3)")
    print(f"  GraphQL + tier + identities     {results['nested'] * 1e3:7.2f} ms CPU/request "
          f"{results['nested'] / plain:6.2f}x   {nested_statements} SQL statements")
