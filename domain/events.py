"""Typed behaviour events and their idempotent ingestion.

An event's external id is its identity: recording the same external id twice
stores it once, so a client (or an import) can retry a batch safely.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import numpy as np

from domain import errors
from domain.members import Channel, IdentityKey

MAX_BATCH = 1000  # events per recordEvents call
MAX_FUTURE_SKEW = timedelta(minutes=5)  # clocks drift; events from tomorrow are bugs
MAX_AMOUNT_MINOR = 10**11
MAX_EXTERNAL_ID = 128  # characters
RESOLVE_IDS = 20_000  # distinct member ids per lookup: well below bind-parameter limits
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


class EventType(StrEnum):
    LOGIN = "login"
    POST = "post"
    COMMENT = "comment"
    LIKE = "like"
    SHARE = "share"
    CHECK_IN = "check_in"
    PURCHASE = "purchase"
    REFERRAL_INVITE = "referral_invite"
    REFERRAL_JOIN = "referral_join"
    LIVE_JOIN = "live_join"
    COURSE_COMPLETE = "course_complete"
    MEETUP_ATTEND = "meetup_attend"
    COUPON_REDEEM = "coupon_redeem"


# Plain dict lookups: Enum(value) is slow on the hot path of an import.
_EVENT_TYPES = {t.value: t for t in EventType}
_CHANNELS = {c.value: c for c in Channel}

# Content members create themselves (UGC), as opposed to reactions to it.
CONTENT_TYPES = frozenset({EventType.POST, EventType.COMMENT})


class EventError(errors.DomainError):
    """Base of event failures."""


class InvalidEvent(EventError, errors.InvalidValue):
    """An event field is missing, malformed or out of range."""


class UnknownMember(EventError, errors.NotFound):
    """The event names a member id or channel identity that tierwise does not know."""

    code = "UNKNOWN_MEMBER"


class BatchTooLarge(EventError):
    """More events in one call than MAX_BATCH."""

    code = "BATCH_TOO_LARGE"


class EventBatchRejected(EventError):
    """Some events of an all-or-nothing batch are invalid; none was written."""

    code = "BATCH_REJECTED"

    def __init__(self, rejects: list[tuple[int, EventError]]) -> None:
        super().__init__(f"{len(rejects)} event(s) rejected; nothing was recorded")
        self.rejects = rejects


@dataclass(frozen=True, slots=True)
class EventInput:
    """An event as a client or a file states it, before it is checked."""

    external_id: str
    type: str
    occurred_at: datetime
    member_id: int | None = None
    identity: IdentityKey | None = None
    amount_minor: int | None = None
    channel: str | None = None
    properties: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """A checked event bound to the member it was recorded for."""

    external_id: str
    member_id: int
    type: EventType
    occurred_at: datetime
    amount_minor: int | None
    channel: Channel | None
    properties: dict[str, Any] | None
    # The member named when it was recorded (before following merges); an undone merge
    # gives the event back to it. None means member_id.
    origin_member_id: int | None = None


@dataclass(frozen=True, slots=True)
class RecordResult:
    accepted: int  # newly stored
    duplicates: int  # external ids seen before (or twice in this batch): not stored again

    @property
    def received(self) -> int:
        return self.accepted + self.duplicates


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


@dataclass(slots=True)
class EventColumns:
    """Checked events column by column: what an import holds per chunk instead of an
    object per row (index `i` of every list is one event).

    `key` is the row's key in its batch (an index, a file line). Before `bind_columns`,
    `member_id` and `identity` are as given (one of them None); after it `member_id` is
    the member the event is stored for, `origin_member_id` the member it named (see
    Event), and `identity` is no longer needed.
    """

    key: list[int] = field(default_factory=list)
    external_id: list[str] = field(default_factory=list)
    type: list[EventType] = field(default_factory=list)
    occurred_us: list[int] = field(default_factory=list)  # UTC microseconds since EPOCH
    member_id: list[int | None] = field(default_factory=list)
    identity: list[tuple[str, str] | None] = field(default_factory=list)  # (channel, id)
    amount_minor: list[int | None] = field(default_factory=list)
    channel: list[str | None] = field(default_factory=list)
    properties: list[dict[str, Any] | None] = field(default_factory=list)
    origin_member_id: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.key)

    def append(self, key: int, event: EventInput) -> None:
        """Add one event `check_event` returned."""
        self.key.append(key)
        self.external_id.append(event.external_id)
        self.type.append(event.type)
        self.occurred_us.append(microseconds(event.occurred_at))
        self.member_id.append(event.member_id)
        identity = event.identity
        self.identity.append(None if identity is None
                             else (str(identity.channel), identity.external_id))
        self.amount_minor.append(event.amount_minor)
        self.channel.append(event.channel)
        self.properties.append(event.properties)

    def extend(self, other: EventColumns) -> None:
        for column in _COLUMNS:
            getattr(self, column).extend(getattr(other, column))

    def take(self, indexes: Sequence[int]) -> EventColumns:
        """The events at `indexes`, in that order."""
        out = EventColumns()
        for column in _COLUMNS:
            values = getattr(self, column)
            if values:
                setattr(out, column, [values[i] for i in indexes])
        return out

    @classmethod
    def of_events(cls, events: Sequence[Event]) -> EventColumns:
        """Bound events (from `Event` objects) as columns."""
        out = cls(key=list(range(len(events))))
        for e in events:
            out.external_id.append(e.external_id)
            out.type.append(e.type)
            out.occurred_us.append(microseconds(e.occurred_at))
            out.member_id.append(e.member_id)
            out.origin_member_id.append(e.origin_member_id or e.member_id)
            out.amount_minor.append(e.amount_minor)
            out.channel.append(e.channel)
            out.properties.append(e.properties)
        out.identity = [None] * len(events)
        return out

    def events(self) -> list[Event]:
        """Bound events as `Event` objects (for callers that want rows, not speed)."""
        return [Event(external_id=x, member_id=m, type=t, occurred_at=at(us),
                      amount_minor=a, channel=_CHANNELS[c] if c else None, properties=p,
                      origin_member_id=o)
                for x, m, t, us, a, c, p, o in zip(
                    self.external_id, self.member_id, self.type, self.occurred_us,
                    self.amount_minor, self.channel, self.properties, self.origin_member_id,
                    strict=True)]


_COLUMNS = tuple(f.name for f in fields(EventColumns))


def microseconds(moment: datetime) -> int:
    """An aware datetime as UTC microseconds since EPOCH (how EventColumns hold times)."""
    return (moment - EPOCH) // MICROSECOND


def at(us: int) -> datetime:
    """The aware UTC datetime of `microseconds`' result."""
    return EPOCH + us * MICROSECOND


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


