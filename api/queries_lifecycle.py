"""Lifecycle counts (an aggregate) and the churn warnings list (member rows)."""

from __future__ import annotations

from datetime import date

import strawberry

from api.relay import Connection, connection, decode_cursor
from api.types.churn import ChurnWarning
from api.types.lifecycle import LifecycleCounts, stage_counts
from domain import lifecycle
from domain.access import Permission
from domain.clock import utcnow
from domain.errors import InvalidValue
from domain.paging import DEFAULT_PAGE_SIZE, PageRequest

_KIND = "churn_warnings"


@strawberry.type
class LifecycleQueries:
    @strawberry.field(description="Members per lifecycle stage: the stored stages of the last "
                                  "refresh, or, with asOf, computed for that day with the "
                                  "default policy (nothing is written). Investors may read it.")
    async def lifecycle_counts(self, info: strawberry.Info,
                               as_of: date | None = None) -> LifecycleCounts:
        context = info.context
        context.require(Permission.READ_COMMUNITY)
        async with context.db.unit_of_work(write=False) as uow:
            if as_of is not None:
                lifecycle.check_as_of(as_of, today=utcnow().date(), last=None)
                counts = await lifecycle.preview_counts(uow=uow, as_of=as_of)
                return LifecycleCounts(as_of=as_of, computed=True, stages=stage_counts(counts),
                                       unclassified=0)
            stored = await uow.lifecycle.stage_counts()
            latest = await uow.lifecycle.latest_as_of()
        return LifecycleCounts(as_of=latest, computed=False, stages=stage_counts(stored),
                               unclassified=stored.get(None, 0))

    @strawberry.field(description="Members with an inactivity warning of at least `level`, "
                                  "as of the last refresh: level desc, then days inactive "
                                  "desc, then newest member first. 100 per page at most.")
    async def churn_warnings(self, info: strawberry.Info, level: int = 1,
                             first: int = DEFAULT_PAGE_SIZE,
                             after: str | None = None) -> Connection[ChurnWarning]:
        context = info.context
        context.require(Permission.READ_MEMBERS)
        if level < 1:
            raise InvalidValue(f"level must be at least 1, got {level}", field="level")
        key = decode_cursor(after, _KIND, (int, int, int)) if after else None
        request = PageRequest(first=first, after=key)
        async with context.db.unit_of_work(write=False) as uow:
            page = await uow.lifecycle.churn_page(min_level=level, request=request)

        async def count() -> int:
            async with context.db.unit_of_work(write=False) as uow:
                return await uow.lifecycle.churn_count(min_level=level)

        return connection([ChurnWarning.from_domain(r) for r in page.items],
                          [(r.level, r.days_inactive, r.member_id) for r in page.items],
                          kind=_KIND, has_next=page.has_next, after=after, count=count)
