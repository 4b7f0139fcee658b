"""`tierwise create-token --role R`: issue an API token; the token alone is the last line."""

from __future__ import annotations

import asyncio

from domain import access
from domain.clock import utcnow
from domain.errors import DomainError
from domain.store.database import Database
from scripts import config


def register(subparsers) -> None:
    parser = subparsers.add_parser("create-token", help="issue an API bearer token")
    parser.add_argument("--role", required=True,
                        help="admin, operator, analyst or investor")
    parser.add_argument("--label", default="", help="who or what the token is for")
    parser.set_defaults(handler=run)


def run(args) -> int:
    try:
        role = access.parse_role(args.role)
    except DomainError as error:
        print(f"error: {error.message}")
        return 2
    token, token_id = asyncio.run(_issue(config.from_environment().database_url, role,
                                         args.label))
    print(f"token {token_id} with role {role} (shown once; store it safely):")
    print(token)
    return 0


async def _issue(url: str, role: access.Role, label: str) -> tuple[str, int]:
    db = Database(url)
    try:
        async with db.unit_of_work() as uow:
            return await access.issue_token(uow=uow, role=role, label=label, now=utcnow())
    finally:
        await db.dispose()