async def bind_columns(*, uow, columns: EventColumns
                       ) -> tuple[EventColumns, list[tuple[int, EventError]]]:
    """Bind checked events to their members, following merges to the survivor.

    Returns the bound events (`member_id` the member to store them for,
    `origin_member_id` the one they named) and (key, UnknownMember) for the others.
    One lookup per RESOLVE_IDS distinct member ids, one for the distinct identities.
    """
    ids = list({m for m in columns.member_id if m is not None})
    by_id: dict[int, int] = {}
    for start in range(0, len(ids), RESOLVE_IDS):
        by_id.update(await uow.members.resolve_active(ids[start:start + RESOLVE_IDS]))
    keys = {d for d in columns.identity if d is not None}
    keys.discard(None)
    by_key = await uow.events.identity_members(keys) if keys else {}
    get_id, get_key = by_id.get, by_key.get
    bound = [get_id(m) if m is not None else get_key(d)
             for m, d in zip(columns.member_id, columns.identity, strict=True)]
    unknown: list[tuple[int, EventError]] = []
    if None in bound:
        missing = [i for i, b in enumerate(bound) if b is None]
        unknown = [(columns.key[i], UnknownMember(
            _missing_member(columns.member_id[i], columns.identity[i]), field="memberId"))
            for i in missing]
        keep = sorted(set(range(len(bound))) - set(missing))
        columns, bound = columns.take(keep), [bound[i] for i in keep]
    columns.origin_member_id = [m if m is not None else b
                                for m, b in zip(columns.member_id, bound, strict=True)]
    columns.member_id = bound
    return columns, unknown


