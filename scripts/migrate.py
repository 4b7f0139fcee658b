"""`tierwise migrate`: bring the database schema to the latest migration."""

from __future__ import annotations

from domain.store import migrate
from scripts import config


def register(subparsers) -> None:
    parser = subparsers.add_parser("migrate", help="apply database migrations")
    parser.add_argument("--revision", default="head", help="target revision (default: head)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    settings = config.from_environment()
    migrate.upgrade(settings.database_url, args.revision)
    print(f"database at revision {args.revision}")
    return 0
