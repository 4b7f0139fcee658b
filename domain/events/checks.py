"""Checking events' own fields (not their member): one event (`check_event`), a batch
(`check_events`) and the fast filter over columns a bulk import uses (`check_columns`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from domain.events.columns import EventColumns
from domain.events.errors import EventError, InvalidEvent
from domain.events.values import (
    _CHANNELS,
    _EVENT_TYPES,
    MAX_AMOUNT_MINOR,
    MAX_EXTERNAL_ID,
    MAX_FUTURE_SKEW,
    EventInput,
    EventType,
    microseconds,
)


def check_event(raw: EventInput, *, now: datetime) -> EventInput:
    """Check one event's own fields (not its member); return it normalised."""
    external_id = raw.external_id.strip() if raw.external_id else ""
    if not external_id or len(external_id) > MAX_EXTERNAL_ID:
        raise InvalidEvent(f"externalId must be 1-{MAX_EXTERNAL_ID} characters",
                           field="externalId")
    try:
        kind = _EVENT_TYPES[raw.type]
    except (KeyError, TypeError):
        raise InvalidEvent(f"unknown event type {raw.type!r}", field="type") from None
    occurred = raw.occurred_at
    if occurred.tzinfo is None or occurred.utcoffset() is None:
        raise InvalidEvent(f"occurredAt {occurred.isoformat()} has no time zone",
                           field="occurredAt")
    if occurred > now + MAX_FUTURE_SKEW:
        raise InvalidEvent(f"occurredAt {occurred.isoformat()} is in the future",
                           field="occurredAt")
    amount = raw.amount_minor
    if kind is EventType.PURCHASE:
        if amount is None or not 0 <= amount <= MAX_AMOUNT_MINOR:
            raise InvalidEvent(
                f"a purchase needs an amount between 0 and {MAX_AMOUNT_MINOR} minor units, "
                f"got {amount}", field="amountMinor",
            )
    elif amount is not None:
        raise InvalidEvent(f"only purchases carry an amount, not {kind}", field="amountMinor")
    channel = raw.channel
    if channel is not None and channel not in _CHANNELS:
        raise InvalidEvent(f"unknown channel {channel!r}", field="channel")
    if (raw.member_id is None) == (raw.identity is None):
        raise InvalidEvent("give exactly one of memberId and identity", field="memberId")
    if (external_id is raw.external_id and raw.type is kind
            and (raw.properties is None or raw.properties)):
        return raw  # already normal: spare a copy (imports check millions of rows)
    return EventInput(external_id=external_id, type=kind, occurred_at=occurred,
                      member_id=raw.member_id, identity=raw.identity, amount_minor=amount,
                      channel=channel, properties=raw.properties or None)



def check_columns(columns: EventColumns, *, now: datetime) -> list[int]:
    """`check_event`'s rules over columns: the indexes of the events that may break one.

    A fast filter for bulk imports, never the judge: it flags every event `check_event`
    rejects (and may flag more); the caller puts the flagged ones through `check_event`
    for the verdict and its message. The columns must already be normal (external ids
    stripped, types EventType; what the file reader's fast path produces).
    """
    n = len(columns)
    bad: set[int] = set()
    ids = columns.external_id
    if not (min(map(len, ids), default=1) > 0 and max(map(len, ids), default=0)
            <= MAX_EXTERNAL_ID and all(map(str.__eq__, ids, map(str.strip, ids)))):
        bad.update(i for i, x in enumerate(ids)
                   if not 0 < len(x) <= MAX_EXTERNAL_ID or x.strip() != x)
    kinds = columns.type
    if any(k.__class__ is not EventType for k in set(kinds)):
        bad.update(i for i, k in enumerate(kinds) if k.__class__ is not EventType)
    limit = microseconds(now + MAX_FUTURE_SKEW)
    bad.update(np.flatnonzero(np.asarray(columns.occurred_us, dtype=np.int64) > limit).tolist())
    amounts = columns.amount_minor
    purchase = EventType.PURCHASE
    carrying = [i for i, a in enumerate(amounts) if a is not None]
    purchases = [i for i, k in enumerate(kinds) if k is purchase]
    if carrying != purchases or not all(0 <= amounts[i] <= MAX_AMOUNT_MINOR
                                        for i in carrying):
        bad.update(i for i in set(carrying) | set(purchases)
                   if kinds[i] is not purchase or amounts[i] is None
                   or not 0 <= amounts[i] <= MAX_AMOUNT_MINOR)
    channels = columns.channel
    if not set(channels) <= _CHANNEL_OR_NONE:
        bad.update(i for i, c in enumerate(channels) if c not in _CHANNEL_OR_NONE)
    bad.update(i for i, m, d in zip(range(n), columns.member_id, columns.identity, strict=True)
               if (m is None) is (d is None))
    return sorted(bad)


_CHANNEL_OR_NONE = frozenset({*_CHANNELS, None})



def check_events(raws: Sequence[EventInput], *, now: datetime
                 ) -> tuple[EventColumns, list[tuple[int, EventError]]]:
    """`check_event` over a batch: the normalised events that pass (keyed by index), and
    (index, error) of those that do not."""
    checked = EventColumns()
    rejects: list[tuple[int, EventError]] = []
    for index, raw in enumerate(raws):
        try:
            checked.append(index, check_event(raw, now=now))
        except EventError as error:
            rejects.append((index, error))
    return checked, rejects
