"""Typed behaviour events and their idempotent ingestion.

An event's external id is its identity: recording the same external id twice
stores it once, so a client (or an import) can retry a batch safely.
The parts: `values` (limits, types, the event records), `errors`, `columns` (events
column by column), `checks` (an event's own fields), `binding` (events to their members)
and `recording` (storing a batch).
"""

from domain.events.binding import (
    MemberSlots,
    bind_columns,
    bind_slots,
    resolve_slots,
    unknown_members,
)
from domain.events.checks import (
    check_columns,
    check_event,
    check_events,
)
from domain.events.columns import EventColumns
from domain.events.errors import (
    BatchTooLarge,
    EventBatchRejected,
    EventError,
    InvalidEvent,
    UnknownMember,
)
from domain.events.recording import (
    prepare,
    record_events,
    store,
)
from domain.events.values import (
    CONTENT_TYPES,
    EPOCH,
    MAX_AMOUNT_MINOR,
    MAX_BATCH,
    MAX_EXTERNAL_ID,
    MAX_FUTURE_SKEW,
    MICROSECOND,
    RESOLVE_IDS,
    Event,
    EventInput,
    EventType,
    RecordResult,
    at,
    microseconds,
)

__all__ = [
    "BatchTooLarge",
    "CONTENT_TYPES",
    "EPOCH",
    "Event",
    "EventBatchRejected",
    "EventColumns",
    "EventError",
    "EventInput",
    "EventType",
    "InvalidEvent",
    "MAX_AMOUNT_MINOR",
    "MAX_BATCH",
    "MAX_EXTERNAL_ID",
    "MAX_FUTURE_SKEW",
    "MICROSECOND",
    "MemberSlots",
    "RESOLVE_IDS",
    "RecordResult",
    "UnknownMember",
    "at",
    "bind_columns",
    "bind_slots",
    "check_columns",
    "check_event",
    "check_events",
    "microseconds",
    "prepare",
    "record_events",
    "resolve_slots",
    "store",
    "unknown_members",
]
