"""API tokens and roles.

A token is 32 random bytes shown once; only its SHA-256 is stored, so a
database leak does not leak credentials.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain import errors

TOKEN_PREFIX = "tw_"


class Role(StrEnum):
    ADMIN = "admin"  # everything, tokens included
    OPERATOR = "operator"  # runs the community: members, tiers, campaigns, events
    ANALYST = "analyst"  # reads everything but personal data; changes nothing
    INVESTOR = "investor"  # aggregates only: no member rows, no personal data


class Permission(StrEnum):
    READ_MEMBERS = "read_members"
    READ_PERSONAL_DATA = "read_personal_data"
    READ_COMMUNITY = "read_community"  # tiers, campaigns: no personal data
    WRITE_COMMUNITY = "write_community"
    RECORD_EVENTS = "record_events"
    MANAGE_TOKENS = "manage_tokens"


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.OPERATOR: frozenset({
        Permission.READ_MEMBERS, Permission.READ_PERSONAL_DATA, Permission.READ_COMMUNITY,
        Permission.WRITE_COMMUNITY, Permission.RECORD_EVENTS,
    }),
    Role.ANALYST: frozenset({Permission.READ_MEMBERS, Permission.READ_COMMUNITY}),
    Role.INVESTOR: frozenset({Permission.READ_COMMUNITY}),
}


class AccessError(errors.DomainError):
    """Base of access failures."""


class Forbidden(AccessError):
    """The caller's role does not grant what the request needs."""

    code = "FORBIDDEN"


class InvalidRole(AccessError, errors.InvalidValue):
    """A role name that is not one of admin, operator, analyst, investor."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's id and role."""

    token_id: int
    role: Role
    label: str

    @property
    def actor(self) -> str:
        return f"token:{self.token_id}"

    def can(self, permission: Permission) -> bool:
        return permission in GRANTS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise Forbidden(f"role {self.role} may not {permission.replace('_', ' ')}")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def parse_role(value: str) -> Role:
    try:
        return Role(value.lower())
    except ValueError:
        raise InvalidRole(f"unknown role {value!r}; use one of "
                          f"{', '.join(r.value for r in Role)}", field="role") from None


async def issue_token(*, uow, role: Role, label: str, now: datetime) -> tuple[str, int]:
    """Create a token; returns the clear text (shown once) and its id."""
    token = new_token()
    token_id = await uow.tokens.add(token_hash=hash_token(token), role=role,
                                    label=label.strip() or str(role), now=now)
    await uow.audit.record(actor="cli", action="token.issue", subject=f"token:{token_id}",
                           detail={"role": str(role)})
    await uow.commit()
    return token, token_id


async def revoke_token(*, uow, token_id: int, actor: str, reason: str, now: datetime) -> bool:
    """Revoke a token (it stops authenticating at once, bar the API's token cache);
    False when it was already revoked or does not exist."""
    revoked = await uow.tokens.revoke(token_id, now=now)
    if revoked:
        await uow.audit.record(actor=actor, action="token.revoke", subject=f"token:{token_id}",
                               detail={"reason": reason})
    await uow.commit()
    return revoked


async def authenticate(*, uow, token: str) -> Principal | None:
    """The principal of a live token, or None for an unknown or revoked one."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    return await uow.tokens.find_live(hash_token(token))