@dataclass(slots=True)
class MemberSlots:
    """Which member each event of a batch names, without a lookup per event: `slot[i]`
    indexes the batch's distinct member ids (`ids`), then its distinct identities
    (`keys`), so binding looks each up once (`resolve_slots`) and a store can bind
    every event from the per-slot answers."""

    ids: list[int]
    keys: list[tuple[str, str]]
    slot: list[int]

    @classmethod
    def of(cls, columns: EventColumns) -> MemberSlots:
        """The slots of checked (not yet bound) events."""
        ids = dict.fromkeys(m for m in columns.member_id if m is not None)
        keys = dict.fromkeys(d for d in columns.identity if d is not None)
        slots = {m: i for i, m in enumerate(ids)}
        slots.update((d, i) for i, d in enumerate(keys, len(ids)))
        at = slots.__getitem__
        return cls(ids=list(ids), keys=list(keys),
                   slot=[at(m if m is not None else d)
                         for m, d in zip(columns.member_id, columns.identity, strict=True)])


async def resolve_slots(*, uow, slots: MemberSlots, known: dict | None = None
                        ) -> list[tuple[int, int] | None]:
    """Per slot: (the member to store its events for, the member they name), following
    merges to the survivor, or None for an unknown member (what `bind_columns` decides
    per event). One lookup per RESOLVE_IDS ids, one for the identities.

    `known` (member id or identity -> answer) carries answers between the batches of
    one transaction: only what it lacks is looked up, and the answers are added to it.
    (The answers of one lookup per chunk, as `bind_columns` gives them.)
    """
    known = {} if known is None else known
    ids = [m for m in slots.ids if m not in known]
    keys = [d for d in slots.keys if d not in known]
    by_id: dict[int, int] = {}
    for start in range(0, len(ids), RESOLVE_IDS):
        by_id.update(await uow.members.resolve_active(ids[start:start + RESOLVE_IDS]))
    by_key = await uow.events.identity_members(keys) if keys else {}
    known.update((m, (by_id[m], m) if m in by_id else None) for m in ids)
    known.update((d, (by_key[d], by_key[d]) if d in by_key else None) for d in keys)
    return [known[m] for m in slots.ids] + [known[d] for d in slots.keys]


def bind_slots(columns: EventColumns, slots: MemberSlots,
               bound: list[tuple[int, int] | None]
               ) -> tuple[EventColumns, list[tuple[int, EventError]]]:
    """`bind_columns`' result from `resolve_slots`' answers: the bound events and
    (key, UnknownMember) for the others."""
    per_event = [bound[s] for s in slots.slot]
    unknown = unknown_members(columns, slots, bound)
    if unknown:
        missing = {i for i, b in enumerate(per_event) if b is None}
        keep = [i for i in range(len(per_event)) if i not in missing]
        columns, per_event = columns.take(keep), [per_event[i] for i in keep]
    bound_columns = EventColumns(
        key=columns.key, external_id=columns.external_id, type=columns.type,
        occurred_us=columns.occurred_us, member_id=[b[0] for b in per_event],
        identity=[None] * len(per_event), amount_minor=columns.amount_minor,
        channel=columns.channel, properties=columns.properties,
        origin_member_id=[b[1] for b in per_event])
    return bound_columns, unknown


def unknown_members(columns: EventColumns, slots: MemberSlots,
                    bound: list[tuple[int, int] | None]) -> list[tuple[int, EventError]]:
    """(key, UnknownMember) of the events whose slot `resolve_slots` found no member for."""
    if None not in bound:
        return []
    return [(columns.key[i], UnknownMember(
        _missing_member(columns.member_id[i], columns.identity[i]), field="memberId"))
        for i, s in enumerate(slots.slot) if bound[s] is None]


def _missing_member(member_id: int | None, identity: tuple[str, str] | None) -> str:
    if member_id is not None:
        return f"member {member_id} does not exist"
    channel, external_id = identity
    return f"no member has {channel} identity {external_id!r}"


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
