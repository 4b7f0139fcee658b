"""Typed behaviour events and their idempotent ingestion.

An event's external id is its identity: recording the same external id twice
stores it once, so a client (or an import) can retry a batch safely.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from domain import errors
from domain.members import Channel, IdentityKey

MAX_BATCH = 1000  # events per recordEvents call
MAX_FUTURE_SKEW = timedelta(minutes=5)  # clocks drift; events from tomorrow are bugs
MAX_AMOUNT_MINOR = 10**11


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
    if not external_id or len(external_id) > 128:
        raise InvalidEvent("externalId must be 1-128 characters", field="externalId")
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


async def prepare(*, uow, raws: Sequence[EventInput], now: datetime
                  ) -> tuple[list[Event], list[tuple[int, EventError]]]:
    """Check a batch and bind each event to its member.

    Returns the events that can be stored and the (index, error) of those that
    cannot. Events of a merged member are bound to the member it was merged into.
    """
    checked, rejects = check_events(raws, now=now)
    events, unknown = await bind_members(uow=uow, checked=checked)
    rejects.extend(unknown)
    rejects.sort(key=lambda r: r[0])
    return events, rejects


def check_events(raws: Sequence[EventInput], *, now: datetime
                 ) -> tuple[list[tuple[int, EventInput]], list[tuple[int, EventError]]]:
    """`check_event` over a batch: (index, normalised event) of those that pass, and
    (index, error) of those that do not. Needs no database, so a bulk import can check
    its next chunk while the previous one is written."""
    checked: list[tuple[int, EventInput]] = []
    rejects: list[tuple[int, EventError]] = []
    for index, raw in enumerate(raws):
        try:
            checked.append((index, check_event(raw, now=now)))
        except EventError as error:
            rejects.append((index, error))
    return checked, rejects


async def bind_members(*, uow, checked: Sequence[tuple[int, EventInput]]
                       ) -> tuple[list[Event], list[tuple[int, EventError]]]:
    """Bind checked events to their members, following merges to the survivor.

    `checked` pairs a key (an index, a line number) with an event `check_event`
    returned; the result is the bound events and (key, UnknownMember) of the others.
    """
    ids = {e.member_id for _, e in checked if e.member_id is not None}
    keys = {e.identity for _, e in checked if e.identity is not None}
    by_id = await uow.members.resolve_active(ids) if ids else {}
    by_key = await uow.members.identity_owners(tuple(keys)) if keys else {}
    events: list[Event] = []
    unknown: list[tuple[int, EventError]] = []
    for key, raw in checked:
        if raw.member_id is not None:
            member_id = by_id.get(raw.member_id)
        else:
            member_id = by_key.get(raw.identity)
        if member_id is None:
            unknown.append((key, UnknownMember(_missing_member(raw), field="memberId")))
            continue
        events.append(Event(
            external_id=raw.external_id, member_id=member_id, type=raw.type,
            occurred_at=raw.occurred_at, amount_minor=raw.amount_minor,
            channel=_CHANNELS[raw.channel] if raw.channel else None, properties=raw.properties,
            origin_member_id=raw.member_id if raw.member_id is not None else member_id,
        ))
    return events, unknown


def _missing_member(raw: EventInput) -> str:
    if raw.member_id is not None:
        return f"member {raw.member_id} does not exist"
    return f"no member has {raw.identity.channel} identity {raw.identity.external_id!r}"


async def store(*, uow, events: list[Event], now: datetime) -> RecordResult:
    """Insert events whose external id is new; duplicates are counted, not stored."""
    unique = list({e.external_id: e for e in reversed(events)}.values())
    accepted = await uow.events.insert_new(unique, received_at=now) if unique else 0
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
