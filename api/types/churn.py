"""A churn warning: the member and their risk (member rows: not for investors)."""

from __future__ import annotations

import strawberry

from api.types.lifecycle import ChurnRisk
from api.types.members import Member
from domain import churn


@strawberry.type(description="An inactive member with the warning level and win-back action.")
class ChurnWarning:
    risk: ChurnRisk
    _member_id: strawberry.Private[int]

    @strawberry.field
    async def member(self, info: strawberry.Info) -> Member | None:
        found = await info.context.loaders.member.load(self._member_id)
        return Member.from_domain(found, personal=info.context.personal) if found else None

    @classmethod
    def from_domain(cls, risk: churn.ChurnRisk) -> ChurnWarning:
        return cls(risk=ChurnRisk.from_domain(risk), _member_id=risk.member_id)
