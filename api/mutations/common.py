"""What every mutation shares: one transaction, domain errors as userErrors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any

import strawberry

from api.errors import UserError, user_errors
from domain.access import Permission
from domain.errors import DomainError

COMMON_CODES = ("INVALID_ID", "NOT_FOUND", "INVALID_VALUE", "FORBIDDEN")


def error_codes(name: str, *codes: str) -> type[Enum]:
    members = dict.fromkeys((*COMMON_CODES, *codes))
    return strawberry.enum(Enum(name, {c: c for c in members}),
                           description=f"Why a {name.removesuffix('ErrorCode')} mutation failed.")


async def run(info: strawberry.Info, *, permission: Permission, error_type: type,
              codes: type[Enum], use_case: Callable[[Any], Awaitable[Any]]
              ) -> tuple[Any, list[UserError]]:
    """Run `use_case(uow)` in its own unit of work; map expected failures to userErrors.

    The use case commits; any failure leaves the transaction rolled back, so a
    mutation is all or nothing.
    """
    try:
        info.context.require(permission)
        async with info.context.db.unit_of_work() as uow:
            return await use_case(uow), []
    except DomainError as error:
        return None, user_errors(error, error_type, codes)
