"""`tierwise serve`: the GraphQL API under uvicorn."""

from __future__ import annotations

import logging
import os

import uvicorn

from scripts import config


def register(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="serve the GraphQL API (GraphiQL at /graphql)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes; the API is stateless, so more scale out")
    parser.set_defaults(handler=run)


def app_factory():
    """uvicorn's factory (each worker process builds its own app and engine)."""
    from api.app import create_app

    settings = config.from_environment()
    return create_app(database_url=settings.database_url,
                      token_cache_seconds=settings.token_cache_seconds)


def run(args) -> int:
    settings = config.from_environment()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ["TIERWISE_DATABASE_URL"] = settings.database_url
    print(f"tierwise: GraphiQL at http://{args.host}:{args.port}/graphql "
          f"(database {settings.database_url})", flush=True)
    uvicorn.run("scripts.serve:app_factory", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=settings.log_level, access_log=False)
    return 0
