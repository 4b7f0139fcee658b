"""Recording events: check and bind a batch (`prepare`), store the new ones counting
duplicates (`store`), and the all-or-nothing `record_events` the API uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.events.binding import bind_columns
from domain.events.checks import check_events
from domain.events.columns import EventColumns
from domain.events.errors import BatchTooLarge, EventBatchRejected, EventError
from domain.events.values import MAX_BATCH, EventInput, RecordResult


async def prepare(*, uow, raws: Sequence[EventInput], now: datetime
                  ) -> tuple[EventColumns, list[tuple[int, EventError]]]:
    """Check a batch and bind each event to its member.

    Returns the events that can be stored and the (index, error) of those that
    cannot. Events of a merged member are bound to the member it was merged into.
    """
    checked, rejects = check_events(raws, now=now)
    bound, unknown = await bind_columns(uow=uow, columns=checked)
    rejects.extend(unknown)
    rejects.sort(key=lambda r: r[0])
    return bound, rejects


async def store(*, uow, events: EventColumns, now: datetime, roll_up: bool = True
                ) -> RecordResult:
    """Insert bound events whose external id is new; duplicates (stored before, or
    earlier in `events`) are counted, not stored. With `roll_up=False` the caller adds
    them to the member-day rollup itself (see EventRepository.roll_up_since)."""
    ids = events.external_id
    unique = events
    if len(set(ids)) != len(ids):
        first: dict[str, int] = {}
        for index, external_id in enumerate(ids):
            first.setdefault(external_id, index)
        unique = events.take(sorted(first.values()))
    if not len(unique):
        accepted = 0
    elif roll_up:
        accepted = await uow.events.insert_new(unique, received_at=now)
    else:
        accepted = await uow.events.insert_new(unique, received_at=now, roll_up=False)
    return RecordResult(accepted=accepted, duplicates=len(events) - accepted)


async def record_events(*, uow, raws: Sequence[EventInput], now: datetime) -> RecordResult:
    """Record a batch all-or-nothing: one invalid event rejects the batch."""
    if len(raws) > MAX_BATCH:
        raise BatchTooLarge(f"{len(raws)} events in one batch; the limit is {MAX_BATCH}",
                            field="input")
    events, rejects = await prepare(uow=uow, raws=raws, now=now)
    if rejects:
        raise EventBatchRejected(rejects)
    result = await store(uow=uow, events=events, now=now)
    await uow.commit()
    return result
